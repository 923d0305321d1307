from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from coe_portal.accounts.models import Service, Team
from incidents.incident.models import Incident, Severity
from incidents.incident.services import TIME_FIELDS
from metrics.alarms.models import Alarm
from metrics.slo.models import SLO

INCIDENT_FIELDS = ("title", "severity", "owner", "summary", *TIME_FIELDS, "restricted")


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Incident.Status.choices)
    at = forms.DateTimeField(
        label="at (UTC)", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for now.",
    )  # fmt: skip


class IncidentForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = [
            "title", "severity", "team", "services", "owner", "summary", "started_at",
            "detected_at", "restricted", "visible_to",
        ]  # fmt: skip
        widgets = {
            "started_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "detected_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "summary": forms.Textarea(attrs={"rows": 3}),
        }


def _time_field(label: str, *, required: bool = False) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=f"{label} (UTC)", required=required,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip


class IncidentEditForm(forms.Form):
    """The incident page's edit form. It does not save: `incident_edit` compares and writes."""

    title = forms.CharField(max_length=Incident._meta.get_field("title").max_length)
    severity = forms.ChoiceField(choices=Severity.choices)
    services = forms.ModelMultipleChoiceField(Service.objects.order_by("name"), required=False)
    owner = forms.ModelChoiceField(User.objects.order_by("username"), required=False, label="Lead")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    started_at = _time_field("Started", required=True)
    detected_at = _time_field("Detected")
    mitigated_at = _time_field("Mitigated")
    resolved_at = _time_field("Resolved")
    alarms = forms.ModelMultipleChoiceField(Alarm.objects.order_by("name"), required=False)
    slos = forms.ModelMultipleChoiceField(
        SLO.objects.order_by("name"), required=False, label="SLOs"
    )
    restricted = forms.BooleanField(required=False)
    visible_to = forms.ModelMultipleChoiceField(
        Team.objects.order_by("name"), required=False, label="Visible to (restricted only)"
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        self.incident = incident
        initial = {name: getattr(incident, name) for name in INCIDENT_FIELDS}
        for name in ("services", "alarms", "slos", "visible_to"):
            initial[name] = list(getattr(incident, name).all())
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The form shows minutes: a time left as shown keeps its seconds.
        for name in TIME_FIELDS:
            stored = getattr(self.incident, name)
            if stored is not None and data.get(name) == stored.replace(second=0, microsecond=0):
                data[name] = stored
        return data
