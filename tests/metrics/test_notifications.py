from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from celery import Celery
from django.core import mail

from metrics.alarms.models import Alarm
from metrics.alarms.services import alarm_evaluate
from metrics.notify.delivery import delivery_send, retry_delay
from metrics.notify.events import StateChange, alertmanager_payload
from metrics.notify.models import Delivery, NotificationChannel
from metrics.storage.writer import SeriesSamples, write_samples
from tests.support import BIN, portal_process, require_redis, running
from tests.support_http import receiving

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture
def alarm(org):
    write_samples(
        [SeriesSamples("queue_depth", {}, [NOW_MS - m * 60_000 for m in (2, 1, 0)], [150.0] * 3)]
    )
    return Alarm.objects.create(
        name="emails-backlog", team=org.checkout, service=org.cart,
        expression="max(queue_depth)", threshold=100,
    )  # fmt: skip


def test_a_state_change_owes_one_delivery_per_channel(
    alarm, org, django_capture_on_commit_callbacks
):
    NotificationChannel.objects.create(
        team=org.checkout, name="ops", kind="webhook", target="http://127.0.0.1:9/x"
    )
    NotificationChannel.objects.create(
        team=org.checkout, name="mail", kind="email", target="oncall@example.com"
    )
    NotificationChannel.objects.create(
        team=org.search, name="other team", kind="webhook", target="http://x"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        alarm_evaluate(alarm=alarm, now=NOW)
    deliveries = Delivery.objects.order_by("channel__name")
    assert [d.channel.name for d in deliveries] == ["mail", "ops"]
    assert deliveries[1].payload["new_state"] == "ALARM"
    assert deliveries[1].subject == (
        "[FIRING] alarm emails-backlog (cart): INSUFFICIENT_DATA → ALARM"
    )
    assert len(callbacks) == 1  # the sending is enqueued only once the transaction commits


def test_a_delivery_is_sent_once_with_its_idempotency_key(alarm, org):
    with receiving() as receiver:
        channel = NotificationChannel.objects.create(
            team=org.checkout, name="ops", kind="webhook", target=receiver.url
        )
        alarm_evaluate(alarm=alarm, now=NOW)
        delivery = Delivery.objects.get()
        assert delivery_send(delivery_id=delivery.pk) == "sent"
        assert delivery_send(delivery_id=delivery.pk) == "done"
    [request] = receiver.requests
    assert (
        request["headers"]["Idempotency-Key"]
        == f"alarm-transition:{alarm.transitions.get().pk}:channel:{channel.pk}"
    )
    assert request["json"]["name"] == "emails-backlog"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_5xx_is_retried_and_a_4xx_is_not(alarm, org):
    with receiving([503, 404]) as receiver:
        NotificationChannel.objects.create(
            team=org.checkout, name="ops", kind="webhook", target=receiver.url
        )
        alarm_evaluate(alarm=alarm, now=NOW)
        delivery = Delivery.objects.get()
        assert delivery_send(delivery_id=delivery.pk) == "retry"
        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_error) == (
            "retrying",
            f"HTTP 503 from {receiver.url}",
        )
        assert delivery_send(delivery_id=delivery.pk) == "done"
        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_status_code, delivery.attempts) == ("failed", 404, 2)


