"""Fixtures for the config loader tests: a writable copy of the real configuration and a YAML editor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_config import PlatformConfig, load_platform
from platform_config.documents import load_yaml
from tests.support.contracts import copy_configuration

ROOT = Path(__file__).resolve().parents[2]

_DELETE = object()

YamlEditor = Callable[[str, Callable[[Any], Any]], None]
FieldSetter = Callable[[str, str, Any], None]
FieldDeleter = Callable[[str, str], None]


@pytest.fixture(scope="session")
def real_config() -> PlatformConfig:
    """The repository's own environments/ and contracts/, loaded once."""
    return load_platform(ROOT)


@pytest.fixture
def config_root(tmp_path: Path) -> Path:
    """A copy of the real configuration that a test may break, every shipped example in it
    (``copy_configuration``: a fork that retired one still has it here)."""
    return copy_configuration(tmp_path)


@pytest.fixture
def edit_yaml(config_root: Path) -> YamlEditor:
    """``edit_yaml("contracts/policy-qa.yaml", mutate)``: load the file, let ``mutate`` change the data in
    place (or return a replacement), and write it back."""

    def edit(relative: str, mutate: Callable[[Any], Any]) -> None:
        path = config_root / relative
        data = load_yaml(path.read_text(encoding="utf-8"))
        replaced = mutate(data)
        path.write_text(
            yaml.safe_dump(data if replaced is None else replaced, sort_keys=False), encoding="utf-8"
        )

    return edit


@pytest.fixture
def set_field(edit_yaml: YamlEditor) -> FieldSetter:
    """``set_field("environments/dev.yaml", "notifications.emails.0", "x")``: set one field by dotted
    path; numeric parts index lists. Missing mappings on the way are created."""

    def set_(relative: str, dotted: str, value: Any) -> None:
        def mutate(data: Any) -> None:
            *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
            node = data
            for part in parents:
                node = node[part] if isinstance(part, int) else node.setdefault(part, {})
            if value is _DELETE:
                del node[last]
            else:
                node[last] = value

        edit_yaml(relative, mutate)

    return set_


@pytest.fixture
def delete_field(set_field: FieldSetter) -> FieldDeleter:
    """``delete_field("environments/dev.yaml", "account")``: remove one field by dotted path."""

    def delete(relative: str, dotted: str) -> None:
        set_field(relative, dotted, _DELETE)

    return delete
