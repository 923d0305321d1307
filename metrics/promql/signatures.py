"""Argument and result types of PromQL functions and aggregations (checked while parsing)."""

from __future__ import annotations

SCALAR, VECTOR, MATRIX, STRING = "scalar", "vector", "matrix", "string"

# name -> (argument types, number of trailing optional arguments, result type)
FUNCTIONS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "rate": ((MATRIX,), 0, VECTOR),
    "irate": ((MATRIX,), 0, VECTOR),
    "increase": ((MATRIX,), 0, VECTOR),
    "delta": ((MATRIX,), 0, VECTOR),
    "idelta": ((MATRIX,), 0, VECTOR),
    "avg_over_time": ((MATRIX,), 0, VECTOR),
    "min_over_time": ((MATRIX,), 0, VECTOR),
    "max_over_time": ((MATRIX,), 0, VECTOR),
    "sum_over_time": ((MATRIX,), 0, VECTOR),
    "count_over_time": ((MATRIX,), 0, VECTOR),
    "last_over_time": ((MATRIX,), 0, VECTOR),
    "quantile_over_time": ((SCALAR, MATRIX), 0, VECTOR),
    "stddev_over_time": ((MATRIX,), 0, VECTOR),
    "stdvar_over_time": ((MATRIX,), 0, VECTOR),
    "present_over_time": ((MATRIX,), 0, VECTOR),
    "changes": ((MATRIX,), 0, VECTOR),
    "resets": ((MATRIX,), 0, VECTOR),
    "deriv": ((MATRIX,), 0, VECTOR),
    "predict_linear": ((MATRIX, SCALAR), 0, VECTOR),
    "holt_winters": ((MATRIX, SCALAR, SCALAR), 0, VECTOR),
    "absent_over_time": ((MATRIX,), 0, VECTOR),
    "histogram_quantile": ((SCALAR, VECTOR), 0, VECTOR),
    "clamp_min": ((VECTOR, SCALAR), 0, VECTOR),
    "clamp_max": ((VECTOR, SCALAR), 0, VECTOR),
    "clamp": ((VECTOR, SCALAR, SCALAR), 0, VECTOR),
    "abs": ((VECTOR,), 0, VECTOR),
    "ceil": ((VECTOR,), 0, VECTOR),
    "floor": ((VECTOR,), 0, VECTOR),
    "round": ((VECTOR, SCALAR), 1, VECTOR),
    "sqrt": ((VECTOR,), 0, VECTOR),
    "exp": ((VECTOR,), 0, VECTOR),
    "ln": ((VECTOR,), 0, VECTOR),
    "log2": ((VECTOR,), 0, VECTOR),
    "log10": ((VECTOR,), 0, VECTOR),
    "absent": ((VECTOR,), 0, VECTOR),
    "vector": ((SCALAR,), 0, VECTOR),
    "scalar": ((VECTOR,), 0, SCALAR),
    "time": ((), 0, SCALAR),
    # Instant-vector functions of metrics.promql.functions. A -1 count of optional arguments
    # means the last argument may repeat any number of times (Prometheus's Variadic: -1).
    "timestamp": ((VECTOR,), 0, VECTOR),
    "day_of_month": ((VECTOR,), 1, VECTOR),
    "day_of_week": ((VECTOR,), 1, VECTOR),
    "day_of_year": ((VECTOR,), 1, VECTOR),
    "days_in_month": ((VECTOR,), 1, VECTOR),
    "hour": ((VECTOR,), 1, VECTOR),
    "minute": ((VECTOR,), 1, VECTOR),
    "month": ((VECTOR,), 1, VECTOR),
    "year": ((VECTOR,), 1, VECTOR),
    "sgn": ((VECTOR,), 0, VECTOR),
    "sin": ((VECTOR,), 0, VECTOR),
    "cos": ((VECTOR,), 0, VECTOR),
    "tan": ((VECTOR,), 0, VECTOR),
    "asin": ((VECTOR,), 0, VECTOR),
    "acos": ((VECTOR,), 0, VECTOR),
    "atan": ((VECTOR,), 0, VECTOR),
    "sinh": ((VECTOR,), 0, VECTOR),
    "cosh": ((VECTOR,), 0, VECTOR),
    "tanh": ((VECTOR,), 0, VECTOR),
    "asinh": ((VECTOR,), 0, VECTOR),
    "acosh": ((VECTOR,), 0, VECTOR),
    "atanh": ((VECTOR,), 0, VECTOR),
    "deg": ((VECTOR,), 0, VECTOR),
    "rad": ((VECTOR,), 0, VECTOR),
    "pi": ((), 0, SCALAR),
    "label_replace": ((VECTOR, STRING, STRING, STRING, STRING), 0, VECTOR),
    "label_join": ((VECTOR, STRING, STRING, STRING), -1, VECTOR),
    "sort": ((VECTOR,), 0, VECTOR),
    "sort_desc": ((VECTOR,), 0, VECTOR),
    "histogram_count": ((VECTOR,), 0, VECTOR),
    "histogram_sum": ((VECTOR,), 0, VECTOR),
    "histogram_fraction": ((SCALAR, SCALAR, VECTOR), 0, VECTOR),
}

AGGREGATIONS = {"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "group",
                "stddev", "stdvar", "count_values"}  # fmt: skip
PARAMETRIC_AGGREGATIONS = {"topk", "bottomk", "quantile", "count_values"}

COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
SET_OPERATORS = {"and", "or", "unless"}
ARITHMETIC = {"+", "-", "*", "/", "%", "^", "atan2"}
PRECEDENCE = {
    "or": 1, "and": 2, "unless": 2,
    "==": 3, "!=": 3, "<=": 3, "<": 3, ">=": 3, ">": 3,
    "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6,
}  # fmt: skip