def test_attempts_run_out(alarm, org, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    with receiving([500, 500, 500]) as receiver:
        NotificationChannel.objects.create(
            team=org.checkout, name="ops", kind="webhook", target=receiver.url
        )
        alarm_evaluate(alarm=alarm, now=NOW)
        delivery = Delivery.objects.get()
        assert delivery_send(delivery_id=delivery.pk) == "retry"
        assert delivery_send(delivery_id=delivery.pk) == "done"
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.last_error.endswith("(no attempts left)")


def test_email_channels_send_mail(alarm, org):
    NotificationChannel.objects.create(
        team=org.checkout, name="mail", kind="email", target="a@example.com, b@example.com"
    )
    alarm_evaluate(alarm=alarm, now=NOW)
    assert delivery_send(delivery_id=Delivery.objects.get().pk) == "sent"
    [message] = mail.outbox
    assert message.to == ["a@example.com", "b@example.com"]
    assert message.subject == "[FIRING] alarm emails-backlog (cart): INSUFFICIENT_DATA → ALARM"


def test_backoff_has_full_jitter_under_a_cap(settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 10
    settings.NOTIFY_RETRY_CAP_SECONDS = 60
    delays = [retry_delay(attempts) for attempts in (1, 2, 3, 10) for _ in range(50)]
    assert all(0 <= d <= 60 for d in delays)
    assert max(retry_delay(1) for _ in range(200)) <= 10
    assert max(retry_delay(10) for _ in range(200)) > 10


def test_the_alertmanager_format_is_webhook_version_4():
    change = StateChange(
        key="alarm-transition:1", source="alarm", name="HighErrors", team="checkout",
        service="cart", old_state="OK", new_state="ALARM", reason="2 of 3 above 5",
        at=NOW, url="https://portal.example.com/alarms/1/", severity="critical",
    )  # fmt: skip
    payload = alertmanager_payload(change)
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["externalURL"] == "https://portal.example.com"
    [alert] = payload["alerts"]
    assert alert["labels"] == {
        "alertname": "HighErrors", "source": "alarm", "team": "checkout",
        "severity": "critical", "service": "cart",
    }  # fmt: skip
    assert alert["startsAt"] == "2026-11-23T12:00:00Z"
    assert len(alert["fingerprint"]) == 16


CREATE_DELIVERY = """
from coe_portal.accounts.models import Team
from metrics.notify.models import Delivery, NotificationChannel
channel = NotificationChannel.objects.create(
    team=Team.objects.get(name="platform"), name="ops", kind="webhook", target={url!r}
)
delivery = Delivery.objects.create(
    channel=channel, idempotency_key="test:1:channel:1", subject="test", payload={{"hello": 1}}
)
print(delivery.pk)
"""

DELIVERY_STATE = """
from metrics.notify.models import Delivery
d = Delivery.objects.get(pk={pk})
print(d.status, d.attempts, d.last_status_code)
"""


@pytest.mark.integration
def test_a_real_worker_delivers_exactly_once_despite_failures_and_duplicates(tmp_path):
    redis_url = require_redis()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with (
        receiving([503, 503]) as receiver,
        portal_process(
            tmp_path,
            CELERY_BROKER_URL=redis_url,
            CELERY_RESULT_BACKEND=redis_url,
            NOTIFY_RETRY_BASE_SECONDS="1",
            NOTIFY_RETRY_CAP_SECONDS="2",
        ) as portal,
    ):
        pk = int(portal.shell(CREATE_DELIVERY.format(url=receiver.url)).strip())
        worker = [
            str(BIN / "celery"), "--app", "coe_portal", "worker", "--loglevel", "INFO",
            "--concurrency", "2", "--queues", queue, "--hostname", f"{queue}@%h",
        ]  # fmt: skip
        client = Celery("test-client", broker=redis_url, backend=redis_url)
        with running(worker, portal.env, tmp_path / "worker.log"):
            # The same delivery enqueued twice, as a duplicate message or a second beat would.
            client.send_task("metrics.notify.deliver", args=[pk], queue=queue)
            client.send_task("metrics.notify.deliver", args=[pk], queue=queue)
            deadline = time.monotonic() + 60
            while not portal.shell(DELIVERY_STATE.format(pk=pk)).startswith("delivered"):
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
                time.sleep(0.5)
            time.sleep(3)  # time for any duplicate attempt to show up
        client.close()
        state = portal.shell(DELIVERY_STATE.format(pk=pk)).split()
    assert [r["status"] for r in receiver.requests] == [503, 503, 200]
    assert len(receiver.successes()) == 1
    assert state == ["delivered", "3", "200"]


def test_a_silenced_alarm_changes_state_but_holds_its_notifications(alarm, org, client):
    from datetime import timedelta

    from metrics.notify.silences import silence_create

    NotificationChannel.objects.create(
        team=org.checkout, name="ops", kind="webhook", target="http://x/"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: NOW - timedelta(minutes=1))
        silence_create(
            alarm=alarm, duration=timedelta(hours=1), reason="provider migration", user=org.owner
        )
    alarm_evaluate(alarm=alarm, now=NOW)
    alarm.refresh_from_db()
    assert alarm.state == "ALARM"
    delivery = Delivery.objects.get()
    assert delivery.status == "silenced"
    assert delivery.last_error == "silenced until 2026-11-23 12:59 UTC: provider migration"
    assert delivery_send(delivery_id=delivery.pk) == "done"
    client.force_login(org.teammate)
    html = client.get(f"/alarms/{alarm.pk}/").content.decode()
    assert "Held back by a silence" in html
    assert "provider migration" in html


def test_silences_need_a_reason_and_an_on_call_can_acknowledge(alarm, org, client):
    client.force_login(org.teammate)
    response = client.post(
        f"/alarms/{alarm.pk}/silence", {"duration": "1h", "reason": " "}, follow=True
    )
    assert "Say why it is silenced" in response.content.decode()
    alarm_evaluate(alarm=alarm, now=NOW)
    response = client.post(f"/alarms/{alarm.pk}/acknowledge", follow=True)
    assert "emails-backlog is acknowledged." in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.acknowledged_by == org.teammate


def test_an_alarm_can_choose_its_channels(alarm, org):
    NotificationChannel.objects.create(
        team=org.checkout, name="everyone", kind="webhook", target="http://x/1"
    )
    pager = NotificationChannel.objects.create(
        team=org.checkout, name="pager", kind="webhook", target="http://x/2"
    )
    alarm.notification_channels.set([pager])
    alarm_evaluate(alarm=alarm, now=NOW)
    assert list(Delivery.objects.values_list("channel__name", flat=True)) == ["pager"]


def test_channels_of_another_team_are_never_used(alarm, org):
    theirs = NotificationChannel.objects.create(
        team=org.search, name="their pager", kind="webhook", target="http://x/"
    )
    alarm.notification_channels.set([theirs])
    alarm_evaluate(alarm=alarm, now=NOW)
    assert not Delivery.objects.exists()


def test_an_unusable_url_fails_for_good_instead_of_hanging(alarm, org):
    NotificationChannel.objects.create(
        team=org.checkout, name="typo", kind="webhook", target="http://exa mple.com/"
    )
    alarm_evaluate(alarm=alarm, now=NOW)
    delivery = Delivery.objects.get()
    assert delivery_send(delivery_id=delivery.pk) == "done"
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.last_error.startswith("unusable URL")


def test_the_sweep_finds_deliveries_whose_task_was_lost(alarm, org):
    from datetime import timedelta

    from django.utils import timezone

    from metrics.notify.delivery import stalled_deliveries

    NotificationChannel.objects.create(
        team=org.checkout, name="ops", kind="webhook", target="http://x/"
    )
    alarm_evaluate(alarm=alarm, now=NOW)
    delivery = Delivery.objects.get()
    assert stalled_deliveries() == []
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert stalled_deliveries() == [delivery.pk]
