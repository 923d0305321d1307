from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from incidents.action_items.models import ActionItem


class ActionItemForm(forms.ModelForm):
    class Meta:
        model = ActionItem
        fields = ["title", "owner", "priority", "kind", "due_date", "tracker_url"]
        widgets = {"due_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tracker_url"] = forms.URLField(
            required=False,
            assume_scheme="https",
            label="Tracker link",
            help_text="The item in an external tracker (optional).",
        )
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = User.objects.filter(is_active=True).order_by("username")
        owner.label_from_instance = lambda user: user.get_username()  # type: ignore[method-assign,assignment]
