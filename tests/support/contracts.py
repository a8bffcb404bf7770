"""What the contract files in the repository say, read straight from the YAML (not through the loader).

Tests derive their expectations from this instead of naming today's use cases, so adding a use case as
the README says does not break them (`make check-new-use-case` proves it on a copy of the repository)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platform_config.documents import load_yaml

ROOT = Path(__file__).resolve().parents[2]


def contract_files(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """Every ``contracts/*.yaml`` as plain data, by its ``id``."""
    documents = [load_yaml(p.read_text(encoding="utf-8")) for p in sorted(root.glob("contracts/*.yaml"))]
    return {document["id"]: document for document in documents}


def enabled_use_cases(environment: str, root: Path = ROOT) -> set[str]:
    """The ids of the contracts whose ``environments`` list names ``environment``."""
    return {cid for cid, data in contract_files(root).items() if environment in data["environments"]}
