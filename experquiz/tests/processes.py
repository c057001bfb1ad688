"""A deployment in subprocesses, for tests of what several processes see: gunicorn with several
workers, a Celery worker, beat and management commands, on the test's PostgreSQL database and a
private Redis (broker and cache), with the production settings (experquiz.settings.multiprocess_for_tests).

Each process runs in a session of its own so that the test can stop it, or SIGKILL it whole, by its
process group; every one is stopped when the fixture ends.
"""

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "multi-process-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def database_url() -> str:
    """The database this test runs on (pytest-django's test_… database), for the processes to share."""
    db = connection.settings_dict
    auth = (db["USER"] or "") + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PrivateRedis:
    """A redis-server of our own on a free port (never the machine's shared one: a test stops it)."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.pid = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def reachable(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
        except redis.exceptions.RedisError:
            return False

    def start(self):
        pidfile = self.directory / f"redis-{self.port}.pid"
        subprocess.run(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "yes", "--dir", str(self.directory),
                "--pidfile", str(pidfile), "--logfile", str(self.directory / f"redis-{self.port}.log"),
            ],
            check=True,
        )  # fmt: skip
        wait_until(self.reachable, timeout=10, message="the private redis")
        self.pid = int(pidfile.read_text())

    def stop(self):
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _alive(pid), timeout=10, message="the private redis to stop")


@dataclass
class Process:
    """One command in its own session, its output in a log file."""

    name: str
    command: list
    env: dict
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self):
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        """SIGKILL the whole process group: nothing gets to clean up, as in a crash."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(15)

    def stop(self):
        if not self.running():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Stack:
    """gunicorn (`web_workers` workers), a Celery worker and beat, sharing one database and one Redis."""

    directory: Path
    redis: PrivateRedis
    web_workers: int = 3
    port: int = field(default_factory=free_port)
    processes: dict = field(default_factory=dict)

    @property
    def env(self) -> dict:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "CACHE_"))}
        return {
            **keep,
            "DJANGO_SETTINGS_MODULE": "experquiz.settings.multiprocess_for_tests",
            "DEBUG": "0",
            "HTTPS": "0",  # plain HTTP on loopback
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": ".localhost,localhost",
            "BASE_DOMAIN": f"localhost:{self.port}",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.redis.url,
            "EMAIL_URL": os.environ.get("MULTIPROCESS_EMAIL_URL", "consolemail://"),
            "PYTHONUNBUFFERED": "1",
        }

    def _process(self, name, command) -> Process:
        process = Process(name, command, self.env, self.directory / f"{name}.log")
        self.processes[name] = process
        return process

    def start(self):
        self.start_web()
        self.start_worker()
        beat = self._process(
            "beat",
            [sys.executable, "-m", "celery", "-A", "experquiz", "beat", "--schedule", str(self.directory / "beat")],
        )
        beat.start()

    def start_web(self):
        web = self._process(
            "web",
            [
                sys.executable, "-m", "gunicorn", "experquiz.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.web_workers), "--timeout", "60",
            ],
        )  # fmt: skip
        web.start()
        wait_until(
            lambda: len(self.web_pids()) == self.web_workers and self.get_status("/healthz") == 200,
            timeout=60,
            message=f"gunicorn to answer with {self.web_workers} workers:\n{web.log()[-3000:]}",
        )

    def start_worker(self):
        worker = self._process(
            "worker",
            [
                sys.executable, "-m", "celery", "-A", "experquiz", "worker", "--concurrency=2", "--loglevel=INFO",
                "--without-gossip", "--without-mingle", "-n", f"mp-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
        )  # fmt: skip
        offset = len(worker.log())
        worker.start()
        wait_until(
            lambda: " ready." in worker.log()[offset:] or (not worker.running() and AssertionError(worker.log())),
            timeout=60,
            message="the Celery worker to be ready",
        )
        assert worker.running(), worker.log()[-3000:]

    def stop(self):
        for process in reversed(list(self.processes.values())):
            process.stop()

    def web_pids(self) -> set[int]:
        """The gunicorn workers' process ids (the master's children)."""
        web = self.processes["web"]
        path = Path(f"/proc/{web.popen.pid}/task/{web.popen.pid}/children")
        try:
            return {int(pid) for pid in path.read_text().split()}
        except FileNotFoundError:
            return set()

    def get_status(self, path, host="localhost") -> int | None:
        try:
            return request(self.port, "GET", path, host=host).status
        except OSError:
            return None

    def manage(self, *args, check=True) -> subprocess.CompletedProcess:
        """A management command in a process of its own, as an operator runs it."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result


@dataclass
class Answer:
    status: int
    headers: dict
    body: str

    @property
    def worker(self) -> int:
        return int(self.headers.get("x-worker-pid", 0))

    def json(self):
        return json.loads(self.body)


def request(port, method, path, *, host, headers=None, body=None) -> Answer:
    """One request on a connection of its own (so that any web worker may take it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        headers = {}
        for name, value in response.getheaders():
            name = name.lower()
            headers[name] = f"{headers[name]}\n{value}" if name in headers else value
        return Answer(response.status, headers, response.read().decode("utf-8", "replace"))
    finally:
        conn.close()


class Browser:
    """A person's browser on one tenant host: keeps the cookies, sends the CSRF token with forms."""

    def __init__(self, stack: Stack, slug: str):
        self.stack = stack
        self.host = f"{slug}.localhost:{stack.port}"
        self.cookies = {}
        self.lock = threading.Lock()

    def _send(self, method, path, *, data=None, headers=None) -> Answer:
        headers = dict(headers or {})
        with self.lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            token = self.cookies.get("csrftoken", "")
        body = None
        if data is not None:
            body = urlencode({**data, "csrfmiddlewaretoken": token}, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer = request(self.stack.port, method, path, host=self.host, headers=headers, body=body)
        cookie = SimpleCookie()
        for line in answer.headers.get("set-cookie", "").split("\n"):
            if line:
                cookie.load(line)
        with self.lock:
            self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
        return answer

    def get(self, path, **kwargs) -> Answer:
        return self._send("GET", path, **kwargs)

    def post(self, path, data, **kwargs) -> Answer:
        if "csrftoken" not in self.cookies:
            self.get("/login/")
        return self._send("POST", path, data=data, **kwargs)

    def login(self, username, password):
        self.get("/login/")
        answer = self.post("/login/", {"username": username, "password": password})
        assert answer.status == 302, answer.body[:2000]


def on_every_worker(stack: Stack, fetch, *, burst=6, rounds=40) -> dict[int, list[Answer]]:
    """Call `fetch()` (one request) in concurrent bursts until every web worker has answered.

    Returns {worker pid: every answer it gave}. A sync worker serves one request at a time, so a
    burst spreads over the workers.
    """
    pids = stack.web_pids()
    seen: dict[int, list[Answer]] = {}
    for _ in range(rounds):
        answers = [None] * burst

        def one(index, answers=answers):
            answers[index] = fetch()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(burst)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for answer in answers:
            seen.setdefault(answer.worker, []).append(answer)
        if pids <= set(seen):
            return seen
    raise AssertionError(f"only workers {sorted(seen)} of {sorted(pids)} answered")


def tab_count(html: str, status: str) -> int:
    """The count on a status tab of the users list ('' for All)."""
    match = re.search(rf'data-tab="{status or "all"}">[^<]*<span[^>]*data-count>(\d+)<', html)
    assert match, f"no {status or 'all'} tab in the page"
    return int(match.group(1))
