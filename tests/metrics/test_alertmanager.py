from __future__ import annotations

import json
import shutil
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.alarms.models import Alarm, AlarmTransition
from tests.support import free_port, portal_process, running, skip_or_fail, wait_for_http

URL = "/api/v1/alertmanager"


def webhook(
    status: str, *, starts: str = "2026-11-23T12:00:00Z", ends: str = "0001-01-01T00:00:00Z"
):
    alert = {
        "status": status,
        "labels": {"alertname": "HighLatency", "service": "cart", "severity": "page"},
        "annotations": {"summary": "p99 above 1 s"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "c4f3d2a1b0e9f8a7",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "status": status,
        "receiver": "portal",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
        "truncatedAlerts": 0,
    }


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="alertmanager", scopes=["ingest"])


def post(client, token, body):
    return client.post(
        URL, data=json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )  # fmt: skip


def test_a_firing_alert_becomes_an_alarm_and_resolving_clears_it(client, token, org):
    response = post(client, token, webhook("firing"))
    assert response.json() == {
        "status": "success",
        "data": {"alerts": 1, "state_changes": 1, "duplicates": 0},
    }
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.team, alarm.state) == ("external", org.checkout, "ALARM")
    assert alarm.name == "highlatency-c4f3d2a1"
    assert alarm.state_reason == "Alertmanager: HighLatency firing: p99 above 1 s"
    assert alarm.state_changed_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    post(client, token, webhook("resolved", ends="2026-11-23T12:07:00Z"))
    alarm.refresh_from_db()
    assert alarm.state == "OK"
    assert list(AlarmTransition.objects.order_by("at").values_list("new_state", flat=True)) == [
        "ALARM",
        "OK",
    ]


def test_a_repeated_notification_is_a_duplicate(client, token):
    post(client, token, webhook("firing"))
    again = post(client, token, webhook("firing"))
    assert again.json()["data"] == {"alerts": 1, "state_changes": 0, "duplicates": 1}
    assert AlarmTransition.objects.count() == 1


def test_a_new_firing_after_resolution_is_a_new_event(client, token):
    post(client, token, webhook("firing"))
    post(client, token, webhook("resolved", ends="2026-11-23T12:07:00Z"))
    post(client, token, webhook("firing", starts="2026-11-23T13:00:00Z"))
    assert AlarmTransition.objects.count() == 3
    assert Alarm.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"version": "3", "alerts": []}, "unsupported webhook version '3' (expected '4')"),
        (
            {"version": "4", "alerts": [{"status": "pending", "labels": {}}]},
            "alerts[0]: status must be firing or resolved",
        ),
        (
            {"version": "4", "alerts": [{"status": "firing", "labels": {}}]},
            "alerts[0]: labels must include alertname",
        ),
    ],
)
def test_bad_payloads_are_400_with_the_reason(client, token, body, message):
    response = post(client, token, body)
    assert response.status_code == 400
    assert response.json() == {"status": "error", "error": message}
    assert not Alarm.objects.exists()


def test_it_needs_an_ingest_token(client, org):
    response = client.post(URL, data=json.dumps(webhook("firing")), content_type="application/json")
    assert response.status_code == 401


ALARMS = """
import json
from metrics.alarms.models import Alarm
alarms = Alarm.objects.filter(kind="external")
print(json.dumps([[a.name, a.state, a.external_labels.get("alertname")] for a in alarms]))
"""


@pytest.mark.integration
def test_a_real_alertmanager_delivers_firing_and_resolved(tmp_path):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        skip_or_fail("Alertmanager is not installed (apt-get install prometheus-alertmanager)")
    port, cluster_port = free_port(), free_port()
    with portal_process(tmp_path) as portal:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            json.dumps(
                {
                    "route": {
                        "receiver": "portal",
                        "group_wait": "1s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [
                        {
                            "name": "portal",
                            "webhook_configs": [
                                {
                                    "url": f"{portal.base_url}/api/v1/alertmanager",
                                    "send_resolved": True,
                                    "http_config": {"authorization": {"credentials": portal.token}},
                                }
                            ],
                        }
                    ],
                }
            )
        )
        command = [
            binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--cluster.listen-address=127.0.0.1:{cluster_port}",
        ]  # fmt: skip
        log = tmp_path / "alertmanager.log"
        with running(command, portal.env, log):
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/-/ready")
            now = datetime.now(tz=UTC)
            alert = {
                "labels": {"alertname": "DiskFull", "instance": "db-1"},
                "annotations": {"summary": "disk 95 % full"},
                "startsAt": now.isoformat(),
            }
            _post_alerts(base, [alert])
            _wait_for(portal, [["diskfull-", "ALARM", "DiskFull"]], log)
            alert["endsAt"] = (now + timedelta(seconds=1)).isoformat()
            time.sleep(1.5)
            _post_alerts(base, [alert])
            _wait_for(portal, [["diskfull-", "OK", "DiskFull"]], log)


def _post_alerts(base: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        f"{base}/api/v2/alerts", data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _wait_for(portal, expected, log) -> None:
    deadline = time.monotonic() + 60
    while True:
        found = json.loads(portal.shell(ALARMS))
        if (
            len(found) == 1
            and found[0][0].startswith(expected[0][0])
            and found[0][1:] == expected[0][1:]
        ):
            return
        assert time.monotonic() < deadline, (found, log.read_text()[-2000:])
        time.sleep(1)
