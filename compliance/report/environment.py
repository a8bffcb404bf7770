"""One environment (Stage) of a synthesized cloud assembly, as the review pack's topics read it.

An :class:`Environment` holds what every topic needs: the stacks and their templates, each resource with
its construct path, the stack artifacts (termination protection), the use cases (from the ``use-case``
tag), and the compliance gate's result for this Stage (:mod:`compliance.gate_result`). Topics extract their
own facts from it with :meth:`Environment.extract`, which computes each topic's extract once, so a topic
can build on another's (the inference profiles read the IAM principals of the access topic).

Everything is read from the assembly, nothing from the repository's configuration, and nothing is checked
again: a report is about exactly what would be deployed and what the gate found in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from compliance.assembly import StackTemplate, load_assembly, template_files
from compliance.assembly_meta import StackArtifact, stack_artifacts, stage_of
from compliance.gate_result import GateResult, read_gate_result
from compliance.report.cfn import as_list, render_value
from platform_config.naming import pascal
from platform_spec.delivery import Output

if TYPE_CHECKING:
    from compliance.report.topic import Topic

F = TypeVar("F")

#: Resources whose data (or key material) is lost when CloudFormation replaces or deletes them.
STATEFUL_TYPES = frozenset(
    {
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::Logs::LogGroup",
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::SQS::Queue",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::EFS::FileSystem",
        "AWS::Kinesis::Stream",
        "AWS::SecretsManager::Secret",
        "AWS::OpenSearchServerless::Collection",
    }
)
#: The tag every resource of a use case that can carry tags is given (``stacks``' cost allocation tags).
USE_CASE_TAG = "use-case"


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    construct_path: str  # "Prod/Platform/PolicyQa/Guardrail/Resource" ("" when CDK recorded none)
    properties: dict[str, Any]
    deletion_policy: str | None
    update_replace_policy: str | None
    metadata: dict[str, Any]

    @property
    def stateful(self) -> bool:
        return self.type in STATEFUL_TYPES

    @property
    def relative_path(self) -> str:
        """The construct path without the Stage, identical in every environment."""
        return self.construct_path.split("/", 1)[1] if "/" in self.construct_path else self.construct_path

    @property
    def on_delete(self) -> str:
        return self.deletion_policy or "Delete (CloudFormation default)"

    @cached_property
    def tags(self) -> dict[str, str]:
        # Read once per resource: the topics ask each resource for its use case thousands of times.
        return tags_of(self.properties.get("Tags"))


def tags_of(value: Any) -> dict[str, str]:
    """CloudFormation ``Tags`` (a list of Key/Value, or a mapping for some types) as a mapping."""
    if isinstance(value, dict):
        return {str(k): render_value(v) for k, v in value.items()}
    return {str(t.get("Key")): render_value(t.get("Value")) for t in as_list(value) if isinstance(t, dict)}


@dataclass
class Environment:
    name: str
    assembly: Path
    stacks: list[StackTemplate]
    artifacts: list[StackArtifact]
    resources: list[Resource]
    gate: GateResult
    #: The topics of the report being built (the registry, unless a caller chose others).
    topics: Sequence[Topic[Any]] = ()
    _extracts: dict[str, Any] = field(default_factory=dict, repr=False)

    def extract(self, topic: Topic[F]) -> F:
        """``topic``'s facts of this environment, computed once."""
        if topic.id not in self._extracts:
            self._extracts[topic.id] = topic.extract(self)
        return self._extracts[topic.id]  # type: ignore[no-any-return]

    def set_extract(self, topic: Topic[F], facts: F) -> None:
        """Use ``facts`` as ``topic``'s extract of this environment (a caller that built them itself, a test
        showing what another topic makes of them)."""
        self._extracts[topic.id] = facts

    @cached_property
    def by_id(self) -> dict[str, Resource]:
        return {r.logical_id: r for r in self.resources}

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    @property
    def accounts(self) -> list[str]:
        return sorted({s.account for s in self.stacks})

    @property
    def regions(self) -> list[str]:
        return sorted({s.region for s in self.stacks})

    @property
    def production(self) -> bool:
        return any(a.termination_protection for a in self.artifacts)

    @property
    def bakes_releases(self) -> bool:
        """A release reaches this environment's orchestrator through a canary bake: the stack gives the
        bake its rollback alarms (``platform_spec.delivery.Output.CRITICAL_ALARMS``), so the previous
        version keeps most of the traffic until the release is promoted."""
        return any(Output.CRITICAL_ALARMS in (s.template.get("Outputs") or {}) for s in self.stacks)

    @cached_property
    def use_cases(self) -> list[str]:
        """Every use case with a tagged resource here (its guardrail and inference profiles are); computed
        once (``use_case_of`` asks for it for each resource of every topic)."""
        return sorted({r.tags[USE_CASE_TAG] for r in self.resources if r.tags.get(USE_CASE_TAG)})

    def use_case_of(self, logical_id: str, use_cases: Sequence[str] = ()) -> str:
        """The use case a resource belongs to ("" for the platform's shared resources): its ``use-case`` tag,
        else the use case whose PascalCase id starts its logical ID (the stacks name a use case's constructs
        after it), longest first. ``use_cases`` adds use cases to look for (another environment's)."""
        resource = self.by_id.get(logical_id)
        if resource is not None and resource.tags.get(USE_CASE_TAG):
            return resource.tags[USE_CASE_TAG]
        candidates = sorted({*self.use_cases, *use_cases}, key=len, reverse=True)
        return next((u for u in candidates if logical_id.startswith(pascal(u))), "")


