from __future__ import annotations

from django import forms

from incidents.incident.models import Incident


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
