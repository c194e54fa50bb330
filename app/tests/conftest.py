"""Real services for the tests: the slow API, PostgreSQL, nginx and each mode's server;
upstreams that fail, and the apps' test clients (tests/clients.py).

Everything listens on 127.0.0.1 on free ports, is started by a fixture and is
stopped by it; nothing here reaches beyond loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

APP_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

#: Delays every route refuses with a 400 (benchapp.delay), the slow API's included.
BAD_DELAYS = ["abc", "-1", "nan", "inf", "-inf", "1e9", "", "   ", "0x1", "1_0", "31", "1,5"]
# "Fast" failures are timed against a connect timeout made long on purpose:
# a refused connection fails at once, so the only way to come near this is to
# wait for a timer (a retry, a connect timeout) that the test must catch. Half
# of it is the bound: a loaded machine has seconds of room, a regression does not fit.
SLOW_CONNECT = 10
FAST = SLOW_CONNECT / 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    body: str
    seconds: float


def http_get(url: str, timeout: float = 20.0, method: str = "GET") -> Answer:
    """One request; HTTP errors are answers too."""
    start = time.monotonic()
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read().decode()
    return Answer(status, body, time.monotonic() - start)


def answer_within(url: str, timeout: float) -> Answer | None:
    """One request; None when no answer came within `timeout` (a hang, bounded)."""
    try:
        return http_get(url, timeout)
    except TimeoutError:
        return None
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            return None
        raise


def concurrent_get(url: str, count: int, timeout: float = 30.0) -> tuple[list[Answer], float]:
    """`count` requests at once; the answers and the wall time for all of them."""
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda _: http_get(url, timeout), range(count)))
    return answers, time.monotonic() - start


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> Answer:
    """Poll until `url` answers 200, failing early if `proc` died."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            answer = http_get(url, timeout=2)
            if answer.status == 200:
                return answer
            last = answer
        except OSError as err:
            last = err
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s (last: {last})")


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, as systemd sends it; SIGKILL only if the server ignores it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{proc.args!r} ignored SIGTERM for {timeout} s")


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=APP_DIR, stdout=out, stderr=subprocess.STDOUT)
        try:
            try:
                wait_http(ready_url, proc)
            except (RuntimeError, TimeoutError) as err:
                raise RuntimeError(f"{err}\n--- {log} ---\n{log.read_text(errors='replace')[-3000:]}") from None
            yield proc
        finally:
            stop_process(proc)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHAPP_")}
    env["PYTHONPATH"] = str(APP_DIR)
    env.update(extra)
    return env


@dataclass
class SlowApi:
    url: str  # HTTP, with a trailing slash
    grpc: str  # host:port of its gRPC service


@pytest.fixture(scope="session")
def slow_api_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowApi]:
    """The real slow API (aiohttp, and grpc.aio on the same loop) on loopback."""
    port, grpc_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path_factory.mktemp("slow_api") / "slow_api.log"
    argv = [PYTHON, "-m", "benchapp.slow_api", "--host", "127.0.0.1", "--port", str(port),
            "--grpc-port", str(grpc_port)]
    with running(argv, base_env(), url + "healthz", log):
        yield SlowApi(url, f"127.0.0.1:{grpc_port}")


@pytest.fixture(scope="session")
def slow_api(slow_api_service: SlowApi) -> str:
    """The slow API's URL."""
    return slow_api_service.url


@pytest.fixture(scope="session")
def slow_api_grpc(slow_api_service: SlowApi) -> str:
    """The slow API's gRPC target (host:port)."""
    return slow_api_service.grpc


# --- PostgreSQL ---------------------------------------------------------------

def _pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql: run `make deps`")
    return found[-1].parent


@dataclass
class Postgres:
    """A throw-away PostgreSQL cluster run by the `postgres` user when we are root."""

    bindir: Path
    datadir: Path
    port: int
    as_user: list[str]

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=benchapp user=postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir} "
                "-c fsync=off -c max_connections=50")
        self.ctl("-w", "-l", str(self.datadir / "server.log"), "-o", opts, "start")

    def stop(self) -> None:
        self.ctl("-w", "-m", "fast", "stop")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """PostgreSQL refuses to run as root; CI runs as root, so run it as `postgres`."""
    bindir = _pg_bindir()
    top = Path(tempfile.mkdtemp(prefix="benchapp-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(top, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    datadir = top / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL, timeout=120)
    pg = Postgres(bindir, datadir, free_port(), as_user)
    pg.start()
    try:
        subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
                        "benchapp"], check=True, timeout=30)
        yield pg
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.stop()
        shutil.rmtree(top, ignore_errors=True)


