"""Real peer processes for the tests: the server under test, PostgreSQL databases, an S3 server.

Nothing here is mocked. `start_server` runs ``python -m medflow server`` as a subprocess on a
free port with its own log file, `PostgresAdmin` creates and drops throw-away databases on the
local PostgreSQL, and `start_s3_server` runs moto's standalone S3-compatible server over HTTP.

Developer aid: ``MEDFLOW_TEST_SERVER=mlflow`` runs the reference ``mlflow server`` (the installed
mlflow 3.x) instead of MedFlow, to check a test against the incumbent. The suite runs MedFlow.
"""
from __future__ import annotations

import getpass
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCALHOST = "127.0.0.1"
PG_HOST, PG_PORT = LOCALHOST, 5432
S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION = "medflow-test", "medflow-test-secret", "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        return f"<no log: {e}>"
    return "\n".join(text.splitlines()[-lines:])


# --- processes -------------------------------------------------------------------------------

@dataclass
class Process:
    """A subprocess in its own process group, with its output in one log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The server under test is this checkout's code, whatever `medflow` is installed elsewhere.
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": python_path, **self.env}
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=env, cwd=self.log_path.parent,
                                          start_new_session=True)
        return self

    def wait_http(self, url: str, timeout: float, ok=lambda status: status == 200) -> None:
        """Poll url until `ok(status)`; raise with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.popen.returncode} before it was "
                                   f"ready; log {self.log_path}:\n{log_tail(self.log_path)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except (urllib.error.URLError, OSError) as e:
                status, last = None, repr(e)
            if status is not None:
                if ok(status):
                    return
                last = f"HTTP {status}"
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout:.0f}s ({last}); "
                           f"log {self.log_path}:\n{log_tail(self.log_path)}")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds."""
        if self.popen is None or self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # workers left behind in the group once the leader is gone
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# --- the server under test -------------------------------------------------------------------

SERVER_IMPL = os.environ.get("MEDFLOW_TEST_SERVER", "medflow")


@dataclass
class Server:
    url: str
    backend: str
    data_dir: Path
    db_url: str
    log_path: Path
    artifacts_destination: str
    process: Process

    def stop(self) -> None:
        self.process.stop()

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)


def server_argv(port: int, db_url: str, artifacts_destination: str) -> list[str]:
    if SERVER_IMPL == "mlflow":  # the reference server, see the module docstring
        if db_url.startswith("postgresql://"):
            db_url = "postgresql+psycopg://" + db_url[len("postgresql://"):]
        return [sys.executable, "-m", "mlflow", "server", "--host", LOCALHOST, "--port", str(port),
                "--workers", "1", "--backend-store-uri", db_url,
                "--artifacts-destination", artifacts_destination]
    return [sys.executable, "-m", "medflow", "server", "--host", LOCALHOST, "--port", str(port),
            "--backend-store-uri", db_url, "--artifacts-destination", artifacts_destination]


def start_server(data_dir: Path, backend: str, db_url: str, artifacts_destination: str | None = None,
                 env: dict[str, str] | None = None, timeout: float = 90.0) -> Server:
    """Start the server under test on a free port; return once GET /health answers 200."""
    data_dir.mkdir(parents=True, exist_ok=True)
    artifacts_destination = artifacts_destination or str(data_dir / "artifacts")
    port = free_port()
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **FAST_ARGON2, **(env or {})}
    if SERVER_IMPL == "medflow" and env.get("MEDFLOW_AUTH_ENABLED", "true") != "false":
        create_admin(db_url)
    if SERVER_IMPL == "mlflow" and "MEDFLOW_S3_ENDPOINT_URL" in env:
        env["MLFLOW_S3_ENDPOINT_URL"] = env["MEDFLOW_S3_ENDPOINT_URL"]
    process = Process(f"{SERVER_IMPL} server ({backend})",
                      server_argv(port, db_url, artifacts_destination),
                      data_dir / "server.log", env).start()
    url = f"http://{LOCALHOST}:{port}"
    process.wait_http(url + "/health", timeout)
    return Server(url, backend, data_dir, db_url, process.log_path, artifacts_destination, process)


# Authentication is on, as in production: every test server gets this admin account, and the
# clients find it in MLFLOW_TRACKING_USERNAME/PASSWORD (and a netrc file for raw `requests`
# calls), set for the whole session by tests/conftest.py.
ADMIN_USER, ADMIN_PASSWORD = "test-admin", "Correct-Horse-Battery-Staple-0001"
# Cheaper password hashing for test servers (the production default costs ~50 ms a login).
FAST_ARGON2 = {"MEDFLOW_AUTH_ARGON2_TIME_COST": "1", "MEDFLOW_AUTH_ARGON2_MEMORY_KIB": "8192"}


def create_admin(db_url: str) -> None:
    """Create the test admin in a (fresh) database, as `medflow users create-admin` does."""
    from medflow.auth.config import AuthConfig
    from medflow.auth.service import AuthServices
    from medflow.config import Settings
    from medflow.store import migrations
    from medflow.store.engine import Database

    settings = Settings.load({k: v for k, v in FAST_ARGON2.items()}, backend_store_uri=db_url)
    db = Database(db_url)
    try:
        migrations.prepare_for_serving(db)
        accounts = AuthServices(db, AuthConfig.from_settings(settings)).accounts
        if not any(user["username"] == ADMIN_USER for user in accounts.list_users()):  # replicas share a db
            accounts.create_admin(ADMIN_USER, ADMIN_PASSWORD, actor="test-setup", display_name="Test Admin")
    finally:
        db.dispose()


def client_credentials_env(netrc_path: Path) -> dict[str, str]:
    """What a user of the official client sets: credentials in environment variables only."""
    netrc_path.write_text(f"machine {LOCALHOST} login {ADMIN_USER} password {ADMIN_PASSWORD}\n")
    netrc_path.chmod(0o600)
    return {"MLFLOW_TRACKING_USERNAME": ADMIN_USER, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD,
            "NETRC": str(netrc_path)}


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'medflow.db').resolve()}"  # four slashes: an absolute path


# --- PostgreSQL ------------------------------------------------------------------------------

class PostgresUnavailable(RuntimeError):
    pass


class PostgresAdmin:
    """Creates and drops databases on the local PostgreSQL (trust auth)."""

    def __init__(self, user: str):
        self.user = user

    @classmethod
    def connect(cls) -> "PostgresAdmin":
        """Find a user that can log in: the OS user, then `postgres`."""
        import psycopg

        errors = []
        for user in dict.fromkeys([getpass.getuser(), "postgres"]):
            try:
                with psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="postgres",
                                     connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
                return cls(user)
            except psycopg.Error as e:
                errors.append(f"{user}: {' '.join(str(e).split())}")
        raise PostgresUnavailable(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not usable "
                                  f"({'; '.join(errors)})")

    def _execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=self.user, dbname="postgres",
                             autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    def create_database(self) -> tuple[str, str]:
        """Create a fresh database; return (name, URL for --backend-store-uri)."""
        name = f"medflow_t_{secrets.token_hex(6)}"
        self._execute(f'CREATE DATABASE "{name}"')
        return name, f"postgresql://{self.user}@{PG_HOST}:{PG_PORT}/{name}"

    def drop_database(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- S3 --------------------------------------------------------------------------------------

@dataclass
class S3Server:
    endpoint_url: str
    log_path: Path
    process: Process

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=S3_REGION,
                            aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY)

    def create_bucket(self, prefix: str = "medflow-test") -> str:
        name = f"{prefix}-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    def server_env(self) -> dict[str, str]:
        """Environment for a server that stores artifacts here."""
        return {"MEDFLOW_S3_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY, "AWS_DEFAULT_REGION": S3_REGION}

    def stop(self) -> None:
        self.process.stop()


def start_s3_server(data_dir: Path, timeout: float = 60.0) -> S3Server:
    """moto's standalone server (in memory) on a free port."""
    port = free_port()
    process = Process("moto S3 server",
                      [sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", str(port)],
                      data_dir / "moto.log").start()
    url = f"http://{LOCALHOST}:{port}"
    process.wait_http(url + "/", timeout, ok=lambda status: status < 500)
    return S3Server(url, process.log_path, process)
