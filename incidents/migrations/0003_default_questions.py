"""The default incident questions every COE answers, grouped as AWS's post-incident analysis
groups them. Teams add their own in the admin; these can be deactivated, not lost."""

from django.db import migrations

DEFAULT_QUESTIONS = [
    ("detection", "Was the incident detected within the expected time?"),
    ("detection", "How was it detected: an alarm, a customer report, someone noticing?"),
    ("detection", "How could the time to detect be cut in half?"),
    ("detection", "Would a new or changed metric or alarm have caught it sooner?"),
    ("diagnosis", "Did escalation work: were the right people engaged quickly?"),
    ("diagnosis", "Would earlier escalation have reduced the impact?"),
    ("diagnosis", "How long did diagnosis take, and how could that be halved?"),
    ("mitigation", "How did you know how to mitigate?"),
    ("mitigation", "How could mitigation be faster?"),
    ("mitigation", "How did you confirm full recovery?"),
    ("mitigation", "Which runbook steps should be added or changed?"),
    (
        "prevention",
        "Did a change trigger it? Was it deployed automatically or by hand, was it tested in "
        "staging, and could deployment safeguards or automatic rollback have caught it?",
    ),
    (
        "prevention",
        "Was there a backlog item that would have prevented it, and why wasn't it done?",
    ),
    ("prevention", "Could this recur elsewhere, in this service or another?"),
    ("prevention", "What was the blast radius, and how could it be made smaller?"),
]


def add_questions(apps, schema_editor):
    IncidentQuestion = apps.get_model("incidents", "IncidentQuestion")
    for position, (group, prompt) in enumerate(DEFAULT_QUESTIONS, start=1):
        IncidentQuestion.objects.get_or_create(
            team=None, prompt=prompt, defaults={"group": group, "position": position * 10}
        )


def remove_questions(apps, schema_editor):
    IncidentQuestion = apps.get_model("incidents", "IncidentQuestion")
    IncidentQuestion.objects.filter(
        team=None, prompt__in=[prompt for _, prompt in DEFAULT_QUESTIONS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_coe")]
    operations = [migrations.RunPython(add_questions, remove_questions)]
