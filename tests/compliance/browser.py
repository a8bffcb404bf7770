"""Open an HTML file in headless Chromium (Debian's ``chromium`` package) and report what it rendered.

No Selenium or Playwright: ``chromium --dump-dom`` prints the DOM after the page's scripts ran, and
``--enable-logging=stderr --v=0`` writes every console message, including uncaught script errors
("Uncaught ReferenceError ..."), to stderr as ``INFO:CONSOLE`` lines, which are collected here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_CONSOLE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\]\s*\"(?P<message>.*)\", source: (?P<source>.*)$")
_ERROR_WORDS = ("Uncaught", "Error", "error")


def chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


@dataclass
class Rendered:
    dom: str
    console: list[str]
    stderr: str

    @property
    def script_errors(self) -> list[str]:
        return [line for line in self.console if any(word in line for word in _ERROR_WORDS)]


def render(page: Path, *, timeout: float = 60) -> Rendered:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        completed = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if completed.returncode != 0 or "<html" not in completed.stdout:
        raise RuntimeError(f"chromium failed ({completed.returncode}): {completed.stderr[-2000:]}")
    console = [m["message"] for line in completed.stderr.splitlines() if (m := _CONSOLE.search(line))]
    return Rendered(completed.stdout, console, completed.stderr)


@dataclass
class _Table:
    rows: int = 0
    in_body: bool = False


class DomSummary(HTMLParser):
    """Headings, table body row counts by table id, element ids, in-page link targets and the number of
    ``<details>`` elements per table id of a (dumped) DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.tables: dict[str, int] = {}
        self.ids: set[str] = set()
        self.links: list[str] = []  # href="#x" targets
        self.details: dict[str, int] = {}
        self._stack: list[tuple[str | None, _Table]] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        element_id = attributes.get("id")
        if element_id:
            self.ids.add(element_id)
        href = attributes.get("href") or ""
        if tag == "a" and href.startswith("#"):
            self.links.append(href[1:])
        if tag == "details" and self._stack and self._stack[-1][0]:
            table_id = str(self._stack[-1][0])
            self.details[table_id] = self.details.get(table_id, 0) + 1
        if tag == "table":
            self._stack.append((element_id, _Table()))
        elif tag == "tbody" and self._stack:
            self._stack[-1][1].in_body = True
        elif tag == "tr" and self._stack and self._stack[-1][1].in_body:
            self._stack[-1][1].rows += 1
        elif tag in ("h1", "h2", "h3", "h4"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._stack:
            element_id, table = self._stack.pop()
            if element_id:
                self.tables[element_id] = table.rows
        elif tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)


def summarize(dom: str) -> DomSummary:
    summary = DomSummary()
    summary.feed(dom)
    summary.close()
    return summary
