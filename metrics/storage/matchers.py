"""Label matchers (=, !=, =~, !~) with Prometheus's semantics: regexes are fully anchored, and
a missing label matches as the empty string. Pure functions, no database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

EQUAL, NOT_EQUAL, REGEX, NOT_REGEX = "=", "!=", "=~", "!~"
NAME = "__name__"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, value: str) -> bool:
        if self.op == EQUAL:
            return value == self.value
        if self.op == NOT_EQUAL:
            return value != self.value
        found = _compiled(self.value).fullmatch(value) is not None
        return found if self.op == REGEX else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
