"""The demo's seeded COE: its items get their reminders once each, and finishing them closes it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command

from incidents.action_items.lifecycle import item_set_status
from incidents.coe.models import Coe
from incidents.reminders.sending import reminder_pass, reminder_send


@pytest.mark.django_db
def test_the_seeded_coe_reminds_once_and_closes_when_its_items_are_done(capsys):
    call_command("demo")
    coe = Coe.objects.get(incident__title__startswith="Payments timing out")
    created = reminder_pass().created
    for reminder_id in created:
        reminder_send(reminder_id=reminder_id)
    assert reminder_pass().created == []  # beat firing again the same day sends nothing
    kinds = {
        r.item.title: (r.kind, r.recipients)
        for r in coe.action_items.get(title__startswith="Pin").reminders.all()
        | coe.action_items.get(title__startswith="Alarm").reminders.all()
        | coe.action_items.get(title__startswith="Canary").reminders.all()
    }
    assert kinds == {
        "Pin connection pool settings in the payments config": ("due_soon", ["casey@example.com"]),
        "Alarm on payments client pool saturation": ("overdue", ["demo@example.com"]),
        "Canary: hold 10 % of tier-1 traffic for 20 minutes": (
            "escalation", ["casey@example.com"],  # casey owns it, leads checkout, wrote the COE
        ),
    }  # fmt: skip
    titles = [item.title for item in coe.action_items.all()]
    about_coe = [m for m in mail.outbox if any(m.subject.endswith(t) for t in titles)]
    assert len(about_coe) == 3
    demo = User.objects.get(username="demo")
    for item in coe.action_items.all():
        item_set_status(item=item, user=demo, status="done", note="Shipped.")
    coe.refresh_from_db()
    assert coe.state == "closed"
