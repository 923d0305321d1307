"""The action item reminder pass, as beat runs it, in one process, against PostgreSQL: every
unfinished item due by the horizon, in batches, with a constant number of queries per batch.

Setup is not timed: 100 resolved incidents, each with an approved COE (two authors) and 1 000
unfinished action items, owned by 200 users who are members of the demo teams (two leads
each), priorities mixed, due dates spread over -30..+60 days around the pass's moment (today,
10:00 UTC), 2 % snoozed. The items' history is the reminders the rules would have sent on the
days before (`reminder_owed` day by day, recorded as sent), so today's pass owes what it would
owe in production: due-soon, overdue and escalation reminders, several thousand of them. A
quarter of the users have preferences: time zones (some outside working hours at 10:00 UTC),
digest only, away with or without a delegate. Two of the demo teams get reminder settings
(a second-escalation address, other periods), the third keeps the defaults.

Timed: one pass at batch size 1 000 (`pass_100k`), the same pass again at the same moment
(`pass_repeat`, beat firing twice: must create nothing), then, the first pass's reminders
deleted, one at batch size 2 000: if the queries per batch are constant, they are the same at
both sizes. Queries are counted with `CaptureQueriesContext` and split at each batch's item
query. Everything the benchmark created is deleted afterwards.
`python -m benchmarks.reminders [--profile]` runs it alone in a session of its own; `--profile`
adds a pass under cProfile and prints its top functions.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.common import Figure
from benchmarks.session import Session, open_session

PREFIX = "bench-rem"  # users' names and incidents' titles
TEAMS = ("checkout", "platform", "search")  # the demo teams
USERS = 200
COES = 100
ITEMS_PER_COE = 1000
BATCH = 1000
TARGET_S = 30.0
RESULT = "REMINDERS-RESULT "
TABLES = (
    "auth_user",
    "accounts_membership",
    "incidents_actionitem",
    "incidents_coe",
    "incidents_coe_authors",
    "incidents_reminder",
    "incidents_reminderpreference",
    "incidents_notification",
)

SETUP = """
import json, random
from datetime import datetime, timedelta
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from coe_portal.accounts.models import Membership, Team
from incidents.models import (
    ActionItem, Coe, Incident, Reminder, ReminderPreference, TeamReminderSettings,
)
from incidents.reminders.rules import Rules, reminder_owed

moment = datetime.fromisoformat(NOW)
day = moment.date()
rng = random.Random(11)
teams = list(Team.objects.filter(name__in=TEAMS).order_by("name"))
assert len(teams) == len(TEAMS), teams

