"""The impact numbers a COE starts from, computed from the incident's linked SLOs."""

from __future__ import annotations

import pytest

from incidents.coe.impact import incident_impact
from tests.incidents.incident.test_charts import at, availability_slo, load_requests, make_incident

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.backend_suite,
    pytest.mark.usefixtures("metrics_backend"),
]


def test_failed_requests_and_budget_come_from_the_linked_slo(org):
    # 10 requests/s; from 10:00 to 11:00, one of them fails each second.
    load_requests()
    incident = make_incident(org, mitigated_at=at(11), resolved_at=at(11, 30))
    incident.slos.add(availability_slo(org))
    impact = incident_impact(incident, now=at(12))
    assert impact.minutes == 60
    assert impact.failed_requests == 3600
    # The 30-day window holds the traffic since 08:00: 108 000 requests, plus the first
    # scrape's 150 counted from zero as Prometheus's rate() does: 108 150. 0.1 % of them
    # may fail (108.15), and 3600 failed: 3328.71 % of the budget.
    assert impact.budget_consumed_percent == 3328.71


def test_without_slos_only_the_duration_is_known(org):
    incident = make_incident(org, mitigated_at=None, resolved_at=None)
    impact = incident_impact(incident, now=at(10, 30, 1))
    assert (impact.minutes, impact.failed_requests, impact.budget_consumed_percent) == (
        31, None, None,
    )  # fmt: skip
