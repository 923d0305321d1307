"""Benchmarks of the portal against PostgreSQL: `make bench` (`python -m benchmarks.run`)."""
