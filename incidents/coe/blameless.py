"""Blameless-language check for COE reports: flags wording that blames people instead of
describing the system conditions that allowed the mistake.

The rules are data (`blameless_rules.yaml`); this module only loads and applies them. Pure
functions on strings: it never touches the database or imports Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import yaml

RULES_PATH = Path(__file__).with_name("blameless_rules.yaml")
PERSON_PLACEHOLDER = "{person}"
PATTERN_FLAGS = re.IGNORECASE | re.MULTILINE
MIN_NAME_LENGTH = 3  # shorter names ("Al", "Jo") match too many ordinary words

_RULE_FIELDS = ("id", "pattern", "message", "suggestion")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

_PRONOUNS = r"\b(?:he|she|him|her)\b"
_ROLE_ADJECTIVES = r"(?:junior|senior|new|same|responsible|primary|secondary|on[-\s]?call|lead)"
_ROLE_NOUNS = (
    r"(?:engineer|developer|dev|operator|on[-\s]?call|intern|reviewer|approver|author|deployer"
    r"|sre|sysadmin|admin(?:istrator)?|dba|new\s+hire|team\s+member|employee|contractor|person)s?"
)
_ROLE = rf"\b(?:the|an?|one|our|this|that)\s+(?:{_ROLE_ADJECTIVES}\s+){{0,2}}{_ROLE_NOUNS}\b"
_SOMEONE = r"\bsome(?:one|body)\b"

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_MASK = "\x00"  # neither a word character nor whitespace, so no rule can match across it

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")
_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:e\.g|i\.e|etc|vs|cf|approx|mr|mrs|ms|dr)$", re.I)
_BLOCK_START = re.compile(r"[ \t]*(?:#{1,6}\s|>|[-*+]\s|\d+[.)]\s|\|)")
_LINE_MARKER = re.compile(r"(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)+")


@dataclass(frozen=True)
class Rule:
    id: str
    pattern: str
    message: str
    suggestion: str


@dataclass(frozen=True)
class Finding:
    section: str
    rule: str
    excerpt: str
    start: int
    end: int
    message: str
    suggestion: str
    sentence: str

    @property
    def key(self) -> str:
        """Stable identity used to acknowledge a finding across edits."""
        return f"{self.section}:{self.rule}:{self.excerpt.lower()}"


def load_rules(path: Path | None = None) -> list[Rule]:
    """The rules in `path` (default: the yaml next to this module), validated."""
    if path is None:
        return list(_default_rules())
    return list(_read_rules(path))


@lru_cache(maxsize=1)
def _default_rules() -> tuple[Rule, ...]:
    return _read_rules(RULES_PATH)


def _read_rules(path: Path) -> tuple[Rule, ...]:
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of rules")
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    for index, entry in enumerate(entries):
        rule = _rule_from_entry(entry, index)
        if rule.id in seen_ids:
            raise ValueError(f"blameless rule {rule.id!r}: duplicate id")
        seen_ids.add(rule.id)
        _compile(rule, _person_pattern(()))
        rules.append(rule)
    return tuple(rules)


def _rule_from_entry(entry: object, index: int) -> Rule:
    if not isinstance(entry, dict):
        raise ValueError(f"blameless rule #{index}: expected a mapping")
    rule_id = entry.get("id")
    name = repr(rule_id) if isinstance(rule_id, str) and rule_id else f"#{index}"
    unknown = sorted(str(key) for key in entry if key not in _RULE_FIELDS)
    if unknown:
        raise ValueError(f"blameless rule {name}: unknown field(s) {', '.join(unknown)}")
    for field in _RULE_FIELDS:
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"blameless rule {name}: missing or empty field {field!r}")
    if not _SLUG.fullmatch(entry["id"]):
        raise ValueError(f"blameless rule {name}: id must be a lowercase slug")
    return Rule(
        id=entry["id"],
        pattern=entry["pattern"],
        message=entry["message"].strip(),
        suggestion=entry["suggestion"].strip(),
    )


def find_blameful_language(
    sections: Mapping[str, str],
    *,
    people: Iterable[str] = (),
    rules: Sequence[Rule] | None = None,
) -> list[Finding]:
    """Blameful wording in each section's markdown, in section order then by position.

    `people` are the names of the people involved (matched case-sensitively). Code spans and
    fenced code blocks are skipped: quoted logs may say "fault" or "failed to".
    """
    active_rules = load_rules() if rules is None else rules
    person = _person_pattern(_names(people))
    compiled = [(rule, _compile(rule, person)) for rule in active_rules]
    findings: list[Finding] = []
    for section, text in sections.items():
        if not text:
            continue
        searchable = _mask_code(text)
        cuts = _sentence_cuts(text)
        section_findings: list[Finding] = []
        reported_spans: set[tuple[int, int]] = set()
        for rule, pattern in compiled:
            for match in pattern.finditer(searchable):
                start, end = _excerpt_span(match, text)
                if start >= end or (start, end) in reported_spans:
                    continue
                reported_spans.add((start, end))
                section_findings.append(
                    Finding(
                        section=section,
                        rule=rule.id,
                        excerpt=text[start:end],
                        start=start,
                        end=end,
                        message=rule.message,
                        suggestion=rule.suggestion,
                        sentence=_sentence(text, start, end, cuts),
                    )
                )
        section_findings.sort(key=lambda finding: finding.start)  # stable: rule order on ties
        findings.extend(section_findings)
    return findings


def _names(people: Iterable[str]) -> tuple[str, ...]:
    names = {name.strip() for name in people if len(name.strip()) >= MIN_NAME_LENGTH}
    # Longest first, so "Dana Scully" wins over "Dana".
    return tuple(sorted(names, key=lambda name: (-len(name), name)))


def _person_pattern(names: tuple[str, ...]) -> str:
    alternatives = [_PRONOUNS, _ROLE, _SOMEONE]
    alternatives += [rf"(?<!\w)(?-i:{re.escape(name)})(?!\w)" for name in names]
    return "(?:" + "|".join(alternatives) + ")"


def _compile(rule: Rule, person: str) -> re.Pattern[str]:
    try:
        return _compiled_pattern(rule.pattern.replace(PERSON_PLACEHOLDER, person))
    except re.error as exc:
        raise ValueError(f"blameless rule {rule.id!r}: invalid pattern: {exc}") from exc


@lru_cache(maxsize=256)
def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, PATTERN_FLAGS)


def _excerpt_span(match: re.Match[str], text: str) -> tuple[int, int]:
    group = "excerpt" if "excerpt" in match.re.groupindex else 0
    start, end = match.span(group)
    if start < 0:  # the `excerpt` group is in an alternative that did not match
        start, end = match.span()
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _mask_code(text: str) -> str:
    """`text` with fenced code blocks and inline code spans blanked out, offsets kept."""
    chars = list(text)
    offset = 0
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            _blank(chars, offset, offset + len(line))
        elif fence is not None:
            _blank(chars, offset, offset + len(line))
            if opening and _closes(fence, opening.group(1), line[opening.end() :]):
                fence = None
        offset += len(line)
    without_fences = "".join(chars)
    for span in _INLINE_CODE.finditer(without_fences):
        _blank(chars, span.start(), span.end())
    return "".join(chars)


def _closes(fence: str, marker: str, rest_of_line: str) -> bool:
    return marker[0] == fence[0] and len(marker) >= len(fence) and not rest_of_line.strip()


def _blank(chars: list[str], start: int, end: int) -> None:
    for index in range(start, end):
        if chars[index] != "\n":
            chars[index] = _MASK


def _sentence(text: str, start: int, end: int, cuts: Sequence[int]) -> str:
    """The sentence (or list item, heading, table row) around `text[start:end]`."""
    before = max((cut for cut in cuts if cut <= start), default=0)
    after = min((cut for cut in cuts if cut >= end), default=len(text))
    sentence = text[before:after].strip()
    marker = _LINE_MARKER.match(sentence)
    return sentence[marker.end() :] if marker else sentence


def _sentence_cuts(text: str) -> list[int]:
    cuts = [
        ending.end()
        for ending in _SENTENCE_END.finditer(text)
        if not (
            ending.group().startswith(".")
            and _ABBREVIATION.search(text[max(0, ending.start() - 12) : ending.start()])
        )
    ]
    lines = text.split("\n")
    offset = 0
    for previous, following in pairwise(lines):
        offset += len(previous)
        # A single newline inside a paragraph is a soft wrap; anything block-like ends a sentence.
        if (
            not previous.strip()
            or not following.strip()
            or _BLOCK_START.match(previous)
            or _BLOCK_START.match(following)
        ):
            cuts.append(offset)
        offset += 1
    return cuts
