"""Scrape targets: the `/metrics` endpoints the portal pulls from, and each one's last health.

The scheduler claims a target by moving `next_scrape_at` with a conditional UPDATE; nothing here
performs HTTP (that is `metrics.ingest.scrape`).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.utils.deconstruct import deconstructible
from django.utils.text import slugify

from coe_portal.accounts.models import Service
from metrics.storage.labels import (
    LABEL_NAME_RE,
    MAX_LABEL_NAME_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS_PER_SERIES,
)

# Set from the target's own fields; an extra label may not replace them.
RESERVED_TARGET_LABELS = frozenset({"job", "service"})


def validate_extra_labels(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Extra labels must be an object of label names to string values.")
    if len(value) > MAX_LABELS_PER_SERIES // 2:
        raise ValidationError(f"At most {MAX_LABELS_PER_SERIES // 2} extra labels.")
    for name, label_value in value.items():
        if len(name) > MAX_LABEL_NAME_LENGTH or not LABEL_NAME_RE.match(name):
            raise ValidationError(
                f"Invalid label name {name!r}: must match [a-zA-Z_][a-zA-Z0-9_]*."
            )
        if name.startswith("__"):
            raise ValidationError(f"Label names starting with __ are reserved ({name}).")
        if name in RESERVED_TARGET_LABELS:
            raise ValidationError(f"Label {name!r} comes from the target's own field.")
        if not isinstance(label_value, str) or not label_value:
            raise ValidationError(f"Label {name!r} needs a non-empty string value.")
        if len(label_value) > MAX_LABEL_VALUE_LENGTH:
            raise ValidationError(
                f"Value of label {name!r} is longer than {MAX_LABEL_VALUE_LENGTH} characters."
            )


@deconstructible
class ScrapeURLValidator(URLValidator):
    """http(s) URLs, also with one-label host names (`http://cart:9100/metrics`: Docker and
    Kubernetes service names), which URLValidator refuses for want of a top-level domain."""

    host_re = (
        "(" + URLValidator.hostname_re + URLValidator.domain_re
        + "(?:" + URLValidator.tld_re + ")?|localhost)"
    )  # fmt: skip
    regex = re.compile(
        r"^(?:[a-z0-9.+-]*)://"
        r"(?:[^\s:@/]+(?::[^\s:@/]*)?@)?"
        r"(?:" + URLValidator.ipv4_re + "|" + URLValidator.ipv6_re + "|" + host_re + ")"
        r"(?::[0-9]{1,5})?"
        r"(?:[/?#][^\s]*)?"
        r"\Z",
        re.IGNORECASE,
    )
    schemes = ["http", "https"]


class ScrapeURLFormField(forms.URLField):
    default_validators = [ScrapeURLValidator()]


class ScrapeURLField(models.URLField):
    default_validators = [ScrapeURLValidator()]

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        return super().formfield(
            form_class=form_class or ScrapeURLFormField,
            choices_form_class=choices_form_class,
            **kwargs,
        )


class ScrapeTarget(models.Model):
    """One endpoint in Prometheus exposition format, scraped every `interval_seconds`."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="scrape_targets")
    url = ScrapeURLField(max_length=500, unique=True)
    job = models.SlugField(
        max_length=64, blank=True, help_text="The `job` label; the service's name when blank."
    )
    interval_seconds = models.PositiveIntegerField(default=15, validators=[MinValueValidator(1)])
    timeout_seconds = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text="At most the interval."
    )
    labels = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_extra_labels],
        help_text='Extra labels on every series, e.g. {"env": "prod"}.',
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Health of the last scrape, written by the scheduler only.
    last_scrape_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_duration_seconds = models.FloatField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_samples = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Hashes of the series the last scrape returned, to write stale markers for those that go.
    last_series = models.JSONField(default=list, blank=True, editable=False)
    next_scrape_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Empty: scrape at the next tick."
    )

    class Meta:
        ordering = ["service__name", "url"]

    def __str__(self) -> str:
        return f"{self.job or self.service_id}: {self.url}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.job and self.service_id is not None:
            self.job = slugify(self.service.name)[:64]
        super().save(*args, **kwargs)

    @property
    def health(self) -> str:
        if self.last_scrape_at is None:
            return "unknown"
        return "down" if self.last_error else "up"

    def clean(self) -> None:
        super().clean()
        if (
            self.timeout_seconds is not None
            and self.interval_seconds is not None
            and self.timeout_seconds > self.interval_seconds
        ):
            raise ValidationError(
                {"timeout_seconds": "The timeout may not be longer than the interval."}
            )
