"""The page itself: HTML helpers, the stylesheet, the Content-Security-Policy, and the whole document.

Self-contained: styles inline, images as data URIs, no script; the policy forbids every other source, so nothing
is fetched when it is opened (from ``file://``, offline) and it prints as it shows.
"""

from __future__ import annotations

import html
from typing import Iterable, Optional, Sequence

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222;
       max-width: 1100px; margin: 0 auto; padding: 16px 24px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; border-bottom: 1px solid #ccc; margin-top: 28px; }
h3 { font-size: 15px; margin-bottom: 4px; }
.banner { background: #b00020; color: #fff; font-weight: 700; font-size: 17px; padding: 12px 16px; margin: 10px 0;
          border-radius: 4px; }
.figures { display: flex; gap: 18px; flex-wrap: wrap; margin: 8px 0; }
.figure { border: 1px solid #ddd; border-radius: 4px; padding: 8px 14px; min-width: 150px; }
.figure b { font-size: 26px; display: block; } .figure small { color: #555; }
.note { color: #444; background: #f4f4f4; padding: 6px 10px; border-left: 3px solid #999; margin: 6px 0; }
.missing { color: #7a4b00; background: #fff6e0; padding: 6px 10px; border-left: 3px solid #e0a000; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
.card { width: 180px; border: 1px solid #ddd; border-radius: 4px; padding: 6px; font-size: 12px;
        break-inside: avoid; page-break-inside: avoid; }
.card .truth { font-weight: 600; } .card ol { margin: 4px 0 0; padding-left: 18px; }
.card li.hit { color: #0a6b2d; font-weight: 600; }
.thumb { max-width: 128px; max-height: 128px; display: block; margin-bottom: 4px; }
.gone { width: 128px; height: 96px; background: #bbb; color: #333; font-size: 10px; display: flex;
        align-items: center; justify-content: center; text-align: center; overflow: hidden; word-break: break-all; }
img.chart { max-width: 100%; height: auto; }
td .thumb, td .gone { max-width: 64px; max-height: 64px; width: auto; height: auto; }
td .gone { width: 64px; height: 48px; }
code { background: #f4f4f4; padding: 0 3px; }
@media print { body { max-width: none; padding: 0; } h2 { page-break-after: avoid; } .banner { border: 3px solid #b00020; } }
"""


def esc(value: object) -> str:
    return html.escape(str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    """A table; cells are escaped text, or already HTML when wrapped in :class:`Raw`; ``numeric`` columns right."""
    def cell(tag: str, index: int, value: object) -> str:
        klass = ' class="n"' if index in numeric else ""
        text = value.html if isinstance(value, Raw) else esc(value)
        return f"<{tag}{klass}>{text}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Raw:
    """A table cell that is already HTML."""

    def __init__(self, markup: str) -> None:
        self.html = markup


def missing(what: str, maker: str) -> str:
    """A section's note that its input is absent, naming the step that makes it."""
    return f'<p class="missing">{esc(what)} is absent: {esc(maker)} makes it.</p>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def chart(uri: str, alt: str) -> str:
    return f'<img class="chart" src="{uri}" alt="{esc(alt)}">'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>\n{body}\n</section>\n'


def document(title: str, subtitle: str, banner: Optional[str], sections: Sequence[str]) -> str:
    """The whole page."""
    flag = f'<div class="banner" id="demo-banner">{esc(banner)}</div>\n' if banner else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n<p>{esc(subtitle)}</p>\n{flag}" + "".join(sections) + "</body>\n</html>\n"
    )
