"""platform_spec.api.ERRORS is the README's table of error codes: every code the functions answer is
documented there, under the status it is answered with."""

from __future__ import annotations

import re
from pathlib import Path

from platform_spec.api import ERRORS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
_TABLE_ROW = re.compile(r"^\| (\d{3}) \| (.+) \|$", re.MULTILINE)


def test_every_error_code_is_documented_in_the_readme() -> None:
    missing = sorted(code for code in ERRORS if f"`{code}`" not in README)
    assert missing == [], f"README.md does not name these error codes of platform_spec.api.ERRORS: {missing}"


def test_the_readme_table_gives_each_code_its_status() -> None:
    rows = _TABLE_ROW.findall(README)
    listed = {
        code: int(status)
        for status, codes in rows
        for code in re.findall(r"`([A-Z_]+)`", codes)
        if code in ERRORS
    }
    assert len(listed) >= 20, "the README's status table was not found"
    wrong = {
        code: (status, ERRORS[code].status)
        for code, status in listed.items()
        if status != ERRORS[code].status
    }
    assert wrong == {}, f"README table status vs ERRORS status: {wrong}"
