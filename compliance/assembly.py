"""Read a synthesized cloud assembly (cdk.out), including the nested assembly of every Stage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def template_digest(path: Path) -> str:
    """The SHA-256 of a template file: what the compliance gate records of each template it checked, so a
    reader of its result can tell a template changed since."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: The jsii type of a construct that is a bare ``cdk.CfnResource`` (no L1 class).
GENERIC_CFN_RESOURCE = "aws-cdk-lib.CfnResource"


@dataclass(frozen=True)
class StackTemplate:
    """One synthesized stack: where it deploys and what it contains."""

    name: str  # hierarchical id, e.g. "Prod/Platform"
    account: str
    region: str
    path: Path
    template: dict[str, Any]
    #: The jsii class of the construct behind each resource, by logical ID (from ``tree.json``), e.g.
    #: ``aws-cdk-lib.aws_lambda.CfnFunction`` or, for a bare ``CfnResource``, :data:`GENERIC_CFN_RESOURCE`.
    #: Empty when the assembly has no ``tree.json``.
    construct_classes: Mapping[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})  # type: ignore[no-any-return]

    def resources_of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                yield logical_id, resource


def construct_classes(assembly_dir: Path | str) -> dict[str, dict[str, str]]:
    """For every stack of the assembly (by hierarchical name), the jsii class of each resource's construct.

    ``tree.json`` (written by every synth) records each construct's path and class; the stack artifact's
    ``aws:cdk:logicalId`` metadata maps construct paths to logical IDs. Empty if there is no ``tree.json``.
    """
    from compliance.assembly_meta import stack_artifacts

    directory = Path(assembly_dir)
    tree_file = directory / "tree.json"
    if not tree_file.is_file():
        return {}
    classes: dict[str, str] = {}

    def walk(node: dict[str, Any]) -> None:
        fqn = (node.get("constructInfo") or {}).get("fqn")
        if fqn:
            classes[str(node.get("path", ""))] = str(fqn)
        for child in (node.get("children") or {}).values():
            walk(child)

    walk(json.loads(tree_file.read_text(encoding="utf-8")).get("tree") or {})
    return {
        name: {
            logical_id: classes[path]
            for logical_id, path in artifact.logical_id_paths().items()
            if path in classes
        }
        for name, artifact in stack_artifacts(directory).items()
    }


def _walk(directory: Path, classes: Mapping[str, Mapping[str, str]]) -> Iterator[StackTemplate]:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        kind = artifact.get("type")
        if kind == "cdk:cloud-assembly":
            yield from _walk(directory / artifact["properties"]["directoryName"], classes)
        elif kind == "aws:cloudformation:stack":
            env = artifact.get("environment", "aws://unknown-account/unknown-region")
            account, region = env.removeprefix("aws://").split("/", 1)
            path = directory / artifact["properties"]["templateFile"]
            name = artifact.get("displayName", artifact_id)
            yield StackTemplate(
                name=name,
                account=account,
                region=region,
                path=path,
                template=json.loads(path.read_text(encoding="utf-8")),
                construct_classes=dict(classes.get(name, {})),
            )


def load_assembly(directory: Path | str) -> list[StackTemplate]:
    """Every stack in the assembly at ``directory`` (and in its nested Stage assemblies)."""
    directory = Path(directory)
    if not (directory / "manifest.json").is_file():
        raise FileNotFoundError(
            f"{directory} is not a cloud assembly (no manifest.json); run `make synth` first"
        )
    return list(_walk(directory, construct_classes(directory)))
