"""Start and stop the servers under test, each on a free port with its own data directory and database.

Every server runs in its own session (process group) so that stopping it ends its whole process
tree (MLflow forks uvicorn workers and a job runner with huey consumers) and nothing else.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URI_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class ServerSpec:
    """One server configuration, independent of the backend."""

    name: str                      # short id used on the command line and in tables
    kind: str                      # medflow | mlflow | fasttrackml
    env: dict[str, str] = field(default_factory=dict)
    workers: int | None = None     # mlflow --workers (None: MLflow's default, 4)
    extra_args: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Authorization for MedFlow


def parse_server_list(names: str, medflow_envs: list[str], medflow_headers: dict[str, str]) -> list[ServerSpec]:
    """`medflow,mlflow,mlflow-w1,fasttrackml` plus one extra MedFlow per --medflow-env."""
    specs: list[ServerSpec] = []
    for raw in [n.strip() for n in names.split(",") if n.strip()]:
        if raw == "medflow":
            specs.append(ServerSpec("medflow", "medflow", headers=dict(medflow_headers)))
        elif re.fullmatch(r"mlflow(-w\d+)?(-asyncio)?", raw):
            # -wN: --workers N; -asyncio: uvicorn on the plain asyncio loop, as `pip install mlflow`
            # alone installs it (no uvloop): multi-worker uvicorn then leaves TCP_NODELAY off
            m = re.fullmatch(r"mlflow(?:-w(\d+))?(-asyncio)?", raw)
            specs.append(ServerSpec(raw, "mlflow", workers=int(m.group(1)) if m.group(1) else None,
                                    extra_args=["--uvicorn-opts", "--loop asyncio"] if m.group(2) else []))
        elif raw in ("fasttrackml", "fml"):
            specs.append(ServerSpec("fasttrackml", "fasttrackml"))
        else:
            raise SystemExit(f"unknown server {raw!r}: use medflow, mlflow, mlflow-wN, mlflow[-wN]-asyncio, fasttrackml")
    for i, item in enumerate(medflow_envs):
        head, sep, rest = item.partition(":")
        label, assignments = (head, rest) if sep and "=" not in head else ("", item)
        env = {}
        for pair in [p for p in assignments.split(",") if p]:
            key, sep, value = pair.partition("=")
            if not sep:
                raise SystemExit(f"--medflow-env expects NAME=VALUE[,NAME=VALUE], got {item!r}")
            env[key.strip()] = value
        name = "medflow-" + (label or "+".join(f"{k.removeprefix('MEDFLOW_').lower()}={v}" for k, v in env.items()) or str(i))
        specs.append(ServerSpec(name, "medflow", env=env, headers=dict(medflow_headers)))
    return specs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(cmd: str, module: str) -> list[str]:
    path = shutil.which(cmd)
    return [path] if path else [sys.executable, "-m", module]


class PostgresAdmin:
    """Creates one database per server and drops it afterwards (PostgreSQL trust auth on 127.0.0.1)."""

    def __init__(self, admin_uri: str = PG_ADMIN_URI_DEFAULT):
        self.admin_uri = admin_uri
        self.created: list[str] = []

    def _conn(self):
        import psycopg
        return psycopg.connect(self.admin_uri, autocommit=True, connect_timeout=10)

    def create(self, name: str) -> None:
        with self._conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)

    def drop(self, name: str) -> None:
        with self._conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def user_host(self) -> tuple[str, str]:
        from urllib.parse import urlparse
        u = urlparse(self.admin_uri)
        return (u.username or "postgres"), f"{u.hostname or '127.0.0.1'}:{u.port or 5432}"


class Server:
    """A running server under test: its URL, database, process tree and log."""

    def __init__(self, spec: ServerSpec, backend: str, workdir: Path, pg: PostgresAdmin | None):
        self.spec = spec
        self.backend = backend
        self.name = spec.name
        self.kind = spec.kind
        self.dir = workdir / f"{backend}-{spec.name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pg = pg
        self.pg_db: str | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "server.log"
        self.artifacts_dir = self.dir / "artifacts"
        self.artifacts_dir.mkdir(exist_ok=True)
        self.start_seconds: float | None = None
        self.dead_reason: str | None = None
        self._known_pids: set[int] = set()
        self.headers = dict(spec.headers)   # per server: a MedFlow token belongs to one database
        self.auth_note = ""

    # -- database ---------------------------------------------------------------------------
    def _database_uris(self) -> tuple[str, str]:
        """(URI given to the server, URI usable by the harness for direct SQL fills)."""
        if self.backend == "sqlite":
            path = self.dir / f"{self.kind}.db"
            if self.kind == "fasttrackml":
                return f"sqlite://{path}", str(path)
            return f"sqlite:///{path}", str(path)
        assert self.pg is not None
        self.pg_db = f"mfbench_{self.backend[:2]}_{self.name.replace('-', '_').replace('=', '_').replace('+', '_')}_{os.getpid()}"[:63]
        self.pg.create(self.pg_db)
        user, hostport = self.pg.user_host()
        plain = f"postgresql://{user}@{hostport}/{self.pg_db}"
        if self.kind == "mlflow":
            return f"postgresql+psycopg://{user}@{hostport}/{self.pg_db}", plain
        if self.kind == "fasttrackml":
            return f"postgres://{user}@{hostport}/{self.pg_db}?sslmode=disable", plain
        return plain, plain

    # -- lifecycle ----------------------------------------------------------------------------
    def command(self, db_uri: str) -> list[str]:
        host, port = "127.0.0.1", str(self.port)
        if self.kind == "medflow":
            return [sys.executable, "-m", "medflow", "server", "--host", host, "--port", port,
                    "--backend-store-uri", db_uri, "--artifacts-destination", str(self.artifacts_dir)]
        if self.kind == "mlflow":
            cmd = _which("mlflow", "mlflow") + ["server", "--host", host, "--port", port,
                                                "--backend-store-uri", db_uri,
                                                "--artifacts-destination", str(self.artifacts_dir)]
            if self.spec.workers is not None:
                cmd += ["--workers", str(self.spec.workers)]
            return cmd + self.spec.extra_args
        if self.kind == "fasttrackml":
            fml = shutil.which("fml")
            if not fml:
                raise RuntimeError("`fml` not found: pip install --no-deps fasttrackml==0.6.0")
            return [fml, "server", "--listen-address", f"{host}:{port}", "--database-uri", db_uri,
                    "--default-artifact-root", str(self.artifacts_dir)]
        raise ValueError(self.kind)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.spec.env)
        if self.kind == "medflow":
            env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def _medflow_cli(self, args: list[str], stdin: str | None = None) -> str:
        cmd = [sys.executable, "-m", "medflow", *args, "--backend-store-uri", self.db_uri]
        out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=str(REPO_ROOT),
                             env=self._env(), timeout=180)
        if out.returncode != 0:
            raise RuntimeError(f"`medflow {' '.join(args)}` failed ({out.returncode}): "
                               f"{(out.stderr or out.stdout).strip()[-300:]}")
        return out.stdout

    def _medflow_auth(self) -> None:
        """MedFlow has auth on by default: an admin (first account), then a data_scientist service
        account with an API token, sent as `Authorization: Bearer` (MLFLOW_TRACKING_TOKEN)."""
        if self.headers:
            self.auth_note = "credentials from --medflow-auth"
            return
        if self._env().get("MEDFLOW_AUTH_ENABLED", "").strip().lower() in ("0", "false", "no", "off"):
            self.auth_note = "auth off (MEDFLOW_AUTH_ENABLED)"
            return
        import secrets
        self._medflow_cli(["users", "create-admin", "benchadmin", "--password-stdin"],
                          stdin="Adm-" + secrets.token_urlsafe(18) + "\n")
        self._medflow_cli(["users", "create", "bench", "--role", "data_scientist", "--service", "--no-password"])
        token = next((ln.strip() for ln in self._medflow_cli(["tokens", "create", "bench", "--name", "bench"])
                      .splitlines() if ln.strip()), "")
        if not token:
            raise RuntimeError("`medflow tokens create` printed no token")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.auth_note = "bearer token of a data_scientist service account"

    def start(self) -> None:
        db_uri, self.sql_uri = self._database_uris()
        self.db_uri = db_uri
        env = self._env()
        if self.kind == "medflow":
            self._medflow_auth()
        cwd = str(REPO_ROOT) if self.kind == "medflow" else str(self.dir)
        self.cmdline = self.command(db_uri)
        self._log = open(self.log_path, "ab")
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmdline, cwd=cwd, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def poll_ready(self) -> bool:
        """One readiness probe: True when GET /health answers 200; raises if the process died."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.label} exited with {self.proc.returncode} during start-up; "
                               f"log {self.log_path}: {self.log_tail()}")
        try:
            r = requests.get(self.url + "/health", timeout=2)
        except requests.RequestException:
            return False
        if r.status_code == 200:
            self.start_seconds = time.monotonic() - self._t0
            self.tree()  # remember the pids
            return True
        return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tree(self) -> list[psutil.Process]:
        if not self.alive():
            return []
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self._known_pids.update(p.pid for p in procs)
        return procs

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None:
            self.tree()
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            # whatever is left of this server's own group or its recorded descendants
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for pid in self._known_pids:
                try:
                    p = psutil.Process(pid)
                    if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                        p.kill()
                except psutil.Error:
                    pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._log.close()
            self.proc = None
        if self.pg_db and self.pg is not None:
            try:
                self.pg.drop(self.pg_db)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"  warning: could not drop database {self.pg_db}: {exc}", file=sys.stderr)
            self.pg_db = None

    def log_tail(self, n: int = 6) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    @property
    def label(self) -> str:
        return f"{self.name}@{self.backend}"

    def version(self) -> str:
        try:
            if self.kind == "mlflow":
                import importlib.metadata as md
                return "mlflow " + md.version("mlflow")
            if self.kind == "fasttrackml":
                out = subprocess.run([shutil.which("fml") or "fml", "--version"], capture_output=True,
                                     text=True, timeout=10)
                return out.stdout.strip() or out.stderr.strip()
            if self.kind == "medflow":
                rev = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True, timeout=10).stdout.strip()
                return f"medflow (work tree{', HEAD ' + rev if rev else ', no commit'})"
        except Exception:  # noqa: BLE001
            pass
        return self.kind



def wait_all_ready(servers: list["Server"], timeout: float = 240.0) -> dict[str, str]:
    """Poll every server until ready; returns {label: failure reason} for those that are not."""
    pending = list(servers)
    failed: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for srv in list(pending):
            try:
                if srv.poll_ready():
                    pending.remove(srv)
            except RuntimeError as exc:
                failed[srv.label] = str(exc)
                pending.remove(srv)
        time.sleep(0.3)
    for srv in pending:
        failed[srv.label] = f"not ready after {timeout:.0f}s; log {srv.log_path}: {srv.log_tail(3)}"
    return failed


def stop_all(servers: list["Server"], timeout: float = 20.0) -> None:
    """SIGTERM every server's process group at once, then finish each (SIGKILL what is left)."""
    for srv in servers:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.tree()
            try:
                os.killpg(srv.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for srv in servers:
        if srv.proc is not None:
            try:
                srv.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        srv.stop(timeout=1.0)
