"""Action item reminders with a real Celery worker and beat on Redis: a worker killed with
SIGKILL in the middle of sending, then a new one, and no reminder arrives twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlsplit

import pytest
import redis
from celery import Celery
from django.core.mail import EmailMessage
from django.core.mail.backends import filebased
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from incidents.action_items.models import ActionItem
from incidents.reminders.models import Notification, Reminder
from incidents.reminders.sending import SENDING_TIMEOUT
from tests.incidents.coe_support import written_coe
from tests.support import REPO_ROOT, process_env, require_redis, skip_or_fail

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ITEMS = 300
HEADER = re.compile(rb"^X-COE-Portal-Reminder: (\S+)\r?$", re.MULTILINE)
T = TypeVar("T")

# `celery worker` and `celery beat` on the portal's app and settings, with three changes made
# here because no setting reads them from the environment (settings.py stays as it is):
# - every task goes to this test's queue, also those the tasks enqueue (`send_reminder.delay`)
#   and those beat sends: no other worker on this Redis takes them, and ours takes no other;
# - Redis hands the messages a dead worker had taken to another after 5 s instead of an hour,
#   under keys of this test's own (no other worker restores them);
# - beat runs only the reminder entries of CELERY_BEAT_SCHEDULE, at their own intervals. The
#   pass (every 15 minutes) cannot fire within the test, so a second pass is sent by hand, as
#   a second beat would; the sweep (every minute) fires for real.
LAUNCHER = """
import os, sys
from django.conf import settings
from coe_portal.celery import app
queue = os.environ["TEST_QUEUE"]
app.conf.update(
    task_default_queue=queue,
    broker_transport_options={
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
        "unacked_key": queue + ".unacked", "unacked_index_key": queue + ".unacked_index",
        "unacked_mutex_key": queue + ".unacked_mutex",
    },
    beat_schedule={
        name: entry for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if name.startswith("incidents-reminder-")
    },
)
sys.exit(app.start(sys.argv[1:]))
"""


class HeldFileBackend(filebased.EmailBackend):
    """The file backend, with an SMTP exchange the test can hold up: while TEST_HOLD_DIR holds
    a file `hold`, a message once written (it has left) waits for the server's answer, and a
    file `held-<pid>` says so. The worker is then killed between the two, every time."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = super().send_messages(email_messages)
        folder = Path(os.environ["TEST_HOLD_DIR"])
        deadline = time.monotonic() + 60
        while (folder / "hold").exists() and time.monotonic() < deadline:
            (folder / f"held-{os.getpid()}").touch()
            time.sleep(0.01)
        return int(sent or 0)


def worker_database_url() -> str:
    """The URL of this test's database: the worker must work in it too (PostgreSQL only)."""
    base = os.environ.get("DATABASE_URL", "")
    if connection.vendor != "postgresql" or not base.startswith("postgres"):
        skip_or_fail("A worker shares the test database only on PostgreSQL (set DATABASE_URL)")
    return urlsplit(base)._replace(path="/" + quote(connection.settings_dict["NAME"])).geturl()


