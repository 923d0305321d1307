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
}

AGGREGATIONS = {"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "group",
                "stddev", "stdvar"}  # fmt: skip
PARAMETRIC_AGGREGATIONS = {"topk", "bottomk", "quantile"}

COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
SET_OPERATORS = {"and", "or", "unless"}
ARITHMETIC = {"+", "-", "*", "/", "%", "^", "atan2"}
PRECEDENCE = {
    "or": 1, "and": 2, "unless": 2,
    "==": 3, "!=": 3, "<=": 3, "<": 3, ">=": 3, ">": 3,
    "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6,
}  # fmt: skip
