"""Reminder settings per team and per person, the record of every reminder sent (the unique
constraint on it is what makes a reminder go out at most once), and in-app notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from coe_portal.accounts.models import Team
from incidents.action_items.models import ActionItem


class TeamReminderSettings(models.Model):
    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="reminder_settings")
    due_soon_days = models.PositiveSmallIntegerField(
        default=3, help_text="Remind the owner this many days before the due date."
    )
    overdue_every_days_high = models.PositiveSmallIntegerField(
        default=1, help_text="Repeat overdue reminders of high-priority items every N days."
    )
    overdue_every_days = models.PositiveSmallIntegerField(
        default=7, help_text="Repeat overdue reminders of other items every N days."
    )
    escalate_after_days_high = models.PositiveSmallIntegerField(
        default=3, help_text="Tell the lead and the COE authors after N days overdue (high)."
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        default=7, help_text="Tell the lead and the COE authors after N days overdue."
    )
    second_escalation_after_days = models.PositiveSmallIntegerField(
        default=14, help_text="Tell the address below after N days overdue (any priority)."
    )
    second_escalation_email = models.EmailField(blank=True)

    class Meta:
        verbose_name = "team reminder settings"
        verbose_name_plural = "team reminder settings"

    def __str__(self) -> str:
        return f"reminder settings of {self.team}"


class ReminderPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_preference"
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="IANA name, e.g. Europe/Berlin. Empty: any hour."
    )
    work_start_hour = models.PositiveSmallIntegerField(default=9)
    work_end_hour = models.PositiveSmallIntegerField(default=17)
    digest_only = models.BooleanField(
        default=False, help_text="No reminder per item: only the team's weekly digest."
    )
    away_until = models.DateField(
        null=True, blank=True, help_text="On leave up to and including this day."
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Gets your reminders while you are on leave.",
    )  # fmt: skip

    def __str__(self) -> str:
        return f"reminder preferences of {self.user}"


class Reminder(models.Model):
    """One reminder about one item on one (UTC) day. Created in the same transaction as the
    in-app notifications; the e-mail is sent after commit and marked here."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", "Due soon"
        OVERDUE = "overdue", "Overdue"
        ESCALATION = "escalation", "Escalation to the lead and COE authors"
        ESCALATION_2 = "escalation_2", "Second escalation"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    item = models.ForeignKey(ActionItem, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    day = models.DateField()
    due_date = models.DateField(help_text="The due date the reminder was about.")
    recipients = models.JSONField(default=list, help_text="E-mail addresses.")
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["day", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "kind", "day"], name="reminder_once_a_day")
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="reminder_status_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.day} for item {self.item_id}"


class TeamDigest(models.Model):
    """The weekly digest of a team, once per ISO week (`week` is that week's Monday)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="digests")
    week = models.DateField()
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=Reminder.Status.choices, default=Reminder.Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week", "team_id"]
        constraints = [models.UniqueConstraint(fields=["team", "week"], name="digest_once_a_week")]

    def __str__(self) -> str:
        return f"digest of {self.team} for the week of {self.week}"


class Notification(models.Model):
    """In-app notification; the navigation shows the unread count."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    reminder = models.ForeignKey(
        Reminder, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return self.text
