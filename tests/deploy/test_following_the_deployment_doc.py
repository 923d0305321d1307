"""A deployment that follows docs/deployment.md step by step, on a clean export of the committed
tree (`git archive HEAD`, so no ignored or untracked file of this checkout can help).

It sets the environment the doc tells you to (a fresh PostgreSQL database, Redis, DEBUG off),
runs `check --deploy`, `migrate` and `collectstatic`, starts the Procfile's `web` line (gunicorn),
creates the first administrator and a team and a service in the admin, and then, logged in as
that administrator behind a TLS-terminating proxy (`X-Forwarded-Proto: https`), walks the UI:
every page of the URL conf answers 200 and every script, stylesheet and icon it references
(plotly.js included) is served, and the walk reaches every page route of the URL conf. The
demo data (`manage.py demo`), an alarm made on its form, a trace sent to the Zipkin intake and a
COE started from an incident that needs one give it an object of each kind to open (a few
pages of each route, not all of them: the whole module takes well under a minute and a half).

Every command runs with this test run's Python, the project's virtualenv: installing
requirements.txt into a new virtualenv would take minutes and test pip, not the doc.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import tarfile
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from tests.support import (
    BIN,
    REPO_ROOT,
    free_port,
    portal_database,
    require_redis,
    skip_or_fail,
)

pytestmark = pytest.mark.integration

DOC = REPO_ROOT / "docs" / "deployment.md"
PUBLIC_HOST = "portal.example.com"  # the doc's example host name, sent as the proxy would
ORIGIN = f"https://{PUBLIC_HOST}"
ADMIN_USERNAME = "admin"  # the doc's
ADMIN_PASSWORD = secrets.token_urlsafe(16)

# URL names that are not pages to open in a browser: probes, the APIs and intakes, and the
# form targets and JSON endpoints behind the pages (those that a page loads are fetched too).
NOT_PAGES = {
    "healthz", "readyz", "metrics", "logout", "api-whoami",
    "metrics:remote-write", "metrics:otlp-metrics", "metrics:otlp-traces",
    "metrics:zipkin-spans", "metrics:alertmanager-webhook", "metrics:explorer-data",
    "metrics:alarm-acknowledge", "metrics:alarm-silence", "metrics:slo-silence",
    "metrics:silence-end",
    "incidents:incident-edit", "incidents:incident-status", "incidents:timeline-add",
    "incidents:timeline-edit",
    "incidents:coe-start", "incidents:coe-comment", "incidents:coe-review",
    "incidents:coe-field", "incidents:coe-whys", "incidents:coe-item-add",
    "incidents:coe-item-delete", "incidents:coe-finding-ack", "incidents:coe-preview",
    "incidents:action-status", "incidents:action-due", "incidents:action-snooze",
    "accounts:token-revoke",
}  # fmt: skip
TRACE_ID = "5b8efff798038103d269b633813fc60c"
PAGES_PER_ROUTE = 2  # e.g. two incidents' detail pages, not all of them


@dataclass
class Response:
    path: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    """A browser behind the doc's TLS-terminating proxy: it asks for the public host name with
    `X-Forwarded-Proto: https`, and keeps its cookies (secure ones too: its side is HTTPS)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            response = Response(path, answer.status, answer.headers, answer.read())
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def submit(self, path: str, fields: dict[str, str], action: str | None = None) -> Response:
        """Fill in the form of the page at `path` that has these fields (its other fields as
        the page has them) and post it, as a browser does; answers the page it redirects to."""
        page = self.get(path)
        assert page.status == 200, f"{path}: {page.status}"
        form = FormParser.form_with(page.text, set(fields), action)
        values = {**form.values, **fields}
        target = urllib.parse.urljoin(path, form.action or path)
        answer = self.request(
            "POST", target, body=urllib.parse.urlencode(values).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": ORIGIN, "Referer": f"{ORIGIN}{path}",
            },
        )  # fmt: skip
        errors = re.findall(
            r'class="(?:errorlist|field-error|errors)[^>]*>(.*?)</(?:ul|p|div)>', answer.text, re.S
        )
        assert answer.status == 302, f"posting {target}: {answer.status} {errors}"
        location = urllib.parse.urlsplit(answer.headers["Location"])
        return self.get(urllib.parse.urlunsplit(("", "", location.path, location.query, "")))


@dataclass
class Form:
    action: str
    values: dict[str, str] = field(default_factory=dict)


