"""The Quart app only (benchapp.quart_app, the quart mode): what it has that the Flask app has not.

What it shares with the Flask app (/, /db, /healthz, the failure contract)
is tested on both apps' test clients in test_routes.py. Here: its /healthz
facts, and the quart mode's real server (uvicorn) keeping that contract on
its workers' loops.
"""

from __future__ import annotations

import pytest

from benchapp.modes import load_modes
from conftest import concurrent_get, free_port, healthz, http_get, pipelined, serve_mode


def test_healthz_says_quart_and_its_asyncio_loop(slow_api, clients):
    body = clients("quart", slow_api).get("/healthz").json()
    assert body["mode"] == "test" and body["framework"] == "quart"
    assert body["asyncio_loop"].startswith("asyncio.")


# --- The quart mode's real server (uvicorn), started as its unit starts it -----------

@pytest.fixture()
def flaky_api():
    """An HTTP slow API: 200 at once, a 500 for delay 0.3, no answer for 0.4 or more."""
    import http.server
    import threading
    from urllib.parse import parse_qs, urlparse

    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            delay = float(parse_qs(urlparse(self.path).query).get("delay", ["0"])[0])
            if delay >= 0.4:
                release.wait(30)  # slower than the app's upstream timeout
                return
            status, body = (500, b"broken") if delay == 0.3 else (200, b"slow api response")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    release.set()
    server.shutdown()
    server.server_close()


QUART_MODES = [name for name, mode in load_modes().items() if mode.entry == "benchapp.quart_asgi"]


@pytest.mark.modes
@pytest.mark.parametrize("name", QUART_MODES)
def test_quart_server_keeps_the_error_contract(name, flaky_api, tmp_path):
    """Through the mode's own server: 400 for a bad delay, 502 when the slow API
    answers an error, 503 when the database is unreachable, 504 when the slow
    API outlasts the upstream timeout, on each of its workers' loops."""
    env = {"BENCHAPP_UPSTREAM_URL": flaky_api,
           "BENCHAPP_DATABASE_DSN": f"host=127.0.0.1 port={free_port()} dbname=x user=x",
           "BENCHAPP_MAX_DELAY": "0.5", "BENCHAPP_UPSTREAM_TIMEOUT": "1"}
    with serve_mode(load_modes()[name], "tuned", tmp_path, **env) as served:
        assert http_get(f"{served.url}/?delay=0").body == "Hi there! slow api response"
        # Requests pipelined on one connection, as wrk's keep-alive ones may arrive.
        assert pipelined(served.url, "/?delay=0", 3) == [200] * 3
        assert pipelined(served.url, "/?delay=abc", 2) == [400] * 2
        bad = http_get(f"{served.url}/db?delay=abc")
        assert bad.status == 400 and "from 0 to 0.5" in bad.body, bad
        broken = http_get(f"{served.url}/?delay=0.3")
        assert broken.status == 502 and "slow API unavailable" in broken.body, broken
        no_db = http_get(f"{served.url}/db?delay=0")
        assert no_db.status == 503 and "database unavailable" in no_db.body, no_db
        slow = http_get(f"{served.url}/?delay=0.45")
        assert slow.status == 504 and 1.0 <= slow.seconds < 5.0, slow
        assert served.proc.poll() is None


@pytest.mark.modes
@pytest.mark.parametrize("profile", ["tuned", "seed"])
@pytest.mark.parametrize("name", QUART_MODES)
def test_quart_server_db_route_overlaps(name, profile, slow_api, postgres, tmp_path):
    """/db, not the bench's route, checked apart: 10 concurrent /db?delay=0.5
    through the real server and PostgreSQL answer together (the slow API's
    half and pg_sleep's half both awaited), each with NOW()."""
    mode = load_modes()[name]
    env = {"BENCHAPP_UPSTREAM_URL": slow_api, "BENCHAPP_DATABASE_DSN": postgres.dsn}
    with serve_mode(mode, profile, tmp_path, **env) as served:
        assert http_get(f"{served.url}/db?delay=0").status == 200
        answers, elapsed = concurrent_get(f"{served.url}/db?delay=0.5", 10)
        assert [a.status for a in answers] == [200] * 10, [a.body[:200] for a in answers]
        assert all(a.body.startswith("Hi there! slow api response 20") for a in answers)
        assert elapsed / 0.5 < 3.0  # together (serialised: 10 x 0.25 s of pg_sleep alone)
        state = healthz(served.url)
        assert (state["mode"], state["server"], state["framework"]) == (name, mode.server, "quart")
        assert state["db_pool"]["opened"] <= state["db_pool"]["size"]
