"""Review comments on a COE's sections, with one level of replies."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from incidents.coe.models import Coe, CoeComment


def comment_add(
    *, coe: Coe, user: User, section: str, body: str, parent: CoeComment | None = None
) -> CoeComment:
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write a comment."})
    if parent is not None:
        if parent.coe_id != coe.pk:
            raise ValidationError({"parent": "Reply to a comment on this COE."})
        section = parent.section
    return CoeComment.objects.create(
        coe=coe, section=section[:64], parent=parent, author=user, body=body,
        coe_revision=coe.revision,
    )  # fmt: skip
