"""The COE (Correction of Error) report: Markdown sections, incident questions, 5 Whys, reviews,
comments and the history of every field."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from coe_portal.accounts.models import Service, Team
from incidents.incident.models import Incident

# The report's free-text sections, in the order they are written and read: (field, title, prompt).
SECTIONS: list[tuple[str, str, str]] = [
    ("summary", "Summary", "What happened, in a few sentences a reader outside the team follows."),
    (
        "customer_impact",
        "Customer impact",
        "Who was affected, how, and for how long. The numbers go in the fields below.",
    ),
    ("timeline", "Timeline", "Imported from the incident; correct and complete it (UTC)."),
    ("metrics", "Metrics", "What the charts show: when the metrics moved and what that means."),
    (
        "contributing_factors",
        "Contributing factors",
        "The conditions that made this possible. Never stop at human error: "
        "ask what made the error possible.",
    ),
    ("went_well", "What went well", "Lessons learned: what worked and should be kept."),
    ("went_wrong", "What went wrong", "Lessons learned: what slowed detection or recovery."),
    ("got_lucky", "Where we got lucky", "Lessons learned: what could have made it much worse."),
    (
        "related_items",
        "Related items",
        "Links to other COEs, tickets and runbooks (optional).",
    ),
]
SECTION_FIELDS = [field for field, _, _ in SECTIONS]
SECTION_TITLES = {field: title for field, title, _ in SECTIONS}
OPTIONAL_SECTIONS = {"related_items"}


class QuestionGroup(models.TextChoices):
    DETECTION = "detection", "Detection"
    DIAGNOSIS = "diagnosis", "Response and diagnosis"
    MITIGATION = "mitigation", "Mitigation"
    PREVENTION = "prevention", "Prevention"


class IncidentQuestion(models.Model):
    """A question every COE answers: the portal ships a default set (team empty); a team adds
    its own. A COE copies the prompt text, so an answer stays with the question it answered."""

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="coe_questions",
        help_text="Empty: asked in every team's COEs.",
    )  # fmt: skip
    group = models.CharField(max_length=16, choices=QuestionGroup.choices)
    prompt = models.TextField()
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.prompt[:80]


class CoeReviewPolicy(models.Model):
    """Reviewers a team requires on each of its COEs (a bar raiser, say)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="coe_policy")
    required_reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True)

    class Meta:
        verbose_name = "COE review policy"
        verbose_name_plural = "COE review policies"

    def __str__(self) -> str:
        return f"COE review policy of {self.team}"


class Coe(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        CLOSED = "closed", "Closed"

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="coe")
    title = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="coes")
    services = models.ManyToManyField(Service, blank=True, related_name="coes")
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    revision = models.PositiveIntegerField(
        default=1, help_text="Raised when an approved COE is reopened for changes."
    )
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="authored_coes")
    required_reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="coes_to_review"
    )

    summary = models.TextField(blank=True)
    customer_impact = models.TextField(blank=True)
    timeline = models.TextField(blank=True)
    metrics = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    went_well = models.TextField(blank=True)
    went_wrong = models.TextField(blank=True)
    got_lucky = models.TextField(blank=True)
    related_items = models.TextField(blank=True)

    customers_affected = models.PositiveIntegerField(null=True, blank=True)
    impact_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Duration of customer impact, in minutes."
    )
    failed_requests = models.PositiveBigIntegerField(null=True, blank=True)
    budget_consumed_percent = models.FloatField(
        null=True, blank=True, help_text="Error budget of the linked SLOs spent by the incident."
    )

    # Per-field edit counters: a save names the version it started from, and a stale one is
    # refused with both texts instead of overwriting someone else's edit.
    versions = models.JSONField(default=dict, blank=True)
    metrics_snapshot = models.JSONField(null=True, blank=True)
    snapshot_taken_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "COE"

    def __str__(self) -> str:
        return f"COE-{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:coe-detail", args=[self.pk])

    @property
    def is_editable(self) -> bool:
        return self.state in (self.State.DRAFT, self.State.CHANGES_REQUESTED)

    def version_of(self, field: str) -> int:
        return int(self.versions.get(field, 0))


class CoeAnswer(models.Model):
    coe = models.ForeignKey(Coe, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(
        IncidentQuestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group = models.CharField(max_length=16, choices=QuestionGroup.choices)
    prompt = models.TextField(help_text="The question as it was asked.")
    position = models.PositiveIntegerField(default=0)
    answer = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.prompt[:80]

    @property
    def field_key(self) -> str:
        return f"answer-{self.pk}"


class Why(models.Model):
    """One step of a 5 Whys chain. A COE may have several chains (`chain` 1, 2, …)."""

    coe = models.ForeignKey(Coe, on_delete=models.CASCADE, related_name="whys")
    chain = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveSmallIntegerField()
    question = models.TextField(help_text="Why …?")
    answer = models.TextField(help_text="Because …")

    class Meta:
        ordering = ["chain", "position"]
        constraints = [
            models.UniqueConstraint(fields=["coe", "chain", "position"], name="why_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.chain}.{self.position} {self.question[:60]}"


class CoeFieldRevision(models.Model):
    """Every change of every field: who, when, before and after."""

    coe = models.ForeignKey(Coe, on_delete=models.CASCADE, related_name="field_revisions")
    field = models.CharField(max_length=64)
    label = models.CharField(max_length=200)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    coe_revision = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.label} changed at {self.at:%Y-%m-%d %H:%M}"


class CoeComment(models.Model):
    """Review comments, threaded per section (`section` is a field name, an answer key such as
    `answer-12`, `whys`, `action_items`, or empty for the whole report)."""

    coe = models.ForeignKey(Coe, on_delete=models.CASCADE, related_name="comments")
    section = models.CharField(max_length=64, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    at = models.DateTimeField(auto_now_add=True)
    coe_revision = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"comment on {self.section or 'the COE'}: {self.body[:40]}"


class CoeReview(models.Model):
    """A state change of the review: submitted, changes requested, approved, reopened, closed."""

    class Action(models.TextChoices):
        SUBMIT = "submit", "Submitted for review"
        REQUEST_CHANGES = "request_changes", "Requested changes"
        APPROVE = "approve", "Approved"
        REOPEN = "reopen", "Reopened for a new revision"
        CLOSE = "close", "Closed"

    coe = models.ForeignKey(Coe, on_delete=models.CASCADE, related_name="reviews")
    action = models.CharField(max_length=20, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)
    coe_revision = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.user}"


class FindingAcknowledgement(models.Model):
    """The author's answer to a blameless-language finding they decided to keep."""

    coe = models.ForeignKey(Coe, on_delete=models.CASCADE, related_name="acknowledgements")
    key = models.CharField(max_length=300, help_text="section:rule:matched text")
    reason = models.TextField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["coe", "key"], name="acknowledgement_unique_key")
        ]

    def __str__(self) -> str:
        return self.key
