from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib.auth.models import User

from incidents.reminders.models import ReminderPreference, TeamReminderSettings


class ReminderPreferenceForm(forms.ModelForm):
    class Meta:
        model = ReminderPreference
        fields = [
            "time_zone", "work_start_hour", "work_end_hour", "digest_only", "away_until",
            "delegate",
        ]  # fmt: skip
        widgets = {"away_until": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        delegate = self.fields["delegate"]
        assert isinstance(delegate, forms.ModelChoiceField)
        delegate.queryset = User.objects.filter(is_active=True).exclude(pk=user.pk)
        self.fields[
            "time_zone"
        ].help_text = "IANA name such as Europe/Berlin: reminders arrive during your working hours."

    def clean_time_zone(self) -> str:
        zone = str(self.cleaned_data.get("time_zone", "")).strip()
        if zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise forms.ValidationError(f"Unknown time zone {zone!r}.") from None
        return zone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("work_start_hour"), data.get("work_end_hour")
        for key, hour in (("work_start_hour", start), ("work_end_hour", end)):
            if hour is not None and not 0 <= hour <= 24:
                self.add_error(key, "An hour from 0 to 24.")
        if start is not None and end is not None and start >= end:
            self.add_error("work_end_hour", "Working hours end after they start.")
        return data


class TeamReminderSettingsForm(forms.ModelForm):
    class Meta:
        model = TeamReminderSettings
        fields = [
            "due_soon_days", "overdue_every_days_high", "overdue_every_days",
            "escalate_after_days_high", "escalate_after_days", "second_escalation_after_days",
            "second_escalation_email",
        ]  # fmt: skip
