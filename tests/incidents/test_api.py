"""The incidents/COEs/action items JSON API with real bearer tokens."""

from __future__ import annotations

import json

from coe_portal.accounts.services import api_token_create
from incidents.incident.models import Incident
from tests.incidents.coe_support import resolved_incident, written_coe


def bearer(team, *scopes: str) -> dict[str, str]:
    issued = api_token_create(team=team, name="api", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}"}


def post(client, url: str, body: object, headers: dict[str, str]):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_a_write_token_opens_an_incident_and_adds_to_its_timeline(client, org):
    headers = bearer(org.checkout, "write", "read")
    response = post(
        client, "/api/v1/incidents",
        {"title": "Cart 500s", "severity": "SEV2", "services": ["cart"],
         "started_at": "2026-11-23T10:00:00Z", "summary": "Carts fail to load."},
        headers,
    )  # fmt: skip
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["title"], data["severity"], data["team"], data["services"], data["status"]) == (
        "Cart 500s", "SEV2", "checkout", ["cart"], "investigating",
    )  # fmt: skip
    assert data["started_at"] == "2026-11-23T10:00:00Z"
    pk = data["id"]
    note = post(
        client, f"/api/v1/incidents/{pk}/timeline", {"kind": "deploy", "text": "Rollback"}, headers
    )
    assert note.status_code == 201
    status = post(client, f"/api/v1/incidents/{pk}/status", {"status": "mitigated"}, headers)
    assert status.json()["data"]["status"] == "mitigated"
    detail = client.get(f"/api/v1/incidents/{pk}", **headers).json()["data"]
    assert [(e["kind"], e["text"]) for e in detail["timeline"]][-2:] == [
        ("deploy", "Rollback"), ("status", "Status: Investigating → Mitigated."),
    ]  # fmt: skip


def test_bad_input_is_a_400_naming_the_field(client, org):
    headers = bearer(org.checkout, "write")
    assert post(client, "/api/v1/incidents", [1], headers).json() == {
        "status": "error", "error": "body must be a JSON object",
    }  # fmt: skip
    broken = client.post("/api/v1/incidents", b"{", content_type="application/json", **headers)
    assert broken.status_code == 400
    assert broken.json()["error"].startswith("body is not valid JSON")
    answer = post(client, "/api/v1/incidents", {"title": "x", "severity": "SEV9"}, headers)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"severity": ["one of SEV1, SEV2, SEV3, SEV4"]}
    answer = post(client, "/api/v1/incidents", {"title": "x", "started_at": "yesterday"}, headers)
    assert answer.json()["errors"] == {
        "started_at": ["give an ISO 8601 time with a zone, e.g. 2026-11-23T10:00Z"]
    }
    answer = post(client, "/api/v1/incidents", {"title": "x", "services": ["nope"]}, headers)
    assert answer.json()["errors"] == {"services": ["unknown services: nope"]}
    assert Incident.objects.count() == 0


def test_scopes_and_other_teams(client, org):
    incident = resolved_incident(org)
    read_only = bearer(org.checkout, "read")
    assert post(client, "/api/v1/incidents", {"title": "x"}, read_only).status_code == 403
    assert client.get("/api/v1/incidents").status_code == 401
    search_writer = bearer(org.search, "write")
    answer = post(
        client,
        f"/api/v1/incidents/{incident.pk}/status",
        {"status": "investigating"},
        search_writer,
    )
    assert answer.status_code == 403


def test_restricted_incidents_and_their_coes_do_not_exist_for_other_teams(client, org):
    coe = written_coe(org, resolved_incident(org, restricted=True))
    public = written_coe(org, resolved_incident(org))
    search = bearer(org.search, "read")
    assert [i["id"] for i in client.get("/api/v1/incidents", **search).json()["data"]] == [
        public.incident_id
    ]
    assert client.get(f"/api/v1/incidents/{coe.incident_id}", **search).status_code == 404
    assert client.get(f"/api/v1/coes/{coe.pk}", **search).status_code == 404
    assert [c["id"] for c in client.get("/api/v1/coes", **search).json()["data"]] == [public.pk]
    items = client.get("/api/v1/action-items", **search).json()["data"]
    assert [item["coe"] for item in items] == [public.pk]
    checkout = bearer(org.checkout, "read")
    assert client.get(f"/api/v1/coes/{coe.pk}", **checkout).status_code == 200


def test_a_coe_in_full(client, org):
    coe = written_coe(org)
    data = client.get(f"/api/v1/coes/{coe.pk}", **bearer(org.platform, "read")).json()["data"]
    assert data["state"] == "draft"
    assert data["sections"]["summary"] == "The summary of this incident."
    assert len(data["questions"]) == 15
    assert [w["position"] for w in data["whys"]] == [1, 2, 3, 4, 5]
    assert data["action_items"] == [
        {
            "id": coe.action_items.get().pk, "coe": coe.pk,
            "title": "Add pool size to the canary checks", "owner": "theo", "team": "checkout",
            "priority": "high", "kind": "prevent", "due_date": "2026-12-15", "tracker_url": None,
            "status": "open",
        }
    ]  # fmt: skip
    assert (data["action_items_done"], data["action_items_total"]) == (0, 1)
    owned = client.get(
        "/api/v1/action-items", {"owner": "theo", "status": "open"}, **bearer(org.search, "read")
    ).json()["data"]
    assert [item["title"] for item in owned] == ["Add pool size to the canary checks"]


def test_listing_coes_takes_the_same_queries_for_one_or_many(
    client, org, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = bearer(org.platform, "read")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/coes", **headers).status_code == 200
        return len(captured)

    written_coe(org)
    queries()  # the token's first use is recorded: one more statement, once a minute
    one = queries()
    for _ in range(3):
        written_coe(org, resolved_incident(org))
    assert len(client.get("/api/v1/coes", **headers).json()["data"]) == 4
    assert queries() == one