with transaction.atomic():
    users = User.objects.bulk_create(
        User(
            username=f"{PREFIX}-u{i:03d}", first_name="Bench", last_name=f"User {i}",
            # A few without an address (in-app only), a few who left (inactive).
            email="" if i % 25 == 24 else f"{PREFIX}-u{i:03d}@example.com",
            is_active=i % 50 != 49, password="!",
        )
        for i in range(USERS)
    )
    members = {team.pk: [] for team in teams}
    memberships = []
    for i, user in enumerate(users):
        team = teams[i % len(teams)]
        members[team.pk].append(user)
        role = Membership.Role.LEAD if i < 2 * len(teams) else Membership.Role.MEMBER
        memberships.append(Membership(team=team, user=user, role=role))
    Membership.objects.bulk_create(memberships)

    # checkout: a second-escalation address; platform: other periods; search: the defaults.
    wanted = {
        "checkout": {"second_escalation_email": "eng-director@example.com"},
        "platform": {"due_soon_days": 5, "overdue_every_days": 3, "escalate_after_days": 10},
    }
    settings_created = []
    for team in teams:
        if team.name in wanted and not TeamReminderSettings.objects.filter(team=team).exists():
            settings_created.append(
                TeamReminderSettings.objects.create(team=team, **wanted[team.name]).pk
            )
    rules = {s.team_id: Rules.of(s) for s in TeamReminderSettings.objects.all()}

    zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata",
             "America/Los_Angeles", "Europe/London"]
    prefs = []
    for i, user in enumerate(users):
        if i % 10 == 1:
            prefs.append(ReminderPreference(user=user, time_zone=zones[(i // 10) % len(zones)]))
        elif i % 10 == 3:
            prefs.append(ReminderPreference(user=user, digest_only=True))
        elif i % 10 == 5:
            delegate = users[i + 1] if i % 20 == 5 else None
            prefs.append(ReminderPreference(
                user=user, away_until=day + timedelta(days=7), delegate=delegate
            ))
        elif i % 10 == 7:
            prefs.append(ReminderPreference(user=user, time_zone="UTC", work_start_hour=8))
    ReminderPreference.objects.bulk_create(prefs)

    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"{PREFIX} incident {k}", severity="SEV2", status="resolved",
            team=teams[k % len(teams)], owner=members[teams[k % len(teams)].pk][k % 7],
            started_at=moment - timedelta(days=40 + k % 30),
            resolved_at=moment - timedelta(days=40 + k % 30, hours=-2),
        )
        for k in range(COES)
    )
    coes = Coe.objects.bulk_create(
        Coe(
            incident=incident, title=incident.title, team=incident.team, state="approved",
            summary="Benchmark COE.", created_by=incident.owner,
        )
        for incident in incidents
    )
    authors = []
    for k, coe in enumerate(coes):
        team_members = members[coe.team_id]
        for user in {team_members[k % 7], team_members[(k * 3 + 1) % len(team_members)]}:
            authors.append(Coe.authors.through(coe_id=coe.pk, user_id=user.pk))
    Coe.authors.through.objects.bulk_create(authors)

    verbs = ["Alarm on", "Add a canary for", "Document the runbook of", "Load-test",
             "Cap retries in", "Add a dashboard for", "Pin the configuration of"]
    things = ["the payment client pool", "the search indexer", "the edge cache",
              "session tokens", "the order queue", "database failover"]
    statuses = ["open"] * 6 + ["in_progress"] * 3 + ["blocked"]
    priorities = ["high"] * 2 + ["medium"] * 5 + ["low"] * 3
    kinds = ["prevent", "detect", "mitigate", "process"]
    items = []
    for coe in coes:
        team_members = members[coe.team_id]
        for j in range(ITEMS_PER_COE):
            snoozed = rng.random() < 0.02
            items.append(ActionItem(
                coe=coe, team_id=coe.team_id, owner=rng.choice(team_members),
                title=f"{rng.choice(verbs)} {rng.choice(things)} ({j})",
                priority=rng.choice(priorities), kind=rng.choice(kinds),
                status=rng.choice(statuses),
                due_date=day + timedelta(days=rng.randint(-30, 60)),
                snoozed_until=day + timedelta(days=rng.randint(0, 5)) if snoozed else None,
                snooze_reason="Waiting for the vendor." if snoozed else "",
            ))
    items = ActionItem.objects.bulk_create(items, batch_size=5000)

    # What the rules sent on the days before today, as if the pass had run every day.
    body = "This action item needs attention. " * 8
    history, owed = [], 0
    sent_at = timezone.now()
    for item in items:
        item_rules = rules.get(item.team_id, Rules())
        sent = set()
        start = item.due_date - timedelta(days=item_rules.due_soon_days)
        for offset in range((day - start).days + 1):
            when = start + timedelta(days=offset)
            kind = reminder_owed(
                priority=item.priority, due_date=item.due_date, day=when, rules=item_rules,
                sent=sent, sent_today=False,
            )
            if kind is None:
                continue
            if when == day:
                owed += 1
                continue
            sent.add((kind, item.due_date))
            history.append(Reminder(
                item=item, kind=kind, day=when, due_date=item.due_date,
                recipients=[f"{PREFIX}@example.com"], subject=f"{kind}: {item.title}",
                body=body, status="sent", attempts=1, sent_at=sent_at,
            ))
    Reminder.objects.bulk_create(history, batch_size=5000)

print(RESULT + json.dumps({
    "users": len(users), "incidents": len(incidents), "coes": len(coes),
    "items": len(items), "history": len(history), "owed": owed, "prefs": len(prefs),
    "settings_created": settings_created,
}))
"""

PASSES = """
import json, re, time
from collections import Counter, deque
from datetime import datetime
from django.db import connection
from django.test.utils import CaptureQueriesContext
import incidents.reminders.sending as module
from incidents.models import ActionItem, Notification, Reminder
from incidents.action_items.models import FINISHED_STATUSES

moment = datetime.fromisoformat(NOW)
# CaptureQueriesContext keeps the last 9 000 queries by default: keep them all.
connection.queries_log = deque(maxlen=10_000_000)
per_batch_created = []
original_batch = module._batch


def counting_batch(items, ctx):
    created = original_batch(items, ctx)
    per_batch_created.append(len(created))
    return created


module._batch = counting_batch  # only records how many each batch created


def is_item_query(sql):
    return sql.startswith('SELECT "incidents_actionitem"."id"') and (
        '"incidents_actionitem"."id" >' in sql
    )


TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def shape(sql):
    # The query with its column list and numbers left out: `SELECT … FROM "t" WHERE … = N`.
    sql = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", sql, flags=re.S)
    return re.sub(r"\\b\\d+\\b", "N", sql)


def measured(batch_size):
    per_batch_created.clear()
    with CaptureQueriesContext(connection) as captured:
        began = time.perf_counter()
        result = module.reminder_pass(now=moment, batch_size=batch_size)
        seconds = time.perf_counter() - began
    setup, segments = 0, []
    # Transaction control (one BEGIN and COMMIT a batch) is not counted.
    queries = [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION)
    ]
    for text in queries:
        if is_item_query(text):
            segments.append([])
        if segments:
            segments[-1].append(text)
        else:
            setup += 1
    # The last item query finds nothing and ends the pass.
    assert len(segments) == result.batches + 1, (len(segments), result.batches)
    batches, tail = segments[:-1], segments[-1]
    counts = [len(batch) for batch in batches]
    repeated = Counter()
    for batch in batches:
        for text, count in Counter(shape(q) for q in batch).items():
            if count > 1:
                repeated[text] += count
    top = repeated.most_common(1)
    return {
        "seconds": seconds, "items": result.items, "created": len(result.created),
        "ids": result.created, "batches": result.batches, "queries": len(queries),
        "setup": setup, "tail": len(tail), "per_batch": counts,
        "per_batch_created": list(per_batch_created),
        "repeated": [top[0][0][:100], top[0][1]] if top else None,
    }


def forget(ids):
    Notification.objects.filter(reminder_id__in=ids).delete()
    Reminder.objects.filter(pk__in=ids).delete()


first = measured(BATCH)
repeat = measured(BATCH)
forget(first["ids"])
double = measured(2 * BATCH)
open_items = ActionItem.objects.exclude(status__in=FINISHED_STATUSES).count()
if PROFILE:
    import cProfile, io, pstats
    forget(double["ids"])
    profiler = cProfile.Profile()
    profiler.runcall(lambda: module.reminder_pass(now=moment, batch_size=BATCH))
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
        print(out.getvalue())
for run in (first, repeat, double):
    del run["ids"]
print(RESULT + json.dumps({"first": first, "repeat": repeat, "double": double,
                           "open_items": open_items}))
"""

CLEANUP = """
from django.contrib.auth.models import User
from django.db import transaction
from coe_portal.accounts.models import Membership
from incidents.models import (
    ActionItem, ActionItemEvent, Coe, Incident, Notification, Reminder, ReminderPreference,
    TeamReminderSettings,
)

with transaction.atomic():
    coes = Coe.objects.filter(incident__title__startswith=PREFIX + " incident ")
    items = ActionItem.objects.filter(coe__in=coes)
    users = User.objects.filter(username__startswith=PREFIX + "-u")
    Notification.objects.filter(reminder__item__in=items).delete()
    Notification.objects.filter(user__in=users).delete()
    # No dependents left: plain DELETEs, without loading 100 000 rows.
    Reminder.objects.filter(item__in=items)._raw_delete(Reminder.objects.db)
    ActionItemEvent.objects.filter(item__in=items)._raw_delete(ActionItemEvent.objects.db)
    items._raw_delete(ActionItem.objects.db)
    Coe.authors.through.objects.filter(coe__in=coes).delete()
    incidents = list(Incident.objects.filter(coe__in=coes).values_list("pk", flat=True))
    coes.delete()
    Incident.objects.filter(pk__in=incidents).delete()
    TeamReminderSettings.objects.filter(pk__in=SETTINGS_CREATED).delete()
    ReminderPreference.objects.filter(user__in=users).delete()
    Membership.objects.filter(user__in=users).delete()
    users.delete()
left = (
    Coe.objects.filter(incident__title__startswith=PREFIX + " incident ").count(),
    Incident.objects.filter(title__startswith=PREFIX + " incident ").count(),
    User.objects.filter(username__startswith=PREFIX + "-u").count(),
)
assert left == (0, 0, 0), left
"""


def _script(body: str, **names: object) -> str:
    """The script with its parameters assigned first (as Python literals)."""
    preamble = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    return preamble + body


def _result(output: str) -> Any:
    line = next(line for line in output.splitlines() if line.startswith(RESULT))
    return json.loads(line.removeprefix(RESULT))


def _analyze(database_url: str) -> None:
    """Fresh planner statistics after the load, as autovacuum would have soon after."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def _spread(values: list[int]) -> str:
    if not values:
        return "none"
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}..{high}"


