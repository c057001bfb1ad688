"""Real parts for delivery tests: an SMTP server, an SMS gateway, a private Redis, a private
PostgreSQL cluster, a Celery worker.

Everything listens on loopback ports picked at run time. The worker is a subprocess (so a test can
SIGKILL it) that shares the test's PostgreSQL database, which is why these tests need PostgreSQL
and a committed (transactional) database. It runs with the product's default delivery settings (no
INVITATIONS_* tuning), as deployed. Without PostgreSQL or Redis these tests are skipped locally and
fail under CI (CI=true).
"""

import asyncio
import contextlib
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parents[2]


def require(condition: bool, why: str) -> None:
    """Skip when a real part is missing, except under CI where it must be there."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must run the real-delivery tests)")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        return False


# --- SMTP ---------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self):
        self.messages = []
        self.trap_at = None
        self.trapped = threading.Event()
        self.hold = 5.0
        self.accept = False

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        if self.trap_at is not None and len(self.messages) + 1 == self.trap_at:
            # Keep the sender waiting for our answer (the test kills it, or its database, meanwhile).
            # Accepted: the message is ours (it reached the person) though the sender never hears so,
            # the in-flight message of a crash. Refused: it never was accepted.
            self.trap_at = None
            if self.accept:
                self.messages.append(message)
            self.trapped.set()
            await asyncio.sleep(self.hold)
            return "250 Message accepted for delivery" if self.accept else "451 4.3.0 Try again later"
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd in a thread; `stop()` and `start()` again on the same port simulate an outage."""

    def __init__(self):
        self.port = free_port()
        self.recorder = _Recorder()
        self.controller = None

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return list(self.recorder.messages)

    def to(self, address):
        return [message for message in self.messages if address in message["To"]]

    def invitation_counts(self) -> Counter:
        return Counter(int(message["X-ExperQuiz-Invitation"]) for message in self.messages)

    def trap(self, at: int, hold: float = 5.0, accept: bool = False):
        """Hold the answer to the `at`-th message for `hold` seconds; the event is set when it arrives."""
        self.recorder.trap_at = at
        self.recorder.hold = hold
        self.recorder.accept = accept
        return self.recorder.trapped


def body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


# --- SMS gateway --------------------------------------------------------------------------------


class SmsGateway:
    """An HTTP gateway stand-in: records `{"to", "body"}` posts; answers 503 while `failing`."""

    def __init__(self, token="gateway-secret"):
        self.posts = []
        self.failing = False
        self.token = token
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                if gateway.failing or self.headers.get("Authorization") != f"Bearer {gateway.token}":
                    self.send_response(503 if gateway.failing else 401)
                    self.end_headers()
                    return
                gateway.posts.append(payload)
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "queued"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def to(self, number):
        return [post for post in self.posts if post["to"] == number]


# --- Private Redis ------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of our own, never the shared one: stopping it is part of some tests."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.pid = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        pidfile = self.directory / "redis.pid"
        subprocess.run(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "yes",
                "--dir", str(self.directory),
                "--pidfile", str(pidfile),
                "--logfile", str(self.directory / "redis.log"),
            ],
            check=True,
        )  # fmt: skip
        wait_until(lambda: redis_reachable(self.url), timeout=10, message="the private redis")
        self.pid = int(pidfile.read_text())

    def stop(self):
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        pid, self.pid = self.pid, None

        def gone():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, timeout=10, message="the private redis to stop")


