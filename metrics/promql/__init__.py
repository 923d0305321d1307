"""A PromQL subset: lexer, parser, and an evaluator that works on whole step ranges at once.

Everything that reads metrics (the HTTP API, SLOs, alarms, dashboards) goes through
`engine.instant_query` and `engine.range_query`. Semantics follow Prometheus 2.x (closed range
windows, 5-minute lookback, its extrapolation for rate/increase/delta, its histogram_quantile).
"""
