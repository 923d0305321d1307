from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from coe_portal.accounts.models import Service
from metrics.slo.models import SLO
from metrics.slo.yaml_io import load_slos

FILES = Path(__file__).parent / "slo_files"


def run(*args: str) -> str:
    out = StringIO()
    call_command("slo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def services(org):
    Service.objects.create(name="checkout", team=org.checkout)
    return org


def test_apply_creates_then_reports_unchanged(services, org):
    out = run("apply", str(FILES / "sloth_cart.yaml"))
    names = sorted(SLO.objects.values_list("name", flat=True))
    assert len(names) == len(load_slos((FILES / "sloth_cart.yaml").read_text()))
    assert "cart/requests-availability: were created" in out
    slo = SLO.objects.get(name="requests-availability")
    assert (slo.service.name, slo.team, str(slo.objective_percent.normalize())) == (
        "cart",
        org.checkout,
        "99.9",
    )
    again = run("apply", str(FILES / "sloth_cart.yaml"))
    assert "cart/requests-availability: unchanged" in again


def test_a_dry_run_writes_nothing(services):
    out = run("apply", "--dry-run", str(FILES / "openslo_checkout.yaml"))
    assert "would be created" in out
    assert not SLO.objects.exists()


def test_an_unknown_service_rejects_the_whole_file(org, tmp_path):
    path = tmp_path / "slos.yaml"
    path.write_text(
        (FILES / "sloth_cart.yaml").read_text().replace('service: "cart"', 'service: "carts"')
    )
    with pytest.raises(CommandError, match="no service named 'carts'"):
        run("apply", str(path))
    assert not SLO.objects.exists()


def test_a_bad_file_names_the_line(services, tmp_path):
    path = tmp_path / "slos.yaml"
    path.write_text(
        (FILES / "sloth_cart.yaml").read_text().replace("objective: 99.9", "objective: 120")
    )
    with pytest.raises(CommandError, match=r"line \d+: objective 120 is not between 0 and 100"):
        run("apply", str(path))


def test_export_round_trips(services):
    run("apply", str(FILES / "openslo_checkout.yaml"))
    exported = run("export", "--format", "openslo")
    assert sorted(load_slos(exported), key=lambda s: s.name) == sorted(
        (slo.to_spec() for slo in SLO.objects.all()), key=lambda s: s.name
    )
