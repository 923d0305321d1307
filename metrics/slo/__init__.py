"""Service level objectives: definitions, the burn-rate math, evaluation and alerts."""
