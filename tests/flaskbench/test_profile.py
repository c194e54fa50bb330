"""flaskbench/profile.py's summary of py-spy's collapsed stacks."""

from __future__ import annotations

from flaskbench import profile


def load():
    return profile


def test_samples_are_counted_by_category_and_own_function():
    pw = load()
    lines = [
        "<module> (x.py:1);handle (gevent/pywsgi.py:10);dispatch (flask/app.py:902);"
        "fetch (benchapp/upstream.py:99);send (gevent/_socketcommon.py:716) 5",
        "<module> (x.py:1);handle (gevent/pywsgi.py:10);dispatch (flask/app.py:902) 3",
        "<module> (x.py:1);handle (gevent/pywsgi.py:12);parse_headers (http/client.py:226) 2",
        "<module> (x.py:1);run (gevent/hub.py:647) 10",
        "not a sample line",
        "",
    ]
    total, categories, own = pw.summarize(lines)
    assert total == 20
    assert dict(categories) == {pw.OTHER: 10, "upstream call (the client to the slow API)": 5,
                                "Flask (routing, request context, view, response)": 3,
                                "the server's HTTP handling (parse, write)": 2}
    assert [name for name, _ in categories][0] == pw.OTHER  # most first
    assert own[0] == ("run (gevent/hub.py)", 10)  # line numbers dropped: one row per function
    assert ("send (gevent/_socketcommon.py)", 5) in own
