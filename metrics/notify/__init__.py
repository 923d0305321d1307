"""Notifications: channels, the deliveries owed for each alarm or SLO state change, and sending
them with retries, exactly once per (state change, channel)."""