# --- Private PostgreSQL ---------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb on a free port), never the shared one: restarting it is
    part of a test. Its database starts as a copy of the test database (schema and rows)."""

    def __init__(self):
        self.bin = postgres_bin()
        self.port = free_port()
        # Not under pytest's tmp_path: the server runs as `postgres`, which cannot enter root's folders.
        self.directory = Path(tempfile.mkdtemp(prefix="experquiz-pg-"))
        self.as_owner = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.directory, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.name = "experquiz_faults"

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.name}"

    def _ctl(self, *args):
        # The server's output goes to its log, never to a pipe of ours: the server outlives pg_ctl, and
        # a pipe it held open would keep this call waiting.
        command = [*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-w"]
        command += ["-l", str(self.directory / "server.log"), *args]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def create(self, source: dict):
        subprocess.run(
            [*self.as_owner, str(self.bin / "initdb"), "-D", str(self.directory / "data"),
             "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory} -c fsync=off"
        )
        self._ctl("-o", options, "start")
        psql = [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q"]
        subprocess.run([*psql, "-c", f"CREATE DATABASE {self.name}"], check=True, capture_output=True)
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "--no-owner", "-h", source["HOST"] or "127.0.0.1",
             "-p", str(source["PORT"] or 5432), "-U", source["USER"] or "postgres", source["NAME"]],
            check=True, capture_output=True, env={**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""},
        )  # fmt: skip
        subprocess.run(
            [*psql, "-d", self.name, "-v", "ON_ERROR_STOP=1"], input=dump.stdout, check=True, capture_output=True
        )

    def restart(self):
        """A fast restart: every connection is cut, open transactions are lost."""
        self._ctl("-m", "fast", "restart")

    def destroy(self):
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


# --- Celery worker ------------------------------------------------------------------------------


def database_url() -> str:
    """The database this test runs on (pytest-django's test_… database), for the worker to share."""
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


class Worker:
    """`celery worker --beat` as a subprocess in its own session, so it can be SIGKILLed whole.

    Started again, it keeps its name, as a restarted worker of a deployment does."""

    def __init__(self, *, broker_url, smtp_url, sms_url, log_path: Path, extra_env=None, concurrency=1, db_url=None):
        self.log_path = log_path
        self.process = None
        self.name = f"test-{os.getpid()}-{time.monotonic_ns()}@%h"
        # Only what the test world needs: the delivery settings are the product's defaults.
        self.env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("INVITATIONS_")},
            "DJANGO_SETTINGS_MODULE": "experquiz.settings.worker_for_tests",
            "DATABASE_URL": db_url or database_url(),
            "TEST_WORKER_BROKER_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "EMAIL_URL": smtp_url,
            "SMS_URL": sms_url,
            "SMS_TOKEN": "gateway-secret",
            **(extra_env or {}),
        }
        self.concurrency = concurrency

    def start(self, beat=True):
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            sys.executable, "-m", "celery", "-A", "experquiz", "worker",
            "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-Q", settings.CELERY_TASK_DEFAULT_QUEUE,
            "-n", self.name,
        ]  # fmt: skip
        command += ["--pool=solo"] if self.concurrency == 1 else [f"--concurrency={self.concurrency}"]
        if beat:
            command += ["--beat", "--schedule", str(self.log_path.with_suffix(".beat"))]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited:\n{self.log()}")
            with self.log_path.open("rb") as file:
                file.seek(offset)
                return b" ready." in file.read()

        wait_until(ready, timeout=60, message="the worker to be ready")

    def kill(self):
        """SIGKILL the whole worker (main process, pool and beat): nothing gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


@contextlib.contextmanager
def publishing_to(broker_url):
    """Make this test process publish tasks to a real broker instead of running them in-process."""
    from experquiz.celery import app

    saved = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}

    def reset_pools():
        # kombu keeps producer pools per broker, process-wide: drop them so the next publish connects
        # to the broker now configured.
        from kombu import pools

        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    reset_pools()
    app.conf.update(broker_url=broker_url, task_always_eager=False)
    try:
        yield
    finally:
        reset_pools()
        app.conf.update(**saved)


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def real_db(transactional_db):
    require(connection.vendor == "postgresql", "a real worker shares the test database: PostgreSQL needed")


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sms_gateway():
    gateway = SmsGateway()
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture
def shared_redis_url():
    url = settings.TEST_REDIS_URL
    require(redis_reachable(url), f"Redis is not reachable at {url}")
    return url


@pytest.fixture
def private_redis(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres(real_db):
    """The test's own database copied into a private cluster, which this process uses too while the
    test runs (the links are opened through the app, on what the worker wrote)."""
    require(postgres_bin() is not None, "PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    require(os.geteuid() != 0 or shutil.which("runuser") is not None, "runuser is needed to run initdb as root")
    cluster = PrivatePostgres()
    default = connections["default"]
    saved = dict(default.settings_dict)
    try:
        cluster.create(saved)
        default.close()
        default.settings_dict.update(
            HOST="127.0.0.1", PORT=str(cluster.port), NAME=cluster.name, USER="postgres", PASSWORD=""
        )
        yield cluster
    finally:
        default.close()
        default.settings_dict.clear()
        default.settings_dict.update(saved)
        cluster.destroy()


@pytest.fixture
def make_worker(real_db, smtp_server, sms_gateway, tmp_path):
    workers = []

    def make(broker_url, **kwargs):
        worker = Worker(
            broker_url=broker_url,
            smtp_url=smtp_server.url,
            sms_url=sms_gateway.url,
            log_path=tmp_path / f"worker{len(workers)}.log",
            **kwargs,
        )
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()