class FormParser(HTMLParser):
    """The forms of a page with the values a browser would send unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None

    @classmethod
    def form_with(cls, html: str, names: set[str], action: str | None = None) -> Form:
        parser = cls()
        parser.feed(html)
        return next(
            form
            for form in parser.forms
            if names <= set(form.values) and action in {None, form.action}
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("action", "")))
        if not self.forms or ("name" not in attributes and tag != "option"):
            return
        values = self.forms[-1].values
        if tag == "input":
            kind = attributes.get("type", "text")
            if kind in {"checkbox", "radio"} and "checked" not in attributes:
                return
            if kind not in {"submit", "button", "file", "image"}:
                checkable = kind in {"checkbox", "radio"}
                values[attributes["name"]] = attributes.get("value", "on" if checkable else "")
        elif tag == "select":
            self._select = attributes["name"]
            # A multiple select sends only its selected options (none here: one value kept).
            self._select_chosen = "multiple" in attributes
            if not self._select_chosen:
                values[self._select] = ""  # one with no options (autocomplete) sends ""
        elif tag == "option" and self._select is not None:
            # The selected option, else the first one.
            if not self._select_chosen or "selected" in attributes:
                values[self._select] = attributes.get("value", "")
                self._select_chosen = "selected" in attributes or not self._select_chosen
        elif tag == "textarea":
            self._textarea = attributes["name"]
            values[self._textarea] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.forms[-1].values[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            values = self.forms[-1].values
            # A browser drops the newline that follows <textarea>.
            values[self._textarea] = values[self._textarea].removeprefix("\n")
            self._textarea = None


class LinkParser(HTMLParser):
    """The same-site links of a page, and the static files and data URLs it loads."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.assets: list[str] = []
        self.data_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "a" and attributes.get("href", "").startswith("/"):
            self.links.append(attributes["href"])
        if tag in {"script", "img"} and attributes.get("src"):
            self.assets.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.assets.append(attributes["href"])
        for name, value in attributes.items():
            if name.startswith("data-") and name.endswith("url") and value.startswith("/"):
                self.data_urls.append(value)


def route_name(path: str) -> str | None:
    try:
        match = resolve(urllib.parse.urlsplit(path).path)
    except Resolver404:
        return None
    return match.view_name


