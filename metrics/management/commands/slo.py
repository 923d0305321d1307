"""`manage.py slo apply FILE` and `manage.py slo export`: SLOs as code (OpenSLO v1, Sloth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.slo.apply import ApplyError, slos_apply
from metrics.slo.models import SLO
from metrics.slo.yaml_errors import SLOExportError, SLOFileError
from metrics.slo.yaml_io import dump_openslo, dump_sloth, load_slos


class Command(BaseCommand):
    help = "Apply SLOs from an OpenSLO or Sloth YAML file, or export the stored ones."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        apply = actions.add_parser("apply", help="Create or update the SLOs in a YAML file.")
        apply.add_argument(
            "file", help="YAML file (OpenSLO v1 or Sloth prometheus/v1); - for stdin"
        )
        apply.add_argument("--dry-run", action="store_true", help="Say what would change.")
        export = actions.add_parser("export", help="Print the stored SLOs as YAML.")
        export.add_argument("--format", choices=["openslo", "sloth"], default="openslo")
        export.add_argument("--service", default="", help="Only this service's SLOs.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "apply":
            self._apply(options["file"], dry_run=options["dry_run"])
        else:
            self._export(options["format"], options["service"])

    def _apply(self, path: str, *, dry_run: bool) -> None:
        import sys

        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            applied = slos_apply(specs=load_slos(text), dry_run=dry_run)
        except (SLOFileError, ApplyError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        verb = "would be" if dry_run else "were"
        for label, names in (
            ("created", applied.created),
            ("updated", applied.updated),
            ("unchanged", applied.unchanged),
        ):
            for name in names:
                self.stdout.write(
                    f"{name}: {label}" if label == "unchanged" else f"{name}: {verb} {label}"
                )

    def _export(self, fmt: str, service: str) -> None:
        slos = SLO.objects.select_related("service").order_by("service__name", "name")
        if service:
            slos = slos.filter(service__name=service)
        specs = [slo.to_spec() for slo in slos]
        try:
            self.stdout.write(
                dump_openslo(specs) if fmt == "openslo" else dump_sloth(specs), ending=""
            )
        except SLOExportError as exc:
            raise CommandError(str(exc)) from None
