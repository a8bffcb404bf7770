"""The editors' JSON Schemas, generated from the ``platform_spec`` dataclasses (never written by hand).

``python -m platform_config.schemas`` rewrites ``platform_config/schemas/*.schema.json``; a test fails
when a checked-in schema differs from what the dataclasses generate, so a field added to a dataclass
reaches the editors with the same commit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from platform_config.documents import adapter
from platform_spec.contract import ContractDocument, PromptDocument
from platform_spec.delivery import DeliveryDocument
from platform_spec.environment import EnvironmentDocument
from platform_spec.evaluation import RubricDocument, SuiteDocument

SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: schema name -> (dataclass, title)
DOCUMENTS: dict[str, tuple[type, str]] = {
    "environment": (EnvironmentDocument, "bedrock-platform environment"),
    "contract": (ContractDocument, "bedrock-platform production contract"),
    "prompt": (PromptDocument, "bedrock-platform versioned system prompt"),
    "suite": (SuiteDocument, "bedrock-platform evaluation suite (evals/<use case>/<suite>.yaml)"),
    "rubric": (RubricDocument, "bedrock-platform model-graded rubric (evals/<use case>/rubric.yaml)"),
    "delivery": (DeliveryDocument, "bedrock-platform delivery pipeline (delivery/pipeline.yaml)"),
}


def _tidy(node: Any) -> Any:
    """Drop pydantic's generated ``title`` of every property (the property name says it)."""
    if isinstance(node, dict):
        cleaned = {k: _tidy(v) for k, v in node.items()}
        if isinstance(cleaned.get("properties"), dict):
            for prop in cleaned["properties"].values():
                if isinstance(prop, dict):
                    prop.pop("title", None)
        return cleaned
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def generate(name: str) -> dict[str, Any]:
    kind, title = DOCUMENTS[name]
    generated = _tidy(adapter(kind).json_schema())
    header = {
        "$schema": DIALECT,
        "$id": f"https://bedrock-platform.example/schemas/{name}.schema.json",
        "title": title,
    }
    generated.pop("title", None)
    return {**header, **generated}


def render(name: str) -> str:
    return json.dumps(generate(name), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a checked-in schema is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name in DOCUMENTS:
        path = SCHEMA_DIR / f"{name}.schema.json"
        text = render(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