# --- A mode's real server, with nginx in front where the table says so -------------

def nginx_conf(prefix: Path, listen: int, backend: int, protocol: str) -> str:
    """A minimal nginx in front of the backend, as the nginx role sets it up."""
    user = "user root root;" if os.geteuid() == 0 else ""
    if protocol == "uwsgi":
        forward = f"include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:{backend}; uwsgi_read_timeout 60s;"
    else:
        forward = (f"proxy_pass http://127.0.0.1:{backend}; proxy_http_version 1.1; "
                   "proxy_set_header Connection \"\"; proxy_read_timeout 60s;")
    return textwrap.dedent(f"""\
        {user}
        daemon off;
        worker_processes 1;
        pid {prefix}/nginx.pid;
        error_log {prefix}/error.log warn;
        events {{ worker_connections 1024; }}
        http {{
          access_log off;
          client_body_temp_path {prefix}/body;
          proxy_temp_path {prefix}/proxy;
          fastcgi_temp_path {prefix}/fastcgi;
          uwsgi_temp_path {prefix}/uwsgi;
          scgi_temp_path {prefix}/scgi;
          server {{
            listen 127.0.0.1:{listen};
            location / {{ {forward} }}
          }}
        }}
        """)


@dataclass
class Served:
    url: str  # where clients connect (nginx for the nginx modes)
    proc: subprocess.Popen


@contextlib.contextmanager
def serve_mode(mode, profile: str, workdir: Path, **env: str) -> Iterator[Served]:
    """Start `mode` exactly as its unit does (python -m benchapp.serve) on free ports."""
    port = free_port()
    argv = [PYTHON, "-m", "benchapp.serve", "--mode", mode.name, "--profile", profile,
            "--host", "127.0.0.1", "--port", str(port)]
    server_env = base_env(**env)
    if mode.front != "nginx":
        url = f"http://127.0.0.1:{port}"
        with running(argv, server_env, url + "/healthz", workdir / "server.log") as proc:
            yield Served(url, proc)
        return
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx not found: run `make deps`")
    front = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(workdir, front, port, mode.protocol))
    url = f"http://127.0.0.1:{front}"
    with open(workdir / "server.log", "wb") as out:
        proc = subprocess.Popen(argv, env=server_env, cwd=APP_DIR, stdout=out, stderr=subprocess.STDOUT)
        try:
            with running([nginx, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)], base_env(), url + "/healthz",
                         workdir / "nginx.log"):
                yield Served(url, proc)
        finally:
            stop_process(proc)


def pipelined(url: str, path: str, count: int) -> list[int]:
    """The statuses of `count` GETs of `path` sent at once on one connection
    (HTTP/1.1 pipelining): each request after the first arrives while the
    one before it is being answered, as wrk's keep-alive requests can."""
    from urllib.parse import urlparse

    where = urlparse(url)
    request = f"GET {path} HTTP/1.1\r\nHost: {where.hostname}\r\n\r\n".encode()
    statuses = []
    with socket.create_connection((where.hostname, where.port), timeout=20) as sock, sock.makefile("rb") as answers:
        sock.sendall(request * count)
        for _ in range(count):
            status_line = answers.readline()
            assert status_line, f"the connection closed after {statuses}"
            length = 0
            while (line := answers.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                length = int(value) if name.strip().lower() == "content-length" else length
            answers.read(length)
            statuses.append(int(status_line.split()[1]))
    return statuses


def healthz(url: str) -> dict:
    answer = http_get(url + "/healthz")
    assert answer.status == 200, answer
    return json.loads(answer.body)


# --- Upstreams that fail, and the apps' test clients ---------------------------------

@pytest.fixture()
def silent_upstream() -> Iterator[str]:
    """Accepts connections and never answers: an upstream slower than any timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


@pytest.fixture()
def clients():
    """make(app, upstream_url, **env): a test client of the Flask app ("flask")
    or the Quart app ("quart") (tests/clients.py); each closed after the test."""
    from clients import make_app_client

    made: list = []

    def make(app: str, upstream_url: str, **env: str):
        made.append(make_app_client(app, upstream_url, **env))
        return made[-1]

    yield make
    for client in made:
        client.close()
