"""`kbot alert test` posts through the configured webhook (a real HTTP server on loopback) and
says where, with the URL redacted."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from kbot import cli
from kbot.commands import alert


@pytest.fixture
def hook():
    posts: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            posts.append({"path": self.path, "body": json.loads(body)})
            self.send_response(204 if "ok" in self.path else 404)
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posts
    server.shutdown()
    server.server_close()


def run(monkeypatch, url: str | None, *argv: str) -> int:
    if url is None:
        monkeypatch.delenv("KBOT_HEALTH__WEBHOOK_URL", raising=False)
    else:
        monkeypatch.setenv("KBOT_HEALTH__WEBHOOK_URL", url)
    return alert.main(cli.build_parser().parse_args(["alert", "test", *argv]))


def test_delivered(hook, monkeypatch, tmp_path, capsys):
    base, posts = hook
    monkeypatch.chdir(tmp_path)
    assert run(monkeypatch, f"{base}/ok/SECRET", "--message", "hello ops") == 0
    (post,) = posts
    assert post["path"] == "/ok/SECRET" and post["body"]["message"] == "hello ops" and post["body"]["kind"] == "test"
    out = capsys.readouterr()
    assert "delivered to the json webhook at http://127.0.0.1:" in out.out and "SECRET" not in out.out + out.err


def test_refused_and_missing(hook, monkeypatch, tmp_path, capsys):
    base, posts = hook
    monkeypatch.chdir(tmp_path)
    assert run(monkeypatch, f"{base}/gone/SECRET") == 1
    assert len(posts) == 1  # a 404 is not retried
    out = capsys.readouterr()
    assert "NOT delivered" in out.out and "SECRET" not in out.out + out.err
    assert run(monkeypatch, None) == 2
    assert "no webhook configured" in capsys.readouterr().err
