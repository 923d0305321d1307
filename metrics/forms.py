"""Forms for SLOs and alarms: field errors a person can act on, shared by pages and the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from coe_portal.accounts.models import Service, Team
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO
from metrics.slo.queries import SLIError, bucket_query, check_threshold, validate_queries
from metrics.slo.spec import LatencySLI


def _check_channels(form: forms.ModelForm[Any], data: dict[str, Any]) -> None:
    team = data.get("team")
    channels = data.get("notification_channels") or []
    if team is not None and any(channel.team_id != team.pk for channel in channels):
        form.add_error("notification_channels", f"Pick channels of {team}, the owning team.")


class SLOForm(forms.ModelForm):
    class Meta:
        model = SLO
        fields = [
            "name",
            "service",
            "team",
            "description",
            "sli_kind",
            "bad_query",
            "good_query",
            "total_query",
            "latency_histogram",
            "latency_threshold_seconds",
            "latency_matchers",
            "objective_percent",
            "window",
            "time_zone",
            "min_events",
            "no_data_after_minutes",
            "notification_channels",
            "open_incident_severity",
            "enabled",
        ]
        widgets = {
            "bad_query": forms.TextInput(
                attrs={"placeholder": 'sum(rate(http_requests_total{code=~"5.."}[{{window}}]))'}
            ),
            "good_query": forms.TextInput(),
            "total_query": forms.TextInput(
                attrs={"placeholder": "sum(rate(http_requests_total[{{window}}]))"}
            ),
            "description": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_time_zone(self) -> str:
        zone: str = self.cleaned_data["time_zone"] or "UTC"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                f"Unknown time zone {zone!r} (e.g. UTC, Europe/Berlin)."
            ) from None
        return zone

    def clean_objective_percent(self) -> Decimal:
        value: Decimal = self.cleaned_data["objective_percent"]
        if not Decimal(0) < value < Decimal(100):
            raise forms.ValidationError(f"The objective must be between 0 and 100 % (got {value}).")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("team") is None and data.get("service") is not None:
            data["team"] = data["service"].team
        _check_channels(self, data)
        candidate = SLO(
            **{k: v for k, v in data.items() if k in {f.name for f in SLO._meta.fields}}
        )
        if data.get("service") is None:
            return data
        if candidate.sli_kind == SLO.SLIKind.RATIO:
            if not candidate.total_query:
                self.add_error("total_query", "A ratio SLI needs a total query.")
            if bool(candidate.bad_query) == bool(candidate.good_query):
                self.add_error("bad_query", "Give either a bad query or a good query, not both.")
        else:
            if not candidate.latency_histogram or candidate.latency_threshold_seconds is None:
                self.add_error(
                    "latency_histogram", "A latency SLI needs a histogram and a threshold."
                )
        if self.errors:
            return data
        spec = candidate.to_spec()
        try:
            validate_queries(spec)
        except SLIError as exc:
            field = (
                "latency_histogram" if candidate.sli_kind == SLO.SLIKind.LATENCY else "total_query"
            )
            self.add_error(field, str(exc))
            return data
        if isinstance(spec.sli, LatencySLI):
            bounds = _bucket_bounds(spec.sli)
            if bounds:
                try:
                    check_threshold(spec.sli, bounds)
                except SLIError as exc:
                    self.add_error("latency_threshold_seconds", str(exc))
        return data


def _bucket_bounds(sli: LatencySLI) -> set[str]:
    """The `le` values the histogram's series have in the store (none yet: not checked)."""
    from metrics.backends import remote
    from metrics.backends.errors import BackendUnavailable
    from metrics.promql.parser import parse
    from metrics.storage.reader import select_series

    backend = remote()
    if backend is not None:
        try:
            found = backend.label_values("le", [("match[]", bucket_query(sli))])
        except BackendUnavailable:
            return set()  # not checked now; the SLO's evaluation will say if it is wrong
        return {str(value) for value in found or ()} - {""}
    selector = parse(bucket_query(sli))
    matchers = getattr(selector, "matchers", ())
    return {ref.labels.get("le", "") for ref in select_series(matchers)} - {""}


class AlarmForm(forms.ModelForm):
    class Meta:
        model = Alarm
        fields = [
            "name",
            "team",
            "service",
            "description",
            "kind",
            "expression",
            "period_seconds",
            "evaluation_periods",
            "datapoints_to_alarm",
            "comparison",
            "threshold",
            "treat_missing_data",
            "rule",
            "notification_channels",
            "open_incident_severity",
            "enabled",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or data.get("team") is None:
            return data
        _check_channels(self, data)
        was_external = self.instance.pk is not None and self.instance.kind == Alarm.Kind.EXTERNAL
        if data.get("kind") == Alarm.Kind.EXTERNAL:
            if not was_external:
                self.add_error("kind", "External alarms are created by Alertmanager, not by hand.")
            # An external alarm's settings (incident severity, channels, service, description):
            # its state comes from Alertmanager, so there is no expression to check.
            return data
        if was_external:
            self.add_error("kind", "An external alarm stays external: Alertmanager decides it.")
            return data
        candidate = Alarm(
            pk=self.instance.pk,
            **{k: v for k, v in data.items() if k in {f.name for f in Alarm._meta.fields}},
        )
        for field, message in candidate.problems().items():
            self.add_error(field, message)
        return data


def teams_and_services() -> dict[str, Any]:
    return {"teams": Team.objects.all(), "services": Service.objects.all()}
