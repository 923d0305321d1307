"""Teams, services, memberships and API tokens: shared by `metrics` and `incidents`."""
