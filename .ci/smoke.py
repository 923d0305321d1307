"""Embedded smoke check: `make run` on SQLite and the filesystem broker, as a newcomer would.

Starts `make run` on a port other than 8000 (SMOKE_PORT, else a free one) in its own process
group with a fresh data directory, waits for /readyz, logs in as the demo user over HTTP, fetches
the dashboard, sends a task through the embedded broker to the worker, checks that the demo
traffic arrives on that port and that the stack stays up past the demo traffic's wait for the
portal (LOADGEN_WAIT, shortened here), then stops everything with Ctrl-C (SIGINT) and checks
nothing is left.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fail(message: str, log: Path) -> None:
    print(f"SMOKE FAILED: {message}\n--- make run output ---\n{log.read_text()[-6000:]}")
    sys.exit(1)


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="coe-smoke-"))
    port = int(os.environ.get("SMOKE_PORT") or free_port())
    loadgen_wait = 5  # seconds; the Procfile's default is 120
    base = f"http://127.0.0.1:{port}"
    log = data_dir / "make-run.log"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update({"PORT": str(port), "DATA_DIR": str(data_dir), "LOADGEN_WAIT": str(loadgen_wait)})
    for name in ("SITE_URL", "LOADGEN_ENDPOINT", "HOST"):
        env.pop(name, None)  # derived from PORT by `make run`, as for a newcomer
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=3) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None:
                fail(f"make run exited with {process.returncode} before /readyz answered", log)
            if time.monotonic() > deadline:
                fail("/readyz did not answer 200 within 300 s", log)
            time.sleep(1)
        output = log.read_text()
        if f"http://127.0.0.1:{port}/" not in output or "log in as demo / demo" not in output:
            fail("make run did not print the URL and the demo login", log)

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(f"{base}/login/", timeout=10).read().decode()
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page)
        if not match:
            fail("the login page has no CSRF token", log)
        form = urllib.parse.urlencode(
            {"username": "demo", "password": "demo", "csrfmiddlewaretoken": match.group(1)}
        ).encode()
        request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": base})
        dashboard = opener.open(request, timeout=10)
        html = dashboard.read().decode()
        if dashboard.url != f"{base}/" or "<h1>Dashboard</h1>" not in html:
            fail(f"logging in as demo did not land on the dashboard (at {dashboard.url})", log)
        for team in ("platform", "checkout"):
            if f'href="/teams/{team}/"' not in html:
                fail(f"the dashboard does not list the demo team {team}", log)
        services = opener.open(f"{base}/services/", timeout=10).read().decode()
        if "payments" not in services:
            fail("the services page does not list the demo services", log)

        ping = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", "shell", "--no-imports", "-c",
             "from coe_portal.tasks import ping; print(ping.delay().get(timeout=60))"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if ping.stdout.strip() != "pong":
            fail(f"the worker did not answer ping: {ping.stdout} {ping.stderr}", log)
        print("smoke: make run served the dashboard to the demo user; the worker answered ping")

        token = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", "create_token", "--team", "platform",
             "--scopes", "read", "--name", "smoke"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
        ).stdout.strip()  # fmt: skip
        query = urllib.parse.urlencode({"query": "sum(http_server_requests_total)"})
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                fail(f"make run exited with {process.returncode} as the demo traffic began", log)
            request = urllib.request.Request(
                f"{base}/api/v1/query?{query}", headers={"Authorization": f"Bearer {token}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    result = json.load(response)["data"]["result"]
            except OSError:
                result = []  # down: the next round says how make run ended
            # Past the loadgen's wait, which used to end the whole stack when it expired.
            if result and time.monotonic() - started > loadgen_wait + 15:
                break
            if time.monotonic() > deadline:
                fail(f"no demo traffic arrived on port {port} within 300 s", log)
            time.sleep(2)
        if '"POST /v1/metrics HTTP/1.1" 200' not in log.read_text():
            fail(f"the demo traffic was not sent to port {port}", log)
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
            if response.status != 200 or process.poll() is not None:
                fail("the stack did not stay up while the demo traffic ran", log)
        print(
            f"smoke: the demo traffic arrived on port {port}; the stack stayed up "
            f"{time.monotonic() - started:.0f} s (the loadgen's wait: {loadgen_wait} s)"
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                fail("Ctrl-C did not stop make run within 60 s", log)
    time.sleep(1)
    left = subprocess.run(
        ["pgrep", "-g", str(process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    if left:
        os.killpg(process.pid, signal.SIGKILL)
        fail(f"processes left running after Ctrl-C: {left}", log)
    print("smoke: Ctrl-C stopped web, worker and beat")


if __name__ == "__main__":
    main()
