"""Incidents, COE reports, action items and their reminders."""