@contextmanager
def process_group(
    command: list[str], env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """tests.support.running, in a process group of its own: a worker and its pool processes
    can be killed together, as when their machine goes away."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield process
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def wait_for(
    condition: Callable[[], T], timeout: float, what: Callable[[], object], log: Path
) -> T:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what()}\n{log.read_text()[-4000:]}"
        time.sleep(0.01)
    return value


def other_sessions() -> int:
    """Connections to the test database other than the test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def statuses() -> Counter[str]:
    return Counter(dict(Reminder.objects.values_list("status").annotate(n=Count("id")).order_by()))


def mails_by_reminder(folder: Path) -> Counter[str]:
    """How many e-mails were sent for each reminder (its X-COE-Portal-Reminder header)."""
    found: Counter[str] = Counter()
    for path in folder.glob("*.log"):
        found.update(value.decode() for value in HEADER.findall(path.read_bytes()))
    return found


def key(reminder: Reminder) -> str:
    return f"{reminder.item_id}/{reminder.kind}/{reminder.day}"


def test_a_worker_killed_while_sending_and_restarted_sends_no_reminder_twice(tmp_path, org):
    redis_url = require_redis()
    database_url = worker_database_url()
    today = timezone.now().date()  # the pass's day: settings use UTC
    coe = written_coe(org)
    coe.action_items.all().delete()
    owners = [org.owner, org.teammate, org.outsider, org.reviewer]
    ActionItem.objects.bulk_create(
        ActionItem(
            coe=coe, title=f"Action item {n}", owner=owners[n % len(owners)], team=org.checkout,
            priority="medium", due_date=today + timedelta(days=2 if n % 2 else -1),
        )  # due in two days: a due-soon reminder today; due yesterday: the first overdue one
        for n in range(ITEMS)
    )  # fmt: skip
    owner_of = dict(ActionItem.objects.values_list("pk", "owner_id"))

    queue = f"test-reminders-{uuid.uuid4().hex[:8]}"
    mail_dir, hold_dir = tmp_path / "mail", tmp_path / "hold"
    mail_dir.mkdir()
    hold_dir.mkdir()
    env = process_env(
        tmp_path,
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=redis_url,
        CELERY_RESULT_BACKEND=redis_url,
        EMAIL_BACKEND=f"{__name__}.HeldFileBackend",
        EMAIL_FILE_PATH=str(mail_dir),
        TEST_HOLD_DIR=str(hold_dir),
        TEST_QUEUE=queue,
    )

    def celery(*args: str) -> list[str]:
        return [sys.executable, "-c", LAUNCHER, *args, "--loglevel", "INFO"]

    def worker(name: str) -> list[str]:
        hostname = f"{name}-{queue}@%h"
        return celery("worker", "--concurrency", "2", "--queues", queue, "--hostname", hostname)

    schedule, pidfile = str(tmp_path / "beat-schedule"), str(tmp_path / "beat.pid")
    beat = celery("beat", "--schedule", schedule, "--pidfile", pidfile)
    beat_log, log_1, log_2 = (tmp_path / f"{name}.log" for name in ("beat", "one", "two"))
    client = Celery("test-client", broker=redis_url, backend=redis_url)
    try:
        # Beat runs throughout, as in production: only the worker dies.
        with process_group(beat, env, beat_log), process_group(worker("one"), env, log_1) as one:
            created = client.send_task("incidents.reminders.pass", queue=queue).get(timeout=60)
            assert created == ITEMS

            # Once some reminders are sent, hold both pool processes in the middle of the SMTP
            # exchange (their mail has left, the answer has not come), then kill the worker
            # and its pool at once.
            wait_for(
                lambda: statuses()[Reminder.Status.SENT] >= ITEMS // 10, 60,
                lambda: f"the first reminders were not sent: {statuses()}", log_1,
            )  # fmt: skip
            (hold_dir / "hold").touch()
            wait_for(
                lambda: len(list(hold_dir.glob("held-*"))) == 2, 30,
                lambda: "the pool processes were not held", log_1,
            )  # fmt: skip
            os.killpg(one.pid, signal.SIGKILL)
            one.wait(timeout=10)
            (hold_dir / "hold").unlink()
            # Its sessions end once PostgreSQL has run whatever it had been sent.
            wait_for(lambda: other_sessions() == 0, 30, lambda: "sessions left", log_1)
            at_kill = statuses()
            stuck = set(
                Reminder.objects.filter(status=Reminder.Status.SENDING).values_list("pk", flat=True)
            )
            mails_at_kill = mails_by_reminder(mail_dir)
            assert len(stuck) == 2, at_kill
            assert ITEMS // 10 <= at_kill[Reminder.Status.SENT] < ITEMS // 2, at_kill
            # As if SENDING_TIMEOUT had passed since they were claimed: the sweep can tell now.
            Reminder.objects.filter(pk__in=stuck).update(
                claimed_at=F("claimed_at") - SENDING_TIMEOUT
            )

            with process_group(worker("two"), env, log_2):
                # The pass again the same day, as beat firing twice would.
                again = client.send_task("incidents.reminders.pass", queue=queue).get(timeout=60)
                assert again == 0
                # The rest is sent; the sweep (within a minute of beat's start) fails the two.
                wait_for(
                    lambda: not Reminder.objects.filter(
                        status__in=[Reminder.Status.PENDING, Reminder.Status.SENDING]
                    ).exists(),
                    150, lambda: f"reminders left to send: {statuses()}", log_2,
                )  # fmt: skip
                time.sleep(2)  # time for a duplicate to show up
    finally:
        broker = redis.Redis.from_url(redis_url)
        unacked = broker.hlen(f"{queue}.unacked")
        names = (
            "_kombu.binding.{}",
            "_kombu.binding_permanent.{}",
            "{}.unacked",
            "{}.unacked_index",
        )
        broker.delete(queue, *(name.format(queue) for name in names))
        broker.close()
        client.close()

    reminders = list(Reminder.objects.all())
    # One reminder per item and day, about the item's due date.
    assert len({key(r) for r in reminders}) == len(reminders) == ITEMS
    assert {r.item_id for r in reminders} == set(owner_of)
    for r in reminders:
        assert (r.day, r.kind) == (today, "due_soon" if r.due_date > today else "overdue")

    # Each e-mail sent once. The two the worker was sending when it died are failed, not sent
    # again: their mail had left.
    final = statuses()
    assert final == Counter({Reminder.Status.SENT: ITEMS - 2, Reminder.Status.FAILED: 2})
    assert {r.pk for r in reminders if r.status == Reminder.Status.FAILED} == stuck
    mails = mails_by_reminder(mail_dir)
    assert mails == Counter({key(r): 1 for r in reminders})
    assert all(mails_at_kill[key(r)] == 1 for r in reminders if r.pk in stuck)
    for r in reminders:
        if r.pk in stuck:
            assert "not sent again" in r.last_error, r.last_error
            assert r.sent_at is None
        else:
            assert r.sent_at is not None

    # In-app: one notification per reminder, to the item's owner.
    told = Counter(Notification.objects.values_list("reminder_id", "user_id"))
    assert told == Counter({(r.pk, owner_of[r.item_id]): 1 for r in reminders})

    # Beat fired the sweep (only the sweep fails a reminder); the new worker was handed the
    # dead one's messages again (it answered "done" for the two) and none is left unacked.
    assert "Sending due task incidents-reminder-sweep" in beat_log.read_text()
    assert log_2.read_text().count("succeeded in") > ITEMS // 2
    assert log_2.read_text().count("'done'") >= len(stuck)
    assert unacked == 0
