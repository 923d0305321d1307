"""Blameless findings of a COE: the check of `blameless` run over every piece of its prose, with
the acknowledgements of wording an author decided to keep."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.coe.blameless import Finding, find_blameful_language
from incidents.coe.models import SECTION_FIELDS, SECTION_TITLES, Coe, FindingAcknowledgement
from incidents.coe.permissions import require_edit


def people_names() -> list[str]:
    """Names that identify a person: usernames and first and last names of active users."""
    names: set[str] = set()
    for username, first, last in User.objects.filter(is_active=True).values_list(
        "username", "first_name", "last_name"
    ):
        for name in (username, first, last):
            if len(name) >= 3:
                names.add(name)
                names.add(name.capitalize())
    return sorted(names)


def coe_texts(coe: Coe) -> dict[str, str]:
    """Every piece of prose in the COE, keyed as the editor keys its fields."""
    texts = {field: getattr(coe, field) for field in SECTION_FIELDS}
    for answer in coe.answers.all():
        texts[answer.field_key] = answer.answer
    for why in coe.whys.all():
        texts[f"why-{why.chain}-{why.position}"] = f"{why.question}\n{why.answer}"
    for item in coe.action_items.all():
        texts[f"action-item-{item.pk}"] = item.title
    return texts


def text_label(coe: Coe, key: str) -> str:
    if key in SECTION_TITLES:
        return SECTION_TITLES[key]
    if key.startswith("answer-"):
        answer = next((a for a in coe.answers.all() if a.field_key == key), None)
        return answer.prompt if answer else key
    if key.startswith("why-"):
        _, chain, position = key.split("-")
        return f"5 Whys, chain {chain}, step {position}"
    if key.startswith("action-item-"):
        return "Action item"
    return key


@dataclass(frozen=True)
class CoeFinding:
    finding: Finding
    label: str
    acknowledgement: FindingAcknowledgement | None


def coe_findings(coe: Coe) -> list[CoeFinding]:
    findings = find_blameful_language(coe_texts(coe), people=people_names())
    acks = {ack.key: ack for ack in coe.acknowledgements.all()}
    return [CoeFinding(f, text_label(coe, f.section), acks.get(f.key)) for f in findings]


@transaction.atomic
def finding_acknowledge(*, coe: Coe, user: User, key: str, reason: str) -> None:
    coe = Coe.objects.select_for_update().get(pk=coe.pk)
    require_edit(coe, user)
    if not reason.strip():
        raise ValidationError({"reason": "Say why this wording stays."})
    if key not in {f.finding.key for f in coe_findings(coe)}:
        raise ValidationError({"key": "That finding is no longer in the text."})
    FindingAcknowledgement.objects.update_or_create(
        coe=coe, key=key[:300], defaults={"reason": reason.strip(), "user": user}
    )
