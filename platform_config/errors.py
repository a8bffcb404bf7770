"""Configuration errors: every problem in every file, reported together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one file, and how to fix it."""

    file: str
    field: str
    message: str
    fix: str = ""
    value: Any = None
    has_value: bool = False
    line: int | None = None

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.field}: {self.message}"
        if self.has_value:
            text += f" (got {self.value!r})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class ConfigError(Exception):
    """Raised by the loader with every problem found. Its text lists them; each entry point prints
    ``report(outcome)``, which also says what that entry point did not do (``nothing was synthesized`` is
    app.py's; the evaluation, the gates and the audit stop before other work)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field))
        super().__init__(self.report())

    def report(self, outcome: str = "") -> str:
        """Every problem, under a header that counts them and, given ``outcome``, says what was not done."""
        count = len(self.problems)
        header = f"{count} configuration problem{'s' if count != 1 else ''}"
        lines = [f"{header}; {outcome}:" if outcome else f"{header}:"]
        lines += [f"  - {p.render()}" for p in self.problems]
        return "\n".join(lines)
