"""The report page (pure): sections in, one self-contained HTML document out.

Images are inline ``data:image/png;base64`` URIs and the style sheet is inline: the file opens
offline, by mail, from a USB stick. No scripts. Every figure is a ``<figure class="chart"
data-chart="NAME" data-points="N">`` (N: the data points drawn), so a test or a script can check
the document without a browser.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

import attrs

from kbot.htmlreport.figures import Chart
from storage.report import format_value

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2433; margin: 0;
       background: #f4f6f9; }
header { background: #1d2433; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: #c8cfdb; font-size: 13px; }
.banner { display: inline-block; padding: 1px 8px; border-radius: 3px; font-weight: 600; font-size: 12px;
          margin-left: 8px; vertical-align: middle; }
.banner.sim { background: #17becf; color: #000; } .banner.live { background: #d62728; color: #fff; }
.banner.other { background: #ecb22e; color: #000; }
nav { padding: 8px 32px; background: #fff; border-bottom: 1px solid #dde2ea; font-size: 13px; }
nav a { margin-right: 14px; color: #1f5fae; text-decoration: none; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; margin: 18px 0; padding: 14px 20px; }
section h2 { margin: 0 0 4px; font-size: 18px; }
p.note { color: #5a6478; margin: 4px 0 10px; font-size: 13px; }
p.empty { color: #8a5a00; background: #fff7e0; padding: 8px 12px; border-radius: 4px; }
figure.chart { margin: 10px 0; } figure.chart img { max-width: 100%; height: auto; display: block; }
figcaption { color: #5a6478; font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.card { border: 1px solid #dde2ea; border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card .v { font-size: 20px; font-weight: 600; } .card .k { color: #5a6478; font-size: 12px; }
.pos { color: #1a7f37; } .neg { color: #c62828; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { padding: 3px 9px; border-bottom: 1px solid #eef1f5; text-align: left; white-space: nowrap; }
th { background: #f4f6f9; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; color: #1f5fae; font-size: 13px; }
footer { color: #8a93a6; font-size: 12px; text-align: center; padding: 10px; }
"""


@attrs.frozen(kw_only=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    caption: str = ""
    collapsed: bool = False  # inside <details>


@attrs.frozen(kw_only=True)
class Section:
    id: str
    title: str
    note: str = ""
    cards: tuple[tuple[str, str, str], ...] = ()  # (label, value, css class)
    charts: tuple[tuple[str, Chart | None, str], ...] = ()  # (name, chart or None when no data, caption/empty text)
    tables: tuple[Table, ...] = ()


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _cell(column: str, v: Any) -> str:
    text = format_value(column, v)
    num = isinstance(v, (int, float)) or type(v).__name__ == "Decimal"
    return f'<td class="num">{_e(text)}</td>' if num and not isinstance(v, bool) else f"<td>{_e(text)}</td>"


def table_html(t: Table) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(_cell(c, v) for c, v in zip(t.columns, row)) + "</tr>" for row in t.rows)
    cap = f"<caption>{_e(t.caption)}</caption>" if t.caption and not t.collapsed else ""
    out = f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if t.collapsed:
        return f"<details><summary>{_e(t.caption or 'the numbers')} ({len(t.rows)} rows)</summary>{out}</details>"
    return out


def chart_html(name: str, chart: Chart | None, caption: str) -> str:
    if chart is None:
        return f'<figure class="chart" data-chart="{_e(name)}" data-points="0"><p class="empty">{_e(caption)}</p></figure>'
    b64 = base64.b64encode(chart.png).decode("ascii")
    return (f'<figure class="chart" data-chart="{_e(name)}" data-points="{chart.points}">'
            f'<img alt="{_e(chart.alt)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")  # fmt: skip


def section_html(s: Section) -> str:
    parts = [f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>']
    if s.note:
        parts.append(f'<p class="note">{_e(s.note)}</p>')
    if s.cards:
        parts.append('<div class="cards">' + "".join(
            f'<div class="card"><div class="v {_e(cls)}">{_e(v)}</div><div class="k">{_e(k)}</div></div>'
            for k, v, cls in s.cards) + "</div>")  # fmt: skip
    parts += [chart_html(*c) for c in s.charts]
    parts += [table_html(t) for t in s.tables if t.rows]
    parts.append("</section>")
    return "".join(parts)


def document(title: str, meta: Sequence[str], banner: tuple[str, str] | None, sections: Sequence[Section],
             footer: str) -> str:  # fmt: skip
    """The whole page. ``banner``: (text, css class: sim | live | other)."""
    flag = f'<span class="banner {_e(banner[1])}">{_e(banner[0])}</span>' if banner else ""
    nav = "".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}{flag}</h1>"
        + "".join(f'<div class="meta">{_e(m)}</div>' for m in meta)
        + f"</header><nav>{nav}</nav><main>"
        + "".join(section_html(s) for s in sections)
        + f"</main><footer>{_e(footer)}</footer></body></html>\n"
    )
