"""Fixtures of the evaluation tests: a copy of the configuration (contracts, prompts, suites, registry) a
test may break, and a YAML editor for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_config.documents import load_yaml
from tests.support.contracts import copy_configuration

ROOT = Path(__file__).resolve().parents[2]

Edit = Callable[[str, Callable[[Any], Any]], None]


@pytest.fixture
def config_root(tmp_path: Path) -> Path:
    """A copy of the configuration a test may break, every shipped example in it (``copy_configuration``)."""
    return copy_configuration(tmp_path / "repo")


@pytest.fixture
def edit(config_root: Path) -> Edit:
    """``edit("evals/policy-qa/golden.yaml", mutate)``: mutate the parsed YAML in place (what ``mutate``
    returns is ignored) and write it back."""

    def change(relative: str, mutate: Callable[[Any], Any]) -> None:
        path = config_root / relative
        data = load_yaml(path.read_text(encoding="utf-8"))
        mutate(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")

    return change
