"""`manage.py loadgen`: a small shop's traffic, sent to the portal by the OpenTelemetry SDK:
metrics of every request, and live traces of a sample of them (the backfill sends no traces).

Under a process manager that stops every process when one exits (honcho in `make run`), it runs
with `--keep-running`: demo traffic is optional, so it must never take the portal down with it.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from coe_portal.accounts.models import ApiToken, Team
from coe_portal.accounts.services import api_token_create, api_token_revoke
from metrics.backends import is_read_only
from metrics.loadgen.backfill import backfill
from metrics.loadgen.live import run_live
from metrics.loadgen.shop import parse_incident
from metrics.models import Series
from metrics.promql.lexer import parse_duration

TOKEN_NAME = "loadgen"  # noqa: S105 (the token's label, not a secret)
USAGE_ERROR = 2  # CommandError's return code for a bad option: retrying cannot fix it


class PortalNotReady(CommandError):
    """The portal's /readyz did not answer 200 within --wait seconds."""


class Command(BaseCommand):
    help = (
        "Simulate a shop (frontend, cart, checkout, payments, search) instrumented with the "
        "OpenTelemetry SDK and export its metrics, and live traces of a sample of its requests, "
        "to the portal over OTLP/HTTP."
    )

    _token = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--endpoint",
            default=os.environ.get("LOADGEN_ENDPOINT", settings.SITE_URL),
            help="The portal's base URL (OTLP goes to <endpoint>/v1/metrics and /v1/traces).",
        )
        parser.add_argument(
            "--token",
            default=os.environ.get("LOADGEN_TOKEN", ""),
            help="An ingest token; by default one is created for team platform.",
        )
        parser.add_argument(
            "--incident",
            action="append",
            default=[],
            metavar="SPEC",
            help="e.g. checkout:errors=5%%:for=20m, search:latency=+800ms, "
            "cart:errors=20%%:for=10m:at=-2h (repeatable)",
        )
        parser.add_argument(
            "--backfill",
            default="",
            metavar="DURATION",
            help="Write this much history first (e.g. 7d), one point a minute.",
        )
        parser.add_argument(
            "--skip-backfill-if-present",
            action="store_true",
            help="Skip the backfill when the store already has shop metrics.",
        )
        parser.add_argument(
            "--duration",
            default="",
            metavar="DURATION",
            help="Run live for this long (default: until stopped; 0 for none).",
        )
        parser.add_argument("--interval", type=float, default=10.0, help="Export interval, s.")
        parser.add_argument(
            "--trace-rate",
            type=float,
            default=2.0,
            metavar="PER_SECOND",
            help="Live traces a second, shared equally by the kinds of request (each at most "
            "its own traffic); 0 sends no traces. Default 2.",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=60.0,
            help="Seconds to wait for the portal's /readyz before starting (or, with "
            "--keep-running, before saying so and waiting again).",
        )
        parser.add_argument(
            "--keep-running",
            action="store_true",
            help="Never exit on a failure (portal not ready, a failed backfill, a bad option): "
            "log it and try again, for a process manager that stops everything when one "
            "process exits.",
        )
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        if is_read_only():
            # The demo's traffic would have nowhere to go: the store the portal reads is the
            # team's own, fed by their own exporters.
            self.stderr.write(
                f"loadgen: the portal only reads metrics from {settings.METRICS_QUERY_URL} "
                "(no METRICS_REMOTE_WRITE_URL): no demo traffic."
            )
            while options["keep_running"]:
                time.sleep(3600)
            return
        if not options["keep_running"]:
            self._run(options)
            return
        retry_seconds = min(30.0, max(1.0, options["wait"]))
        try:
            while True:
                try:
                    self._run(options)
                    return
                except PortalNotReady as exc:
                    # _wait_for has already waited --wait seconds: go straight round again.
                    self.stderr.write(f"loadgen: {exc} Still waiting.")
                except CommandError as exc:
                    if exc.returncode != USAGE_ERROR:
                        self._log_retry(exc, retry_seconds)
                        continue
                    # Trying again cannot help; staying up keeps the rest of the stack up.
                    self.stderr.write(f"loadgen: {exc}. Demo traffic is off until a restart.")
                    while True:
                        time.sleep(3600)
                except Exception as exc:  # any other failure: log it, never exit
                    self._log_retry(exc, retry_seconds)
        except KeyboardInterrupt:
            return

    def _log_retry(self, exc: Exception, retry_seconds: float) -> None:
        self.stderr.write(
            f"loadgen: {type(exc).__name__}: {exc}. Trying again in {retry_seconds:g} s."
        )
        time.sleep(retry_seconds)

    def _run(self, options: dict[str, Any]) -> None:
        endpoint = options["endpoint"].rstrip("/")
        now_ms = int(time.time() * 1000)
        try:
            incidents = [parse_incident(text, now_ms) for text in options["incident"]]
            backfill_ms = parse_duration(options["backfill"]) if options["backfill"] else 0
            duration = options["duration"]
            live_seconds = (
                None
                if not duration
                else (0.0 if duration == "0" else parse_duration(duration) / 1000)
            )
        except (ValueError, Exception) as exc:
            raise CommandError(str(exc), returncode=USAGE_ERROR) from None
        if options["trace_rate"] < 0:
            raise CommandError("--trace-rate cannot be negative", returncode=USAGE_ERROR)
        self._wait_for(endpoint, options["wait"])
        token = options["token"] or self._token or self._demo_token()
        self._token = token  # one token for every attempt of this process

        def exporter() -> OTLPMetricExporter:
            return OTLPMetricExporter(
                endpoint=f"{endpoint}/v1/metrics",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

        def span_exporter() -> OTLPSpanExporter:
            return OTLPSpanExporter(
                endpoint=f"{endpoint}/v1/traces",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

        if backfill_ms:
            present = Series.objects.filter(metric_name="http_server_requests_total").exists()
            if options["skip_backfill_if_present"] and present:
                self.stdout.write("Shop metrics are already stored: no backfill.")
            else:
                self.stdout.write(f"Backfilling {options['backfill']} of history…")
                started = time.monotonic()
                points = backfill(
                    exporter(),
                    start_ms=now_ms - backfill_ms,
                    end_ms=now_ms - 60_000,
                    incidents=incidents,
                    seed=options["seed"],
                )
                self.stdout.write(
                    f"Backfilled {points} points in {time.monotonic() - started:.1f} s."
                )
        if live_seconds == 0.0:
            return
        traces = (
            f", about {options['trace_rate']:g} traces a second" if options["trace_rate"] else ""
        )
        self.stdout.write(
            f"Sending live traffic to {endpoint} every {options['interval']:g} s{traces} "
            "(Ctrl-C stops)."
        )
        with contextlib.suppress(KeyboardInterrupt):
            run_live(
                exporter,
                incidents=incidents,
                tick_seconds=min(5.0, options["interval"]),
                export_seconds=options["interval"],
                duration_seconds=live_seconds,
                seed=options["seed"] + 1,
                span_exporter_factory=span_exporter,
                trace_rate=options["trace_rate"],
            )

    def _demo_token(self) -> str:
        team = Team.objects.filter(name="platform").first()
        if team is None:
            raise CommandError(
                "No --token given and no team 'platform' to create one for: run `manage.py demo`."
            )
        for old in ApiToken.objects.filter(team=team, name=TOKEN_NAME, revoked_at__isnull=True):
            api_token_revoke(token=old)
        return api_token_create(team=team, name=TOKEN_NAME, scopes=["ingest"]).secret

    def _wait_for(self, endpoint: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/readyz", timeout=3) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise PortalNotReady(
                    f"The portal at {endpoint} did not become ready within {seconds:g} s "
                    "(is it the portal's address? Set LOADGEN_ENDPOINT, or run "
                    "`make run` with the same HOST and PORT as the web process)."
                )
            time.sleep(1)
