"""Sample values as text, as Prometheus's API writes them."""

from __future__ import annotations

import math

import numpy as np


def format_value(value: float) -> str:
    """As Go's strconv.FormatFloat(v, 'f', -1, 64), which Prometheus uses: shortest digits,
    never an exponent."""
    text = repr(value)
    if text.endswith(".0"):
        return text[:-2]
    if "e" in text or "n" in text:  # exponent, nan, inf
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return str(np.format_float_positional(value, trim="-"))
    return text


def format_values(values: list[float]) -> list[str]:
    """format_value for many values: repr in bulk, fixing up only what repr writes otherwise."""
    texts = list(map(repr, values))
    for index, text in enumerate(texts):
        if text.endswith(".0"):
            texts[index] = text[:-2]
        elif "e" in text or "n" in text:
            texts[index] = format_value(values[index])
    return texts