def url_names(patterns: list[URLPattern | URLResolver], namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= url_names(pattern.url_patterns, inner)
        elif pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def doc_exports() -> dict[str, str]:
    """The variables step 2 of the doc exports, with the doc's example values."""
    block = re.search(r"```sh\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/deployment.md has no environment block"
    exports: dict[str, str] = {}
    for line in block.group(1).splitlines():
        words = shlex.split(line)
        if words and words[0] == "export":
            exports |= dict(word.split("=", 1) for word in words[1:])
    return exports


def doc_commands() -> list[str]:
    found = re.findall(r"`(?:\S+=\S+ )*python (manage\.py [^`]+)`", DOC.read_text())
    return [" ".join(command.split()) for command in found]


@dataclass
class Deployment:
    env: dict[str, str]
    checkout: Path
    browser: Browser
    outputs: dict[str, str]

    def manage(self, *args: str, extra_env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=self.checkout,
            env={**self.env, **(extra_env or {})}, capture_output=True, text=True, timeout=180,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, (
            f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
        )
        return result.stdout


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        skip_or_fail("the deployment doc needs PostgreSQL: set DATABASE_URL")
    broker = require_redis()
    tmp_path = tmp_path_factory.mktemp("deployment")
    checkout = tmp_path / "coe-portal"
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=REPO_ROOT, capture_output=True,
        check=False,
    )  # fmt: skip
    if archive.returncode != 0:
        skip_or_fail(f"not a git checkout: {archive.stderr.decode()}")
    checkout.mkdir()
    archive_path = tmp_path / "head.tar"
    archive_path.write_bytes(archive.stdout)
    with tarfile.open(archive_path) as tar:
        tar.extractall(checkout, filter="data")

    with portal_database(tmp_path) as database_url:
        # Step 2: the doc's variables (a KeyError names one added to the doc but not here),
        # with this machine's PostgreSQL and Redis in place of the doc's examples.
        local_values = {
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": PUBLIC_HOST,
            "CSRF_TRUSTED_ORIGINS": ORIGIN,
            "SITE_URL": ORIGIN,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",  # no mail leaves: no worker runs here
        }
        env = {name: local_values[name] for name in doc_exports()}
        env |= {
            "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin",  # the virtualenv first, as the doc says
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "TRUST_X_FORWARDED_PROTO": "true",  # behind a TLS-terminating proxy
        }
        port = free_port()
        env |= {"HOST": "127.0.0.1", "PORT": str(port)}
        deployment = Deployment(env, checkout, Browser(port), {})
        # Steps 3 and 4.
        deployment.outputs["check"] = deployment.manage("check", "--deploy")
        deployment.manage("migrate")
        deployment.manage("collectstatic", "--noinput")
        # Step 5: the Procfile's web line, as a supervisor runs it.
        procfile = dict(
            line.split(":", 1) for line in (checkout / "Procfile").read_text().splitlines() if line
        )
        web = shlex.split(procfile["web"])
        try:
            with serving(web, env, checkout, tmp_path / "web.log") as server:
                deadline = time.monotonic() + 30
                while True:
                    with suppress(OSError):
                        if deployment.browser.get("/readyz").status == 200:
                            break
                    assert server.poll() is None, (tmp_path / "web.log").read_text()
                    assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
                    time.sleep(0.3)
                # Step 6: the first administrator, without a prompt.
                deployment.manage(
                    "createsuperuser", "--noinput", "--username", "admin",
                    "--email", "admin@example.com",
                    extra_env={"DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
                )  # fmt: skip
                yield deployment
        finally:
            # Tasks the pages queued have no worker here: leave none for another test's worker.
            with suppress(AssertionError):
                deployment.manage("shell", "--no-imports", "-c", PURGE)


PURGE = "from coe_portal.celery import app; app.control.purge()"


@contextmanager
def serving(
    command: list[str], env: dict[str, str], cwd: Path, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run the web process in the exported checkout for the duration of a block."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def test_the_doc_sets_the_variables_and_runs_the_commands_this_test_does():
    assert set(doc_exports()) == {
        "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SITE_URL", "DATABASE_URL",
        "CELERY_BROKER_URL", "EMAIL_BACKEND", "EMAIL_HOST",
    }  # fmt: skip
    assert doc_commands() == [
        "manage.py check --deploy",
        "manage.py migrate",
        "manage.py collectstatic --noinput",
        "manage.py createsuperuser",
        "manage.py createsuperuser --noinput --username admin --email admin@example.com",
    ]
    assert "TRUST_X_FORWARDED_PROTO=true" in DOC.read_text()
    assert "DJANGO_SUPERUSER_PASSWORD=" in DOC.read_text()
    assert "`HOST`:`PORT`" in DOC.read_text()
    assert "web: gunicorn coe_portal.wsgi" in (REPO_ROOT / "Procfile").read_text()


def test_check_deploy_reports_no_issues(deployment):
    assert "System check identified no issues (0 silenced)." in deployment.outputs["check"]


def test_the_health_check_answers_for_the_public_host_name(deployment):
    response = deployment.browser.get("/readyz")
    assert response.status == 200
    assert json.loads(response.body)["checks"] == {
        "database": "ok",
        "storage": "ok",
        "broker": "ok",
    }


def test_every_page_and_the_files_it_loads_are_served(deployment):
    browser = deployment.browser
    pages_by_route: dict[str, list[str]] = defaultdict(list)
    assets: dict[str, set[str]] = defaultdict(set)  # asset -> the pages that load it
    problems: list[str] = []

    def open_page(path: str) -> LinkParser | None:
        """GET a page: 200 with no manifest error; remembers the files it loads."""
        pages_by_route[route_name(path) or path].append(path)
        response = browser.get(path)
        if response.status != 200:
            problems.append(f"{path}: {response.status} {response.text[:300]}")
            return None
        if "text/html" not in response.headers.get("Content-Type", ""):
            return LinkParser()
        if "Missing staticfiles manifest entry" in response.text:
            problems.append(f"{path}: missing staticfiles manifest entry")
        parser = LinkParser()
        parser.feed(response.text)
        # Links the portal writes in full (SITE_URL), e.g. the calendar feed's address.
        parser.links += re.findall(rf"{re.escape(ORIGIN)}(/[^\s<\"']*)", response.text)
        for asset in parser.assets:
            assets[asset].add(path)
        return parser

    open_page("/login/")
    login = browser.submit("/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert "<h1>Dashboard</h1>" in login.text

    # Step 6 of the doc: a team with the administrator as its lead, and a service, in the admin.
    admin_id = re.search(r'href="/admin/auth/user/(\d+)/change/"', browser.get(
        "/admin/auth/user/").text)  # fmt: skip
    assert admin_id, "the administrator is not in the admin's user list"
    browser.submit("/admin/accounts/team/add/", {
        "name": "shop", "display_name": "Shop",
        "memberships-0-user": admin_id.group(1), "memberships-0-role": "lead",
    })  # fmt: skip
    service_form = browser.get("/admin/accounts/service/add/").text
    team_id = re.search(r'<option value="(\d+)">Shop</option>', service_form)
    assert team_id, "the new team is not offered for a service"
    browser.submit(
        "/admin/accounts/service/add/",
        {"name": "storefront", "team": team_id.group(1), "tier": "1"},
    )
    # One of each kind of object: the demo data, an alarm made on its form, a trace sent to
    # the Zipkin intake, and a draft COE started from an incident that needs one.
    deployment.manage("demo", extra_env={"DEMO_PASSWORD": secrets.token_urlsafe(16)})
    alarm = browser.submit("/alarms/new/", {
        "team": team_id.group(1), "name": "storefront-errors", "kind": "threshold",
        "expression": "sum(rate(http_server_requests_total[5m]))", "period_seconds": "60",
        "evaluation_periods": "3", "datapoints_to_alarm": "2", "comparison": ">",
        "threshold": "100", "treat_missing_data": "missing", "enabled": "on",
    })  # fmt: skip
    assert "storefront-errors" in alarm.text
    token = deployment.manage(
        "create_token", "--team", "shop", "--scopes", "ingest", "--name", "deploy-test"
    ).strip()
    now_us = int(time.time() * 1_000_000)
    span = [{
        "traceId": TRACE_ID, "id": "eee19b7ec3c1b174",
        "name": "get /", "kind": "SERVER", "timestamp": now_us - 5_000_000, "duration": 2500,
        "localEndpoint": {"serviceName": "storefront"}, "tags": {"http.status_code": "200"},
    }]  # fmt: skip
    sent = browser.request(
        "POST", "/api/v2/spans", body=json.dumps(span).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert sent.status == 202, sent.text
    coe_due = re.search(r'href="(/incidents/(\d+)/)"', browser.get(
        "/incidents/?status=coe_due").text)  # fmt: skip
    assert coe_due, "the demo has no incident whose COE is due"
    draft = browser.submit(coe_due.group(1), {}, action=f"/incidents/{coe_due.group(2)}/coe")
    draft_coe = re.fullmatch(r"(/coes/\d+/)edit", draft.path)
    assert draft_coe, f"starting a COE did not lead to its editor but to {draft.path}"

    # The walk: every page it can reach from these, a few of each route.
    queue = ["/", "/admin/", f"/traces/{TRACE_ID}/", draft_coe.group(1)]
    seen: set[str] = set()
    while queue:
        path = queue.pop(0)
        name = route_name(path)
        if path in seen or name is None or name in NOT_PAGES:
            continue
        if name.startswith("admin:") and name != "admin:index":
            continue  # Django's own pages: the index shows that they are styled
        if len(pages_by_route[name]) >= PAGES_PER_ROUTE:
            continue
        seen.add(path)
        parser = open_page(path)
        if parser is None:
            continue
        queue += [url for url in parser.data_urls if route_name(url) not in NOT_PAGES]
        queue += [link.split("#")[0] for link in parser.links if not link.startswith("/static/")]

    for asset, pages in sorted(assets.items()):
        response = browser.get(asset)
        if response.status != 200 or not response.body:
            problems.append(f"{asset} (loaded by {sorted(pages)[0]}): {response.status}")
    assert not problems, "\n".join(problems)

    all_names = url_names(get_resolver().url_patterns)
    assert all_names >= NOT_PAGES, "NOT_PAGES names a URL that is gone"
    expected = {
        name for name in all_names if not re.match(r"(\w+:)?(api-|trace-api-|admin:)", name)
    } - NOT_PAGES
    unreached = sorted(expected - set(pages_by_route))
    assert not unreached, f"pages the walk did not reach: {unreached}"
    plotly = [asset for asset in assets if re.search(r"/plotly\.min\.[0-9a-f]+\.js$", asset)]
    assert plotly, "no page loads plotly.js"
    chart_pages = {route_name(page) for page in assets[plotly[0]]}
    assert {"metrics:explorer", "metrics:slo-detail", "incidents:analytics"} <= chart_pages
    assert any(asset.endswith(".css") for asset in assets), "no page loads a stylesheet"
