"""A report as data (sections, paragraphs, tables), rendered to self-contained HTML and to Markdown.

Both renderers walk the same document, so the two files hold the same content, with two differences a
format imposes: a long list in a cell (``Cell.collapse``) is folded into an HTML ``<details>`` element, and
in Markdown shows its first lines and "and N more". Every piece of text is escaped for its format:
template values are data, never markup. Links only point at anchors inside the document (``#id``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Cell and paragraph flags: how a value should catch the reviewer's eye.
OK, WARN, BAD, NA = "ok", "warn", "bad", "na"
_FLAG_WORD = {OK: "ok", WARN: "review", BAD: "attention", NA: "n/a"}


#: How many lines of a collapsed list stay visible.
COLLAPSED_LINES = 3
_ANCHOR = re.compile(r"[^A-Za-z0-9_-]+")


def anchor_id(*parts: str) -> str:
    """An element id made of ``parts``: letters, digits, ``_`` and ``-`` only (stable, URL-safe)."""
    return "-".join(p for p in (_ANCHOR.sub("-", part).strip("-") for part in parts) if p)


@dataclass(frozen=True)
class Link:
    text: str
    target: str  # an element id of the same document


@dataclass(frozen=True)
class Cell:
    text: str
    code: bool = False  # identifiers, ARNs, actions: monospace, never reflowed
    flag: str | None = None
    badge: str = ""  # short visible marker, e.g. "WILDCARD"
    #: A list (one item a line) longer than this many lines is folded (HTML: <details>; Markdown: the
    #: first COLLAPSED_LINES lines and "and N more"). 0: never.
    collapse: int = 0
    links: tuple[Link, ...] = ()  # shown after the text

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @property
    def collapsed(self) -> bool:
        return bool(self.collapse) and len(self.lines) > self.collapse


def cell(
    value: object,
    *,
    code: bool = False,
    flag: str | None = None,
    badge: str = "",
    collapse: int = 0,
    links: Sequence[Link] = (),
) -> Cell:
    return Cell(
        "" if value is None else str(value),
        code=code,
        flag=flag,
        badge=badge,
        collapse=collapse,
        links=tuple(links),
    )


def code(value: object, *, flag: str | None = None, badge: str = "", collapse: int = 0) -> Cell:
    return cell(value, code=True, flag=flag, badge=badge, collapse=collapse)


class Row(list[Cell]):
    """A table row: its cells, an optional element id (``anchor``), and what the row is about, so that a
    flag on it can be linked to the acknowledgment that explains it: ``subjects`` (logical IDs) and
    ``findings`` (parts of finding ids that would acknowledge it, e.g. ``IAM5[Resource::*]``)."""

    def __init__(
        self,
        cells: Iterable[Cell] = (),
        *,
        anchor: str = "",
        subjects: Iterable[str] = (),
        findings: Iterable[str] = (),
        label: str = "",
    ) -> None:
        super().__init__(cells)
        self.anchor = anchor
        self.subjects = tuple(subjects)
        self.findings = tuple(findings)
        self.label = label  # what the row is about, in a summary (default: its first cell)

    @property
    def flagged(self) -> str | None:
        """The strongest flag of the row's cells (BAD before WARN), None when it has neither."""
        flags = {c.flag for c in self}
        return BAD if BAD in flags else (WARN if WARN in flags else None)


def status(value: str) -> Cell:
    flag = {"PASS": OK, "FAIL": BAD, "NOT RUN": WARN, "NO EVIDENCE": NA, "NOT APPLICABLE": NA}.get(value)
    return Cell(value, flag=flag, badge=value if flag in (BAD, WARN) else "")


@dataclass
class Paragraph:
    text: str
    flag: str | None = None


@dataclass
class Table:
    id: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    caption: str = ""
    empty: str = "None."

    def add(
        self,
        cells: Iterable[Cell],
        *,
        anchor: str = "",
        subjects: Iterable[str] = (),
        findings: Iterable[str] = (),
        label: str = "",
    ) -> Row:
        row = Row(cells, anchor=anchor, subjects=subjects, findings=findings, label=label)
        self.rows.append(row)
        return row


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Paragraph | Table | Section] = field(default_factory=list)

    def add(self, block: Paragraph | Table | Section) -> Paragraph | Table | Section:
        self.blocks.append(block)
        return block


@dataclass
class Document:
    title: str
    intro: list[Paragraph]
    sections: list[Section]
    #: Shown under the title: (label, value), e.g. ("Commit", "3af7be5").
    meta: list[tuple[str, str]] = field(default_factory=list)

    def tables(self) -> list[Table]:
        return [table for _, table in self.tables_with_sections()]

    def tables_with_sections(self) -> list[tuple[list[Section], Table]]:
        """Every table with the sections it sits in (outermost first)."""
        found: list[tuple[list[Section], Table]] = []

        def walk(blocks: list[Paragraph | Table | Section], path: list[Section]) -> None:
            for block in blocks:
                if isinstance(block, Table):
                    found.append((path, block))
                elif isinstance(block, Section):
                    walk(block.blocks, [*path, block])

        walk(list(self.sections), [])
        return found

    def anchors(self) -> set[str]:
        """Every element id the document defines (sections and anchored rows)."""
        ids: set[str] = set()

        def walk(blocks: list[Paragraph | Table | Section]) -> None:
            for block in blocks:
                if isinstance(block, Section):
                    ids.add(block.id)
                    walk(block.blocks)
                elif isinstance(block, Table):
                    ids.update(row.anchor for row in block.rows if isinstance(row, Row) and row.anchor)

        walk(list(self.sections))
        return ids

    def links(self) -> list[Link]:
        return [link for table in self.tables() for row in table.rows for c in row for link in c.links]


