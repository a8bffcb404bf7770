"""Read a synthesized cloud assembly (cdk.out), including the nested assembly of every Stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StackTemplate:
    """One synthesized stack: where it deploys and what it contains."""

    name: str  # hierarchical id, e.g. "Prod/Platform"
    account: str
    region: str
    path: Path
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})  # type: ignore[no-any-return]

    def resources_of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                yield logical_id, resource


def _walk(directory: Path) -> Iterator[StackTemplate]:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        kind = artifact.get("type")
        if kind == "cdk:cloud-assembly":
            yield from _walk(directory / artifact["properties"]["directoryName"])
        elif kind == "aws:cloudformation:stack":
            env = artifact.get("environment", "aws://unknown-account/unknown-region")
            account, region = env.removeprefix("aws://").split("/", 1)
            path = directory / artifact["properties"]["templateFile"]
            yield StackTemplate(
                name=artifact.get("displayName", artifact_id),
                account=account,
                region=region,
                path=path,
                template=json.loads(path.read_text(encoding="utf-8")),
            )


def load_assembly(directory: Path | str) -> list[StackTemplate]:
    """Every stack in the assembly at ``directory`` (and in its nested Stage assemblies)."""
    directory = Path(directory)
    if not (directory / "manifest.json").is_file():
        raise FileNotFoundError(
            f"{directory} is not a cloud assembly (no manifest.json); run `make synth` first"
        )
    return list(_walk(directory))
