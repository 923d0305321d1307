"""A COE as one Markdown document: every section, the questions with their answers, the 5 Whys,
the action items and the review history, for a wiki, a ticket or an e-mail."""

from __future__ import annotations

from itertools import groupby

from incidents.coe.models import SECTIONS, Coe, QuestionGroup


def _block(text: str) -> str:
    return text.strip() or "_Not written._"


def coe_markdown(coe: Coe) -> str:
    incident = coe.incident
    out = [f"# COE-{coe.pk}: {coe.title}", ""]
    out += [
        f"- **State:** {coe.get_state_display()} (revision {coe.revision})",
        f"- **Incident:** #{incident.pk} {incident.title} ({incident.severity})",
        f"- **Team:** {coe.team.name}",
        f"- **Services:** {', '.join(s.name for s in coe.services.all()) or 'none'}",
        f"- **Authors:** {', '.join(u.get_username() for u in coe.authors.all())}",
        f"- **Started:** {incident.started_at:%Y-%m-%d %H:%M} UTC",
    ]
    if incident.resolved_at:
        out.append(f"- **Resolved:** {incident.resolved_at:%Y-%m-%d %H:%M} UTC")
    out.append("")
    numbers = [
        ("Customers affected", coe.customers_affected),
        ("Impact duration (minutes)", coe.impact_minutes),
        ("Failed requests", coe.failed_requests),
        ("SLO budget consumed (%)", coe.budget_consumed_percent),
    ]
    for field, title, _ in SECTIONS:
        out += [f"## {title}", "", _block(getattr(coe, field)), ""]
        if field == "customer_impact":
            out += ["| Measure | Value |", "|---|---|"]
            out += [f"| {name} | {'-' if value is None else value} |" for name, value in numbers]
            out.append("")
        if field == "metrics" and coe.metrics_snapshot:
            charts = coe.metrics_snapshot.get("charts", [])
            taken = f"{coe.snapshot_taken_at:%Y-%m-%d %H:%M} UTC" if coe.snapshot_taken_at else ""
            out.append(f"Charts frozen at submission ({taken}): " + (
                ", ".join(f"`{c.get('title', '')}`" for c in charts) or "none"
            ))  # fmt: skip
            out.append("")
    out += ["## Incident questions", ""]
    labels = dict(QuestionGroup.choices)
    for group, answers in groupby(coe.answers.all(), key=lambda a: a.group):
        out += [f"### {labels.get(group, group)}", ""]
        for answer in answers:
            out += [f"**{answer.prompt}**", "", _block(answer.answer), ""]
    out += ["## 5 Whys", ""]
    for chain, whys in groupby(coe.whys.all(), key=lambda w: w.chain):
        out += [f"### Chain {chain}", ""]
        for why in whys:
            out.append(f"{why.position}. **Why?** {why.question}  ")
            out.append(f"   **Because:** {why.answer}")
        out.append("")
    out += ["## Action items", ""]
    items = list(coe.action_items.select_related("owner", "team"))
    if items:
        out += ["| Title | Owner | Team | Priority | Kind | Due | Status | Tracker |"]
        out += ["|---|---|---|---|---|---|---|---|"]
        for item in items:
            title = item.title.replace("|", "\\|")
            out.append(
                f"| {title} | {item.owner.get_username()} | {item.team.name} | "
                f"{item.get_priority_display()} | {item.get_kind_display()} | "
                f"{item.due_date:%Y-%m-%d} | {item.get_status_display()} | "
                f"{item.tracker_url or '-'} |"
            )
    else:
        out.append("_None yet._")
    out += ["", "## Review history", ""]
    for review in coe.reviews.select_related("user"):
        who = review.user.get_username() if review.user else "portal"
        note = f": {review.note}" if review.note else ""
        out.append(
            f"- {review.at:%Y-%m-%d %H:%M} UTC, revision {review.coe_revision}: "
            f"{review.get_action_display()} by {who}{note}"
        )
    return "\n".join(out).rstrip() + "\n"
