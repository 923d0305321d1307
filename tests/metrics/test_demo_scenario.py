"""The demo scenario end to end: the shop's injected failure burns the checkout SLO's budget,
the page alert fires, and the team's webhook hears about it exactly once."""

from __future__ import annotations

import json

import pytest

from tests.support import manage, portal_process
from tests.support_http import receiving

pytestmark = pytest.mark.integration

SETUP = """
from coe_portal.accounts.models import Team
from metrics.notify.models import NotificationChannel
NotificationChannel.objects.create(team=Team.objects.get(name="checkout"), name="on-call",
                                   kind="webhook", target={url!r})
"""

EVALUATE = """
import json
from metrics.slo.models import SLO
from metrics.slo.services import evaluate_all_slos
from metrics.slo.charts import slo_charts
from metrics.notify.models import Delivery
from metrics.notify.delivery import delivery_send
evaluate_all_slos()
slo = SLO.objects.get(name="checkout-availability")
outcomes = [delivery_send(delivery_id=d.pk) for d in Delivery.objects.all() for _ in range(2)]
burn_down = [y for y in slo_charts(slo)["burn_down"]["data"][0]["y"] if y is not None]
print(json.dumps({
    "state": slo.alert_state,
    "reason": slo.transitions.first().reason if slo.transitions.exists() else "",
    "outcomes": outcomes,
    "deliveries": list(Delivery.objects.values_list("status", flat=True)),
    "budget_left_first": burn_down[0], "budget_left_last": burn_down[-1],
}))
"""


def test_an_injected_failure_pages_and_notifies_once(tmp_path):
    with receiving() as receiver, portal_process(tmp_path) as portal:
        portal.shell(SETUP.format(url=receiver.url))
        manage(
            portal.env, "loadgen", "--endpoint", portal.base_url, "--token", portal.token,
            "--backfill", "3h", "--duration", "0", "--wait", "30",
            "--incident", "checkout:errors=10%:at=-30m",
        )  # fmt: skip
        result = json.loads(portal.shell(EVALUATE))
    assert result["state"] == "page"
    assert result["reason"].startswith("page: burn rate ")
    assert result["outcomes"] == ["sent", "done"]
    assert result["deliveries"] == ["delivered"]
    assert result["budget_left_first"] == pytest.approx(100.0, abs=1)
    assert result["budget_left_last"] < result["budget_left_first"]
    [request] = receiver.requests
    assert request["json"]["name"] == "checkout-availability"
    assert request["json"]["new_state"] == "page"