def _fixed(run: dict[str, Any]) -> list[int]:
    """Per batch, its queries less the reminders it created: the part that must not grow."""
    return [q - c for q, c in zip(run["per_batch"], run["per_batch_created"], strict=True)]


def _figures(loaded: dict[str, Any], runs: dict[str, Any]) -> list[Figure]:
    first, repeat, double = runs["first"], runs["repeat"], runs["double"]
    per_batch = first["per_batch"]
    mean = sum(per_batch) / len(per_batch) if per_batch else 0.0
    mean_double = sum(double["per_batch"]) / len(double["per_batch"]) if double["batches"] else 0
    constant = max(per_batch + double["per_batch"]) - min(per_batch + double["per_batch"]) <= 2
    verdict = (
        "constant"
        if constant
        else "NOT constant: less the reminders each batch created, "
        f"{_spread(_fixed(first) + _fixed(double))}"
    )
    repeated = first["repeated"]
    n_plus_one = (
        f"; repeated in a batch: {repeated[1]} x `{repeated[0]}`"
        if repeated
        else "; no query repeated within a batch"
    )
    within = "within" if first["seconds"] <= TARGET_S else "OVER"
    return [
        Figure(
            "reminders.dataset",
            runs["open_items"],
            "open items",
            f"{loaded['coes']} COEs x {ITEMS_PER_COE} items ({loaded['items']} created), "
            f"{loaded['users']} owners in {len(TEAMS)} demo teams, due -30..+60 d, 2 % snoozed; "
            f"{loaded['history']} earlier reminders as history; {loaded['prefs']} preferences "
            f"(time zones, digest only, away); {loaded['owed']} owed today by the rules alone",
        ),
        Figure(
            "reminders.pass_100k",
            round(first["seconds"], 2),
            "s",
            f"batch {BATCH}; {first['items']} items scanned (due by the horizon), "
            f"{first['created']} reminders created, {first['batches']} batches; "
            f"{first['queries']} queries: {first['setup']} setup + per batch {_spread(per_batch)}"
            f" (mean {mean:.1f}) + {first['tail']} to end, BEGIN/COMMIT not counted; "
            f"target <= {TARGET_S:.0f} s ({within})",
        ),
        Figure(
            "reminders.queries_per_batch",
            max(per_batch, default=0),
            "queries",
            f"max per batch; batch {BATCH}: {_spread(per_batch)} (mean {mean:.1f}), batch "
            f"{2 * BATCH}: {_spread(double['per_batch'])} (mean {mean_double:.1f}); "
            f"{verdict}{n_plus_one}",
        ),
        Figure(
            "reminders.pass_batch_2000",
            round(double["seconds"], 2),
            "s",
            f"the same pass at batch {2 * BATCH} (first pass's reminders deleted): "
            f"{double['items']} items, {double['created']} created, {double['batches']} "
            f"batches, {double['queries']} queries",
        ),
        Figure(
            "reminders.pass_repeat",
            round(repeat["seconds"], 2),
            "s",
            f"a second pass at the same moment (beat firing twice): {repeat['created']} "
            f"reminders created (must be 0), {repeat['queries']} queries",
        ),
    ]


