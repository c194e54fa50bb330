"""flaskbench-app.yml: the example is valid, and each mistake is an error naming the file, the field and the value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flaskbench import appspec, reqfiles

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "shop"

VALID = {
    "name": "mine",
    "wsgi": "mine.wsgi:app",
    "requirements": "requirements.txt",
    "env": {"DATABASE_URL": "sqlite:///x.db"},
    "routes": [{"path": "/"}, {"path": "/orders", "method": "POST", "body": "{}", "expect": 201, "weight": 0.5}],
    "health": "/healthz",
    "budget_ms": 100,
}


def app_dir(tmp_path: Path, data: object = VALID, requirements: str = "flask>=3\n") -> Path:
    """An app directory holding flaskbench-app.yml (a YAML dump of data, or data itself when a str)."""
    (tmp_path / appspec.FILENAME).write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    (tmp_path / "requirements.txt").write_text(requirements)
    return tmp_path


def changed(**fields: object) -> dict:
    """VALID with fields replaced (None: removed); route_N_KEY=value changes routes[N]'s KEY."""
    data = yaml.safe_load(yaml.safe_dump(VALID))
    for key, value in fields.items():
        if key.startswith("route_"):
            _, index, name = key.split("_", 2)
            data["routes"][int(index)][name] = value
        elif value is None:
            del data[key]
        else:
            data[key] = value
    return data


def test_the_example_is_valid():
    spec = appspec.load(EXAMPLE)
    assert spec.name == "shop" and str(spec.wsgi) == "shop:create_app()" and spec.wsgi.factory
    assert spec.requirements == EXAMPLE / "requirements.txt"
    assert [r.name for r in spec.routes] == ["catalog", "product", "stock", "order"]
    order = spec.routes[3]
    assert (order.method, order.expect, order.headers) == ("POST", 201, {"Content-Type": "application/json"})
    assert spec.health == "/healthz" and spec.budget_ms == 200


def test_the_defaults(tmp_path):
    spec = appspec.load(app_dir(tmp_path))
    first = spec.routes[0]
    assert (first.name, first.method, first.expect, first.weight, first.body, first.headers) == ("GET /", "GET", 200, 1.0, None, {})
    assert spec.asgi is None and spec.wsgi == appspec.Target("mine.wsgi", "app", factory=False)


BAD = [
    # (the file's data, the field the error names, words it must say)
    ("name: [unclosed", "", "not YAML"),
    ("- a list", "", "not a mapping"),
    (changed(threads=4), "", "unknown key threads"),
    (changed(budget_ms=None), "", "missing budget_ms"),
    (changed(wsgi="mine.wsgi"), "wsgi", "'mine.wsgi' is not module.path:attr"),
    (changed(wsgi="mine-app:create_app(debug)"), "wsgi", "Python identifiers"),
    (changed(asgi="mine:"), "asgi", "'mine:'"),
    (changed(requirements="../requirements.txt"), "requirements", "outside the app directory"),
    (changed(requirements="reqs/prod.txt"), "requirements", "no such file"),
    (changed(env={"PORT": 8000}), "env.PORT", "8000 is not a string"),
    (changed(env={"MY-VAR": "x"}), "env", "'MY-VAR' is not a valid environment variable name"),
    (changed(routes=[]), "routes", "not a non-empty list"),
    (changed(route_1_path="orders"), "routes[1].path", "'orders' is not a URL path"),
    (changed(route_1_method="FETCH"), "routes[1].method", "'FETCH' is not one of GET, HEAD, POST"),
    (changed(route_1_expect=700), "routes[1].expect", "700 is not an HTTP status: an integer from 100 to 599"),
    (changed(route_1_expect="201"), "routes[1].expect", "'201' is not an HTTP status"),
    (changed(route_1_weight=-1), "routes[1].weight", "-1 is not a positive number"),
    (changed(route_0_headers={"Bad Header": "x"}), "routes[0].headers", "'Bad Header' is not a valid header name"),
    (changed(route_0_timeout=3), "routes[0]", "unknown key timeout"),
    (changed(route_0_name="same", route_1_name="same"), "routes[1].name", "'same' names another route too"),
    (changed(health="healthz"), "health", "'healthz' is not a URL path"),
    (changed(budget_ms=0), "budget_ms", "0 is not a positive number"),
    (changed(budget_ms="100ms"), "budget_ms", "'100ms' is not a positive number"),
    (changed(name="my app"), "name", "'my app': letters, digits"),
]


@pytest.mark.parametrize("data, where, words", BAD, ids=[f"{i}-{w or 'file'}" for i, (_, w, _) in enumerate(BAD)])
def test_a_mistake_names_the_file_and_the_field(tmp_path, data, where, words):
    with pytest.raises(appspec.AppSpecError) as err:
        appspec.load(app_dir(tmp_path, data))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / appspec.FILENAME}: {where + ': ' if where else ''}"), message
    assert words in message


