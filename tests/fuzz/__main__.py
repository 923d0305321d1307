"""`make fuzz`: FUZZ_COUNT payloads per endpoint (default 10 000) from FUZZ_SEED, plus the corpus,
against gunicorn on PostgreSQL (DATABASE_URL's server). Prints a table per endpoint and every
problem found; failing payloads are written to FUZZ_FAILURES (default var/fuzz-failures).
Exits 1 when any answer broke the rule."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

from tests.fuzz.generators import GENERATORS
from tests.fuzz.harness import Runner, portal, save_findings


def main() -> int:
    count = int(os.environ.get("FUZZ_COUNT", "10000"))
    seed = int(os.environ.get("FUZZ_SEED", "1"))
    mutation_rate = float(os.environ.get("FUZZ_MUTATION_RATE", "0.8"))
    wanted = os.environ.get("FUZZ_ENDPOINTS", "")
    endpoints = [e for e in GENERATORS if not wanted or e in wanted.split(",")]
    started = time.monotonic()
    with portal() as target:
        runner = Runner(target)
        corpus = runner.run_corpus()
        print(f"corpus: {corpus} payloads replayed", flush=True)
        for endpoint in endpoints:
            runner.run_generated(endpoint, count=count, seed=seed, mutation_rate=mutation_rate)
            print(f"{endpoint}: done", flush=True)
        findings = runner.findings()
        print()
        print(f"seed {seed}, {count} payloads per endpoint, {time.monotonic() - started:.0f} s")
        print(runner.table())
        if findings:
            print("\nproblems (endpoint, what was done, how many, first answer):")
            grouped = Counter((f.endpoint, f.label, f.problem[:160]) for f in findings)
            for (endpoint, label, problem), times in grouped.most_common(60):
                print(f"  {endpoint:<24} {label:<22} x{times:<5} {problem}")
            folder = Path(os.environ.get("FUZZ_FAILURES", "var/fuzz-failures"))
            save_findings(findings, folder)
            print(f"\nfailing payloads written to {folder}/")
            (folder / "gunicorn.log").write_bytes(target.log.read_bytes())
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