def reminder_pass_100k(session: Session, *, profile: bool = False) -> list[Figure]:
    now = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    names: dict[str, object] = {"NOW": now.isoformat(), "RESULT": RESULT, "PREFIX": PREFIX}
    loaded: dict[str, Any] = {"settings_created": []}
    try:
        loaded = _result(
            session.shell(
                _script(
                    SETUP,
                    **names,
                    TEAMS=TEAMS,
                    USERS=USERS,
                    COES=COES,
                    ITEMS_PER_COE=ITEMS_PER_COE,
                ),
                timeout=900,
            )
        )
        _analyze(session.database_url)
        output = session.shell(_script(PASSES, **names, BATCH=BATCH, PROFILE=profile), timeout=900)
    finally:
        session.shell(
            _script(CLEANUP, PREFIX=PREFIX, SETTINGS_CREATED=loaded["settings_created"]),
            timeout=900,
        )
    if profile:
        print(output[: output.find(RESULT)], flush=True)
    runs = _result(output)
    if runs["repeat"]["created"] != 0:
        raise AssertionError(f"the repeated pass created {runs['repeat']['created']} reminders")
    return _figures(loaded, runs)


def main() -> int:
    with open_session() as session:
        for figure in reminder_pass_100k(session, profile="--profile" in sys.argv[1:]):
            print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