def test_a_missing_file(tmp_path):
    with pytest.raises(appspec.AppSpecError, match=f"{appspec.FILENAME}: no such file"):
        appspec.load(tmp_path)


@pytest.mark.parametrize("requirement, words", [
    ("flask<3", "requirements.txt line 2: flask<3 excludes flask==3.1.3, which the servers run with"),
    ("Flask==3.0.0", "Flask==3.0.0 excludes flask==3.1.3"),
    ("gevent>=27", "gevent>=27 excludes gevent==26.9.0"),
    ("requests @ https://example.org/requests.whl", "installs requests from a URL"),
    ("flask ==", "'flask ==' is not a requirement"),
])
def test_a_requirement_that_excludes_a_servers_pin(tmp_path, requirement, words):
    folder = app_dir(tmp_path, requirements=f"# the app's\n{requirement}  # why\n")
    with pytest.raises(appspec.AppSpecError) as err:
        appspec.load(folder)
    assert f"{tmp_path / appspec.FILENAME}: requirements: " in str(err.value)
    assert words in str(err.value)


def test_requirements_that_allow_the_pins(tmp_path):
    text = ("flask>=3.1,<4 \\\n  --hash=sha256:abc\n-r more.txt\n--index-url https://example.org/simple\n"
            "-e .\n./vendor/thing\ngevent<26; python_version < '3.10'\nnot-pinned-anywhere==0.1\n")
    folder = app_dir(tmp_path, requirements=text)
    (folder / "more.txt").write_text("requests~=2.34\n-r requirements.txt\n")  # a circle: read once
    appspec.load(folder)
    found = [(where, str(req)) for where, req in reqfiles.read(folder / "requirements.txt", folder)]
    assert found[0] == ("requirements.txt line 1", "flask<4,>=3.1") and ("more.txt line 1", "requests~=2.34") in found


def test_an_included_file_stays_in_the_app_directory(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "reqs.txt").write_text("flask\n")
    folder = app_dir(tmp_path / "app", requirements="-r ../reqs.txt\n")
    with pytest.raises(appspec.AppSpecError, match="requirements.txt line 1: '../reqs.txt' is not a file inside"):
        appspec.load(folder)


def test_the_servers_pins_are_app_requirements():
    pins = reqfiles.server_pins()
    assert str(pins["flask"]) == "3.1.3" and "psycopg2-binary" in pins and "pyyaml" in pins


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flaskbench.appspec", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_the_cli_on_the_example():
    done = run_cli("examples/shop")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("shop: examples/shop/flaskbench-app.yml is valid\n")
    assert "    order: POST /orders -> 201, 10% of a mix\n" in done.stdout


def test_the_cli_on_a_mistake(tmp_path):
    done = run_cli(str(app_dir(tmp_path, changed(route_1_expect=700))))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"error: {tmp_path / appspec.FILENAME}: routes[1].expect: 700 is not an HTTP status: an integer from 100 to 599\n"


# -- thresholds: a file of the app's directory, read as the bench reads it --------------------------------------

def test_the_apps_thresholds_file(tmp_path):
    folder = app_dir(tmp_path, changed(thresholds="ci/thresholds.yml"))
    (folder / "ci").mkdir()
    (folder / "ci" / "thresholds.yml").write_text("- p99_ms < 200\n- {route: GET /, check: failed == 0}\n")
    spec = appspec.load(folder)
    assert spec.thresholds == (folder / "ci" / "thresholds.yml").resolve()
    assert "  thresholds: ci/thresholds.yml, 2 thresholds the bench holds it to" in appspec.summary(spec)
    assert appspec.load(app_dir(tmp_path)).thresholds is None


@pytest.mark.parametrize("given, content, words", [
    ("../thresholds.yml", None, "thresholds: '../thresholds.yml' is outside the app directory"),
    ("none.yml", None, "thresholds: 'none.yml': no such file in"),
    (5, None, "thresholds: 5 is not a string"),
    ("t.yml", "- p99_ms < soon\n", "thresholds: {dir}/t.yml: entry 1 ('p99_ms < soon'): 'soon' is not a number"),
    ("t.yml", "p99_ms: 5\n", "thresholds: {dir}/t.yml: not a YAML list of thresholds but a dict"),
])
def test_a_bad_thresholds_file_names_the_field_and_the_entry(tmp_path, given, content, words):
    (tmp_path / "thresholds.yml").write_text("- rps > 1\n")  # outside the app's directory
    folder = tmp_path / "app"
    folder.mkdir()
    app_dir(folder, changed(thresholds=given))
    if content is not None:
        (folder / "t.yml").write_text(content)
    with pytest.raises(appspec.AppSpecError) as err:
        appspec.load(folder)
    assert str(err.value).startswith(f"{folder / appspec.FILENAME}: "), str(err.value)
    assert words.format(dir=folder.resolve()) in str(err.value)