# ---------------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { color-scheme: light; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --na:#57606a; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; }
header, main, nav { max-width: 1400px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 21px; margin: 32px 0 8px; padding-top: 8px; border-top: 2px solid var(--line); }
h3 { font-size: 17px; margin: 22px 0 6px; }
h4 { font-size: 15px; margin: 16px 0 4px; }
p { margin: 6px 0; max-width: 110ch; }
nav ol { columns: 3; margin: 8px 0 0; padding-left: 20px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 13px; }
caption { text-align: left; color: var(--na); padding: 2px 0 6px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; vertical-align: top; text-align: left; min-width: 9ch; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
  overflow-wrap: anywhere; min-width: 18ch; }
tr.flagged td { background: #fff8f0; }
.badge { display: inline-block; font: 600 11px/1.6 system-ui, sans-serif; padding: 0 6px; margin-right: 4px;
  border-radius: 10px; color: #fff; white-space: nowrap; }
.badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); }
.badge.bad { background: var(--bad); } .badge.na { background: var(--na); }
td.ok { color: var(--ok); font-weight: 600; } td.bad { color: var(--bad); font-weight: 600; }
td.warn { color: var(--warn); font-weight: 600; } td.na { color: var(--na); }
p.bad { color: var(--bad); font-weight: 600; } p.warn { color: var(--warn); } p.ok { color: var(--ok); }
p.empty { color: var(--na); font-style: italic; }
#flag-filter { margin: 12px 0 0; font-size: 13px; }
dl#report-meta { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; margin: 8px 0; }
dl#report-meta dt { color: var(--na); } dl#report-meta dd { margin: 0; }
td details summary { cursor: pointer; color: var(--na); font-family: system-ui, sans-serif; }
td a.link { display: inline-block; margin-left: 4px; }
tr:target td { outline: 2px solid var(--warn); }
body.only-flagged tbody tr:not(.flagged) { display: none; }
@media print { th { position: static; } #flag-filter { display: none; } details > * { display: block; } }
"""

# Progressive enhancement only: the page is complete without it.
_SCRIPT = """
(function () {
  var box = document.createElement("label");
  box.id = "flag-filter";
  var input = document.createElement("input");
  input.type = "checkbox";
  input.addEventListener("change", function () {
    document.body.classList.toggle("only-flagged", input.checked);
  });
  box.appendChild(input);
  box.appendChild(document.createTextNode(" Show only rows that need attention"));
  var header = document.querySelector("header");
  if (header) { header.appendChild(box); }
})();
"""


def _html_text(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def _html_links(item: Cell) -> str:
    return "".join(
        f'<a class="link" href="#{html.escape(link.target)}">{_html_text(link.text)}</a>'
        for link in item.links
    )


def _html_cell(item: Cell, header: bool = False) -> str:
    classes = [c for c in ("code" if item.code else "", item.flag or "") if c]
    attr = f' class="{" ".join(classes)}"' if classes else ""
    badge = (
        f'<span class="badge {html.escape(item.flag or NA)}">{html.escape(item.badge)}</span>'
        if item.badge
        else ""
    )
    tag = "th" if header else "td"
    if item.collapsed:
        lines = item.lines
        shown = "<br>".join(_html_text(line) for line in lines[:COLLAPSED_LINES])
        rest = "<br>".join(_html_text(line) for line in lines[COLLAPSED_LINES:])
        body = f"{shown}<details><summary>and {len(lines) - COLLAPSED_LINES} more</summary>{rest}</details>"
    else:
        body = _html_text(_after_badge(item))
    return f"<{tag}{attr}>{badge}{body}{_html_links(item)}</{tag}>"


def _after_badge(item: Cell) -> str:
    """The cell text, unless the badge already says it."""
    return "" if item.badge and item.badge.lower() == item.text.lower() else item.text


def _html_blocks(blocks: list[Paragraph | Table | Section], level: int, out: list[str]) -> None:
    for block in blocks:
        if isinstance(block, Paragraph):
            attr = f' class="{html.escape(block.flag)}"' if block.flag else ""
            out.append(f"<p{attr}>{_html_text(block.text)}</p>")
        elif isinstance(block, Table):
            if not block.rows:
                out.append(
                    f'<p class="empty" id="{html.escape(block.id)}-empty">{_html_text(block.empty)}</p>'
                )
                continue
            out.append(f'<table id="{html.escape(block.id)}">')
            if block.caption:
                out.append(f"<caption>{_html_text(block.caption)}</caption>")
            out.append(
                "<thead><tr>"
                + "".join(f'<th scope="col">{_html_text(c)}</th>' for c in block.columns)
                + "</tr></thead>"
            )
            out.append("<tbody>")
            for row in block.rows:
                flagged = any(c.flag in (BAD, WARN) for c in row)
                anchor = row.anchor if isinstance(row, Row) else ""
                attrs = (f' id="{html.escape(anchor)}"' if anchor else "") + (
                    ' class="flagged"' if flagged else ""
                )
                out.append(f"<tr{attrs}>" + "".join(_html_cell(c) for c in row) + "</tr>")
            out.append("</tbody></table>")
        else:
            tag = f"h{min(level, 6)}"
            out.append(f'<section id="{html.escape(block.id)}"><{tag}>{_html_text(block.title)}</{tag}>')
            _html_blocks(block.blocks, level + 1, out)
            out.append("</section>")


def render_html(document: Document) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(document.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{_html_text(document.title)}</h1>",
    ]
    if document.meta:
        out.append('<dl id="report-meta">')
        out.extend(
            f"<dt>{_html_text(label)}</dt><dd>{_html_text(value)}</dd>" for label, value in document.meta
        )
        out.append("</dl>")
    for paragraph in document.intro:
        attr = f' class="{html.escape(paragraph.flag)}"' if paragraph.flag else ""
        out.append(f"<p{attr}>{_html_text(paragraph.text)}</p>")
    out.append("</header><nav><ol>")
    out.extend(
        f'<li><a href="#{html.escape(s.id)}">{_html_text(s.title)}</a></li>' for s in document.sections
    )
    out.append("</ol></nav><main>")
    _html_blocks(list(document.sections), 2, out)
    out.append(f"</main><script>{_SCRIPT}</script></body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(\s*)(#|[+\-](?=\s)|[=\-]+\s*$|\d+[.)](?=\s))", re.MULTILINE)


def _md_text(text: str, *, block: bool = False) -> str:
    """Markdown-inert text: emphasis, code, links, tables and HTML characters escaped; in a ``block``
    (paragraph or heading) also what would start a heading, list or rule at the start of a line."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _MD_SPECIAL.sub(r"\\\1", escaped)
    if not block:
        return escaped
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def _md_code(text: str) -> str:
    if not text:
        return ""
    fence = "`"
    while fence in text:
        fence += "`"
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    piped = padded.replace("|", "\\|")  # GFM splits table cells on | even inside code spans
    return f"{fence}{piped}{fence}"


def _md_cell(item: Cell, anchor: str = "") -> str:
    lines = _after_badge(item).split("\n") if not item.collapsed else item.lines
    shown = lines[:COLLAPSED_LINES] if item.collapsed else lines
    body = "<br>".join(_md_code(line) if item.code else _md_text(line) for line in shown)
    if item.collapsed:
        body += f"<br>_and {len(lines) - COLLAPSED_LINES} more_"
    if item.badge:
        body = f"**{_md_text(item.badge)}** {body}".rstrip()
    elif item.flag == BAD and body and not item.code:
        body = f"**{body}**"
    links = " ".join(f"[{_md_text(link.text)}](#{link.target})" for link in item.links)
    target = f'<a id="{html.escape(anchor)}"></a>' if anchor else ""
    return " ".join(part for part in (target + body, links) if part)


def _md_blocks(blocks: list[Paragraph | Table | Section], level: int, out: list[str]) -> None:
    for block in blocks:
        if isinstance(block, Paragraph):
            text = _md_text(block.text, block=True).replace("\n", "  \n")
            out.append((f"**{text}**" if block.flag == BAD else text) + "\n")
        elif isinstance(block, Table):
            if not block.rows:
                out.append(f"_{_md_text(block.empty)}_\n")
                continue
            if block.caption:
                out.append(f"{_md_text(block.caption, block=True)}\n")
            out.append("| " + " | ".join(_md_text(c) for c in block.columns) + " |")
            out.append("|" + "|".join(" --- " for _ in block.columns) + "|")
            for row in block.rows:
                anchor = row.anchor if isinstance(row, Row) else ""
                cells = [_md_cell(c, anchor if n == 0 else "") for n, c in enumerate(row)]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
        else:
            out.append(f'<a id="{html.escape(block.id)}"></a>\n')
            out.append(f"{'#' * min(level, 6)} {_md_text(block.title)}\n")
            _md_blocks(block.blocks, level + 1, out)


def render_markdown(document: Document) -> str:
    out = [f"# {_md_text(document.title)}\n"]
    if document.meta:
        out.append("| | |\n| --- | --- |")
        out.extend(f"| {_md_text(label)} | {_md_text(value)} |" for label, value in document.meta)
        out.append("")
    out.extend(_md_text(p.text, block=True).replace("\n", "  \n") + "\n" for p in document.intro)
    out.extend(f"{n}. [{_md_text(s.title)}](#{s.id})" for n, s in enumerate(document.sections, 1))
    out.append("")
    _md_blocks(list(document.sections), 2, out)
    return "\n".join(out).rstrip() + "\n"
