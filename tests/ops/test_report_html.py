"""`kbot report html` on a database with known rows (tests/storage/dataset.py): the file is one
self-contained HTML document (no script, no external reference, images inline), every section
is there, every figure has data (its ``data-points`` and a real PNG), a probability kind whose
column does not exist is named and skipped and one that appears is drawn, and an empty
database gives a page that says so instead of failing."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from kbot import cli
from kbot.commands import report_html
from storage.db import create_engine, open_database
from storage.runs import start_run
from tests.storage import dataset as ds
from tests.storage.records import T0

SECTIONS = ("summary", "equity", "pnl", "reliability", "scores", "decisions", "latency", "gaps", "restarts")
CHARTS = ("equity", "pnl", "reliability-final", "reliability-market", "scores", "decisions", "latency", "gaps",
          "restarts")  # fmt: skip


class Page(HTMLParser):
    """What a test needs to know of the document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.sections: list[str] = []
        self.charts: dict[str, dict] = {}
        self.urls: list[str] = []
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        for k in ("src", "href"):
            if a.get(k):
                self.urls.append(a[k] or "")
        if tag == "section":
            self.sections.append(a["id"] or "")
        if tag == "figure":
            self._chart = a["data-chart"]
            self.charts[self._chart or ""] = {"points": int(a["data-points"] or 0), "img": None}
        if tag == "img" and self._chart is not None:
            self.charts[self._chart]["img"] = a["src"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._chart = None


def write(url: str, out: Path, *argv: str) -> tuple[int, str, Page]:
    args = cli.build_parser().parse_args(["report", "html", "--db", url, "--out", str(out), *argv])
    code = report_html.write_html(args, now=ds.NOW)
    text = out.read_text(encoding="utf-8") if out.is_file() else ""
    page = Page()
    page.feed(text)
    return code, text, page


def test_a_self_contained_page_with_every_figure_drawn_from_data(db, tmp_path, capsys):
    code, text, page = write(db, tmp_path / "r.html")
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    # nothing to fetch: images are data URIs, links are anchors in the page
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in page.urls), page.urls
    assert not re.search(r"https?://", text)
    assert tuple(page.sections) == SECTIONS
    assert set(page.charts) == set(CHARTS)
    for name, chart in page.charts.items():
        assert chart["points"] > 0, name
        png = base64.b64decode(chart["img"].removeprefix("data:image/png;base64,"))
        img = Image.open(io.BytesIO(png))
        assert img.format == "PNG" and img.size[0] >= 800 and img.size[1] >= 200, name
    # the points drawn are the rows behind each figure
    pts = {n: c["points"] for n, c in page.charts.items()}
    assert pts["equity"] == 5  # snapshots with an equity (the first predates migration 0003)
    assert pts["pnl"] == 2  # (day, series) rows: M1+M2 on day 1 (KXBTCD), M5 on day 2 (KXBTC)
    assert pts["reliability-final"] == 4 and pts["reliability-market"] == 3  # one scored edge had no market
    assert pts["scores"] == 4 and pts["latency"] == 1 and pts["restarts"] == 4
    assert pts["decisions"] == 2 + 5  # TAKE (none) x2; PASS reasons: 2 + 1 + 1 + (none) 1
    # the summary, exact
    assert ">+3.75<" in text  # realized PnL of the closed positions: 5.50 - 4.00 + 2.25
    assert ">2<" in text  # TAKE decisions
    # a kind the database does not record is named, not drawn
    assert "Not drawn: model (no scored snapshot with it in this window)" in text  # no raw model probability here
    assert "SIMULATED VENUE" in text


def test_a_probability_kind_is_drawn_once_it_is_recorded(db, tmp_path):
    eng = create_engine(db)
    with eng.begin() as c:
        c.execute(sa.text("UPDATE scores SET prob_model = (prob_yes + COALESCE(market_prob, prob_yes)) / 2"))
    eng.dispose()
    code, text, page = write(db, tmp_path / "r.html")
    assert code == 0
    assert page.charts["reliability-model"]["points"] == 4
    assert "Not drawn" not in text


def test_one_run_and_a_window(db, tmp_path):
    code, text, page = write(db, tmp_path / "r.html", "--run", "run-0")
    assert code == 0 and "kbot report: run-0" in text
    assert all(c["points"] == 0 for c in page.charts.values())  # run-0 recorded nothing
    code, _, page = write(db, tmp_path / "r2.html", "--since", "2025-11-22")
    assert code == 0
    assert page.charts["pnl"]["points"] == 1 and page.charts["equity"]["points"] == 0  # only M5 closed that day


def test_an_empty_database_gives_a_page_that_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    eng = open_database(url)
    start_run(eng, now=T0, mode="shadow", venue="replay", run_id="replay-1")
    eng.dispose()
    code, text, page = write(url, tmp_path / "r.html")
    assert code == 0
    assert tuple(page.sections) == SECTIONS
    assert all(c["points"] == 0 and c["img"] is None for c in page.charts.values())
    assert "no portfolio snapshot" in text and "no scored snapshot" in text and "REPLAY" in text


def test_errors(tmp_path, db, capsys):
    assert write(f"sqlite:///{tmp_path / 'missing.sqlite'}", tmp_path / "x.html")[0] == 1
    assert write(db, tmp_path / "x.html", "--run", "nope")[0] == 2
    assert write(db, tmp_path / "x.html", "--since", "yesterday-ish")[0] == 2
    (tmp_path / "dir.html").mkdir()
    assert write(db, tmp_path / "dir.html")[0] == 2
    assert not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("days", [1, 12])
def test_pnl_chart_with_few_and_many_days(days):
    from decimal import Decimal

    from kbot.htmlreport.figures import pnl_by_day_chart

    rows = [(f"2026-01-{d + 1:02d}", s, Decimal(d - 5)) for d in range(days) for s in ("KXBTC", "KXBTCD")]
    chart = pnl_by_day_chart(rows)
    assert chart.points == 2 * days and chart.png.startswith(b"\x89PNG")
