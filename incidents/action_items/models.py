"""Action items: what a COE commits the team to, tracked to completion."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from coe_portal.accounts.models import Team
from incidents.coe.models import Coe


class ActionItem(models.Model):
    class Priority(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    class Kind(models.TextChoices):
        PREVENT = "prevent", "Prevent"
        DETECT = "detect", "Detect"
        MITIGATE = "mitigate", "Mitigate"
        PROCESS = "process", "Process"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        BLOCKED = "blocked", "Blocked"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    coe = models.ForeignKey(Coe, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="action_items")
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.MEDIUM)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PREVENT)
    due_date = models.DateField()
    tracker_url = models.URLField(blank=True, help_text="The item in an external tracker.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    status_note = models.TextField(
        blank=True, help_text="Completion note (done), or the reason (won't do, blocked)."
    )
    verification_url = models.URLField(blank=True, help_text="Proof that it is done.")
    completed_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateField(
        null=True, blank=True, help_text="No reminders up to and including this day."
    )
    snooze_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["status", "due_date"], name="action_item_status_due")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


# Done or won't do: nothing more is asked of the item (no reminders; its COE may close).
FINISHED_STATUSES = (ActionItem.Status.DONE, ActionItem.Status.WONT_DO)


class ActionItemEvent(models.Model):
    """The history of an item: status moves, due date changes (with why), snoozes, new owners."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status"
        DUE_DATE = "due_date", "Due date"
        OWNER = "owner", "Owner"
        SNOOZE = "snooze", "Reminders snoozed"

    item = models.ForeignKey(ActionItem, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    old = models.CharField(max_length=200, blank=True)
    new = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.old} → {self.new}"
