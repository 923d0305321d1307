"""Threshold alarms with CloudWatch's semantics, composite alarms, and their evaluation."""
