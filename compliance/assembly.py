"""Read a synthesized cloud assembly (cdk.out), including the nested assembly of every Stage."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
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


@dataclass(frozen=True)
class _StackEntry:
    """A stack artifact of the manifests, before its template is read."""

    name: str
    account: str
    region: str
    path: Path


def _walk(directory: Path) -> Iterator[_StackEntry]:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        kind = artifact.get("type")
        if kind == "cdk:cloud-assembly":
            yield from _walk(directory / artifact["properties"]["directoryName"])
        elif kind == "aws:cloudformation:stack":
            env = artifact.get("environment", "aws://unknown-account/unknown-region")
            account, region = env.removeprefix("aws://").split("/", 1)
            path = directory / artifact["properties"]["templateFile"]
            yield _StackEntry(artifact.get("displayName", artifact_id), account, region, path)


class _ConstructClasses(Mapping[str, str]):
    """One stack's :attr:`StackTemplate.construct_classes`, read from ``tree.json`` when first asked for.

    Only the gate's NAG-COVERAGE rule reads them, while every reader of an assembly (the review pack, the
    release diff, the gate's result) loads it: ``tree.json`` is the assembly's largest file (~0.95 MB for
    the platform's four Stages), and parsing and walking it took ~35 ms of a ~55 ms ``load_assembly``;
    the review pack and its tests load assemblies hundreds of times. ``tree`` is shared by the stacks of
    one :func:`load_assembly` call, so the file is parsed at most once per call, as before."""

    def __init__(self, tree: Callable[[], Mapping[str, Mapping[str, str]]], name: str) -> None:
        self._tree = tree
        self._name = name

    def _classes(self) -> Mapping[str, str]:
        return self._tree().get(self._name, {})

    def __getitem__(self, logical_id: str) -> str:
        return self._classes()[logical_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes())

    def __len__(self) -> int:
        return len(self._classes())

    def __repr__(self) -> str:
        return repr(dict(self._classes()))

    def __reduce__(self) -> tuple[type[dict[str, str]], tuple[dict[str, str]]]:
        return dict, (dict(self._classes()),)


def template_files(directory: Path | str) -> dict[str, Path]:
    """The template file of every stack of the assembly at ``directory`` (and its nested Stage
    assemblies), by hierarchical name, read from the manifests alone (no template is parsed)."""
    return {entry.name: entry.path for entry in _walk(Path(directory))}


def load_assembly(directory: Path | str, *, stage: str | None = None) -> list[StackTemplate]:
    """Every stack in the assembly at ``directory`` (and in its nested Stage assemblies); with ``stage``,
    only that Stage's (``compliance.assembly_meta.stage_of``), the others' templates left unread."""
    from compliance.assembly_meta import stage_of

    directory = Path(directory)
    if not (directory / "manifest.json").is_file():
        raise FileNotFoundError(
            f"{directory} is not a cloud assembly (no manifest.json); run `make synth` first"
        )
    tree = functools.cache(lambda: construct_classes(directory))
    return [
        StackTemplate(
            name=entry.name,
            account=entry.account,
            region=entry.region,
            path=entry.path,
            template=json.loads(entry.path.read_text(encoding="utf-8")),
            construct_classes=_ConstructClasses(tree, entry.name),
        )
        for entry in _walk(directory)
        if stage is None or stage_of(entry.name) == stage
    ]