def load_environments(assembly_dir: Path | str) -> dict[str, list[StackTemplate]]:
    """The assembly's stacks grouped by Stage (environment), in stack order."""
    grouped: dict[str, list[StackTemplate]] = defaultdict(list)
    for stack in load_assembly(assembly_dir):
        grouped[stage_of(stack.name)].append(stack)
    return dict(grouped)


def load_environment(
    assembly_dir: Path | str,
    name: str,
    *,
    topics: Sequence[Topic[Any]] = (),
    stacks: Sequence[StackTemplate] | None = None,
    gate: GateResult | None = None,
) -> Environment:
    """Environment ``name`` (a Stage) of the assembly at ``assembly_dir``. ``stacks`` and ``gate`` (the whole
    assembly's gate result) may be passed when the caller has read them already."""
    directory = Path(assembly_dir)
    # Only this Stage's templates are parsed (the others' were parsed and dropped, ~3/4 of the work).
    env_stacks = list(stacks) if stacks is not None else load_assembly(directory, stage=name)
    if stacks is None and not env_stacks:
        available = sorted({stage_of(stack) for stack in template_files(directory)})
        raise KeyError(f"environment {name!r} is not in {directory} (it has: {', '.join(available)})")
    artifacts_by_name = stack_artifacts(directory, stage=name)
    artifacts = [artifacts_by_name[s.name] for s in env_stacks if s.name in artifacts_by_name]
    paths = {
        (artifact.name, logical_id): path
        for artifact in artifacts
        for logical_id, path in artifact.resource_paths(
            next(s.template for s in env_stacks if s.name == artifact.name)
        ).items()
    }
    resources = [
        Resource(
            stack=stack.name,
            logical_id=logical_id,
            type=str(resource.get("Type", "")),
            construct_path=paths.get((stack.name, logical_id), "").lstrip("/"),
            properties=resource.get("Properties", {}) or {},
            deletion_policy=resource.get("DeletionPolicy"),
            update_replace_policy=resource.get("UpdateReplacePolicy"),
            metadata=resource.get("Metadata", {}) or {},
        )
        for stack in env_stacks
        for logical_id, resource in stack.resources.items()
    ]
    return Environment(
        name=name,
        assembly=directory,
        stacks=list(env_stacks),
        artifacts=artifacts,
        resources=resources,
        gate=(gate or read_gate_result(directory)).for_stage(name),
        topics=topics,
    )
