"""What a cloud assembly records about its stacks beyond the templates: stage, termination protection,
construct metadata (where CDK keeps cdk-nag acknowledgments) and the asset directories.

CDK writes ``Validations.acknowledge(...)`` as construct metadata of type ``aws:cdk:acknowledged-rules``
(data: ``{"Annotation::<finding id>": "<reason>"}``), keyed by construct path, into each stack
artifact's metadata. Since CDK 2.14x that metadata lives in the file named by the artifact's
``additionalMetadataFile`` (``assembly-<Stage>/<Stack>.metadata.json``); older assemblies inline it as
the artifact's ``metadata``. Both are read. The templates and ``tree.json`` do not carry them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"
LOGICAL_ID = "aws:cdk:logicalId"
ANNOTATION_PREFIX = "Annotation::"


@dataclass(frozen=True)
class Acknowledgment:
    """One acknowledged finding (cdk-nag's, the gate's ``BedrockPlatform::<RULE>``, CDK's own
    ``CloudFormation-Validate::<rule>``, or a construct warning's id) on one construct, and the resources it
    covers: that construct's and its children's."""

    stack: str
    construct_path: str  # "/Prod/Platform/InvocationLogging/Bucket"
    finding: str  # "AwsSolutions-IAM5[Resource::*]"
    reason: str
    resources: tuple[str, ...] = ()  # logical IDs


@dataclass(frozen=True)
class StackArtifact:
    name: str  # "Prod/Platform"
    directory: Path
    termination_protection: bool
    metadata: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metadata_file: Path | None = None  # where CDK wrote the metadata, when not inline in the manifest

    @property
    def stage(self) -> str:
        return stage_of(self.name)

    def logical_id_paths(self) -> dict[str, str]:
        """Construct path (without the leading "/") of every CloudFormation element, by logical ID."""
        return {
            str(entry["data"]): path.lstrip("/")
            for path, entries in self.metadata.items()
            for entry in entries
            if entry.get("type") == LOGICAL_ID and isinstance(entry.get("data"), str)
        }

    def acknowledgments(self, template: dict[str, Any] | None = None) -> list[Acknowledgment]:
        """Every acknowledgment recorded on a construct of this stack, with the logical IDs of the
        resources of ``template`` (this stack's) at or under that construct, sorted by construct path."""
        paths = self.resource_paths(template or {})
        found = []
        for path, entries in self.metadata.items():
            for entry in entries:
                if entry.get("type") != ACKNOWLEDGED_RULES or not isinstance(entry.get("data"), dict):
                    continue
                covered = tuple(
                    logical_id
                    for logical_id, resource_path in paths.items()
                    if resource_path == path or resource_path.startswith(path + "/")
                )
                for key, reason in entry["data"].items():
                    finding = str(key).removeprefix(ANNOTATION_PREFIX)
                    found.append(Acknowledgment(self.name, path, finding, str(reason), covered))
        return sorted(found, key=lambda ack: (ack.construct_path, ack.finding))

    def resource_paths(self, template: dict[str, Any]) -> dict[str, str]:
        """The construct path (with the leading "/") of every resource of ``template``, by logical ID.

        ``aws:cdk:path`` is template metadata only when path metadata is on (the CLI turns it on); the
        stack artifact's ``aws:cdk:logicalId`` metadata always maps construct paths to logical IDs."""
        by_id = self.logical_id_paths()
        return {
            logical_id: "/"
            + str((resource.get("Metadata") or {}).get("aws:cdk:path") or by_id.get(logical_id, "")).lstrip(
                "/"
            )
            for logical_id, resource in (template.get("Resources") or {}).items()
        }


def stage_of(stack_name: str) -> str:
    """The Stage a stack belongs to ("Prod/Platform" -> "Prod"); top-level stacks belong to "App"."""
    return stack_name.split("/", 1)[0] if "/" in stack_name else "App"


def _walk(directory: Path, stage: str | None) -> Iterator[StackArtifact]:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        kind = artifact.get("type")
        if kind == "cdk:cloud-assembly":
            yield from _walk(directory / artifact["properties"]["directoryName"], stage)
        elif kind == "aws:cloudformation:stack":
            name = artifact.get("displayName", artifact_id)
            if stage is not None and stage_of(name) != stage:
                continue
            metadata: dict[str, list[dict[str, Any]]] = {
                key: list(value) for key, value in artifact.get("metadata", {}).items()
            }
            extra = artifact.get("additionalMetadataFile")
            metadata_file = directory / extra if extra and (directory / extra).is_file() else None
            if metadata_file is not None:
                for key, value in json.loads(metadata_file.read_text(encoding="utf-8")).items():
                    metadata.setdefault(key, []).extend(value)
            yield StackArtifact(
                name=name,
                directory=directory,
                termination_protection=bool(artifact.get("properties", {}).get("terminationProtection")),
                metadata=metadata,
                metadata_file=metadata_file,
            )


def stack_artifacts(assembly_dir: Path, *, stage: str | None = None) -> dict[str, StackArtifact]:
    """Every stack artifact of the assembly (and its nested Stage assemblies), by hierarchical name; with
    ``stage``, that Stage's only, the others' metadata files left unread (each Stage's is ~0.2 MB of JSON
    for the platform: reading all four took ~38 ms of each environment the review pack loads)."""
    return {artifact.name: artifact for artifact in _walk(Path(assembly_dir), stage)}
