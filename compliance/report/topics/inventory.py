"""The Bedrock inventory: every application inference profile (source, the regions its grants let Bedrock
route to, who may invoke it, tags) and every use case as the orchestrator is deployed with it (routes,
token caps, prompt version), including whether its prompts and responses are logged, and where, as the
synthesized resources set it:

- the orchestrator's own log line carries the prompt and the response text when the use case's deployed
  ``runtime_config.json`` says so (``logging.prompts_and_responses``), into the function's log group;
- Bedrock's model invocation logging (account-wide) logs every prompt and response when its text delivery
  flag is on, whatever a single contract allows (the logging topic reads the setting);
- API Gateway's full request and response logs (``DataTraceEnabled``) would put every request body into the
  stage's execution logs (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compliance.assembly import StackTemplate
from compliance.cfn_values import partition_of
from compliance.report.cfn import is_true, ref_target, render_value
from compliance.report.document import BAD, WARN, Cell, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment, Resource
from compliance.report.matching import Matching
from compliance.report.topic import (
    ATTENTION,
    REVIEW,
    Change,
    EvidenceCheck,
    RenderContext,
    Topic,
    verdict,
)
from compliance.report.topics import access, invocation_logging
from compliance.report.topics.resources import retiring_profiles
from platform_config.catalog import ModelCatalog
from platform_spec.fields import SpecError
from platform_spec.runtime import RUNTIME_CONFIG_FILE, read_runtime_config
from platform_spec.runtime import RuntimeUseCase as SpecUseCase

GEOGRAPHIES = ("us-gov", "us", "eu", "apac", "au", "jp", "ca", "global")
#: A model whose Bedrock end of life is at most this many days after the catalog's date is flagged for
#: review: a migration (a new model in the contract, evaluated, released with ``model.retiring``) takes
#: a release cycle or more, and the loader refuses the model once the catalog passes that date.
END_OF_LIFE_NOTICE_DAYS = 180
_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:(?P<region>[^:]*):(?P<account>[^:]*):(?P<kind>[a-z-]+)/(?P<id>.+)$"
)
_INVOKE = re.compile(r"^(\*|bedrock:\*|bedrock:invoke.*)$", re.IGNORECASE)
#: The actions that run a model through an inference profile (Converse and ConverseStream need them too).
_INVOKE_ACTIONS = ("bedrock:invokemodel", "bedrock:invokemodelwithresponsestream")
_VERSIONED_MODEL = re.compile(r"-v\d+(:\d+)?$|:\d+$")


@dataclass(frozen=True)
class Profile:
    stack: str
    logical_id: str
    name: str
    description: str
    source: str
    source_kind: str
    geography: str | None
    model_id: str | None
    regions: tuple[str, ...]
    tags: dict[str, str]
    invokable_by: tuple[str, ...]
    #: (policy logical ID, resource) of every grant that lets the model run in any region ("*")
    any_region_grants: tuple[tuple[str, str], ...] = ()
    #: No function of the stack names it: a profile kept for the previous release (``model.retiring``),
    #: which the previous orchestrator version still calls while a release bakes.
    retiring: bool = False

    @property
    def use_case(self) -> str:
        return self.tags.get("use-case", "")


@dataclass(frozen=True)
class TextLogging:
    """Where a use case's prompts and responses are logged, as the synthesized resources set it."""

    contract_allows: bool
    orchestrator_log: str | None  # the function's log group (logical ID or name) when it logs text
    orchestrator_retention_days: int | None
    bedrock: bool | None  # Bedrock invocation logging text delivery; None: not set in this environment
    api_data_trace: tuple[str, ...]  # stages with DataTraceEnabled

    @property
    def logged(self) -> bool:
        return bool(self.orchestrator_log or self.bedrock or self.api_data_trace)

    @property
    def against_contract(self) -> bool:
        return self.logged and not self.contract_allows


@dataclass(frozen=True)
class RuntimeUseCase:
    """One use case in a function's deployed runtime_config.json (the function's own configuration), read
    with the function's own reader (``platform_spec.runtime``); ``spec`` is None and ``problems`` says why
    when the function would refuse the file."""

    function: str
    use_case: str
    spec: SpecUseCase | None
    problems: tuple[str, ...] = ()
    text_logging: TextLogging | None = None


@dataclass(frozen=True)
class InventoryFacts:
    profiles: tuple[Profile, ...]
    runtime: tuple[RuntimeUseCase, ...]

    @property
    def use_cases(self) -> list[str]:
        found = {p.use_case for p in self.profiles} | {r.use_case for r in self.runtime}
        return sorted(u for u in found if u)


# ---------------------------------------------------------------------------------------------------
# Extract


def parse_model_source(source: str) -> tuple[str, str | None, str | None]:
    """(kind, geography, model id) of an inference profile's ``ModelSource.CopyFrom`` ARN."""
    match = _MODEL_ARN.match(source)
    if not match:
        return ("unresolved (token)" if source.startswith("<") else "unrecognised", None, None)
    kind, identifier = match["kind"], match["id"]
    if kind == "foundation-model":
        return ("foundation model (in-region)", None, identifier)
    if kind == "inference-profile":
        prefix, _, rest = identifier.partition(".")
        if prefix in GEOGRAPHIES and rest:
            label = "global cross-region" if prefix == "global" else f"{prefix} cross-region"
            return (f"{label} inference profile", prefix, rest)
        return ("inference profile", None, identifier)
    return (kind.replace("-", " "), None, None)


def model_regions(
    model_id: str, principals: Sequence[access.Principal]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Regions any principal may invoke ``model_id`` in, read from its Allow grants on foundation-model
    ARNs, and the grants that allow any region. ``*`` (a wildcard region) and ``(no region)`` (the
    region-less ARN global profiles use) are kept as they are: a reviewer must see them."""
    regions: set[str] = set()
    anywhere: set[tuple[str, str]] = set()
    for principal in principals:
        for grant in principal.grants():
            if grant.effect != "Allow" or not _INVOKE.match(grant.action):
                continue
            match = _MODEL_ARN.match(grant.resource)
            if match and match["kind"] == "foundation-model" and fnmatch.fnmatchcase(model_id, match["id"]):
                regions.add(match["region"] or "(no region)")
                if "*" in match["region"]:
                    anywhere.add((grant.source, grant.resource))
            elif grant.resource == "*":
                regions.add("*")
                anywhere.add((grant.source, grant.resource))
    ordered = tuple(sorted(regions, key=lambda r: (r.startswith(("*", "(")), r)))
    return ordered, tuple(sorted(anywhere))


def grant_covers_profile(pattern: str, profile: Resource, stack: StackTemplate) -> bool:
    """Whether a grant's resource (rendered) may name ``profile``: ``*``, a reference to it, or an ARN
    pattern (``.../application-inference-profile/*``) its ARN matches. The profile's ID is known only once
    it is deployed, so a pattern on the ID is taken to match it (the grant may reach it)."""
    if pattern == "*" or pattern == f"<{profile.logical_id}>" or f"<{profile.logical_id}." in pattern:
        return True
    if "*" not in pattern and "?" not in pattern:
        return False
    partition = partition_of(stack.region)
    for placeholder, value in (
        ("<AWS::Partition>", partition),
        ("<AWS::Region>", stack.region),
        ("<AWS::AccountId>", stack.account),
    ):
        pattern = pattern.replace(placeholder, value)
    prefix = f"arn:{partition}:bedrock:{stack.region}:{stack.account}:application-inference-profile/"
    marker = ":application-inference-profile/"
    profile_id = re.sub(r"[*?]", "x", pattern.split(marker, 1)[1]) if marker in pattern else "x"
    return fnmatch.fnmatchcase(prefix + profile_id, pattern)


def invokes_model(action: str) -> bool:
    """Whether an IAM action (a pattern, case-insensitive) covers invoking a model through a profile."""
    return any(fnmatch.fnmatchcase(name, action.lower()) for name in _INVOKE_ACTIONS)


def _invoke_actions_on(statement: access.Statement, profile: Resource, stack: StackTemplate) -> set[str]:
    """The invoke actions ``statement`` applies to on ``profile`` (NotAction and NotResource read as IAM
    does: everything but what they list)."""
    listed = {n for n in _INVOKE_ACTIONS if any(fnmatch.fnmatchcase(n, a.lower()) for a in statement.actions)}
    actions = set(_INVOKE_ACTIONS) - listed if "NotAction" in statement.negated else listed
    named = any(grant_covers_profile(r, profile, stack) for r in statement.resources)
    on_profile = not named if "NotResource" in statement.negated else named
    return actions if on_profile else set()


def _may_invoke(principal: access.Principal, profile: Resource, stack: StackTemplate) -> bool:
    """An Allow of an invoke action on the profile that no unconditional Deny takes back (an explicit deny
    wins)."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for statement in principal.statements:
        actions = _invoke_actions_on(statement, profile, stack)
        if statement.effect == "Allow":
            allowed |= actions
        elif statement.effect == "Deny" and not statement.condition:
            denied |= actions
    return bool(allowed - denied)


def _profiles(
    resources: Sequence[Resource], principals: Sequence[access.Principal], stacks: Sequence[StackTemplate]
) -> list[Profile]:
    by_name = {stack.name: stack for stack in stacks}
    retiring = retiring_profiles(resources)
    profiles = []
    for resource in resources:
        if resource.type != "AWS::Bedrock::ApplicationInferenceProfile":
            continue
        props = resource.properties
        source = render_value((props.get("ModelSource") or {}).get("CopyFrom", ""))
        kind, geography, model_id = parse_model_source(source)
        invokers = sorted(
            principal.logical_id
            for principal in principals
            if _may_invoke(principal, resource, by_name[resource.stack])
        )
        regions, anywhere = model_regions(model_id, principals) if model_id else ((), ())
        profiles.append(
            Profile(
                stack=resource.stack,
                logical_id=resource.logical_id,
                name=render_value(props.get("InferenceProfileName", "")),
                description=render_value(props.get("Description", "")),
                source=source,
                source_kind=kind,
                geography=geography,
                model_id=model_id,
                regions=regions,
                tags=resource.tags,
                invokable_by=tuple(invokers),
                any_region_grants=anywhere,
                retiring=resource.logical_id in retiring,
            )
        )
    return profiles


def _published_assets(stack: StackTemplate) -> dict[str, Path]:
    """Staged asset directories by the S3 object key they are published to (from ``*.assets.json``)."""
    found: dict[str, Path] = {}
    for manifest in stack.path.parent.glob("*.assets.json"):
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        for entry in files.values():
            source = manifest.parent / str((entry.get("source") or {}).get("path", ""))
            for destination in (entry.get("destinations") or {}).values():
                found[str(destination.get("objectKey"))] = source.resolve()
    return found


def _function_log_group(function: Resource, by_id: Mapping[str, Resource]) -> tuple[str, int | None]:
    """The log group a function writes to (its LoggingConfig, else Lambda's default) and its retention."""
    group = (function.properties.get("LoggingConfig") or {}).get("LogGroup")
    target = ref_target(group)
    if target and target in by_id:
        return target, by_id[target].properties.get("RetentionInDays")
    if group:
        return render_value(group), None
    return f"/aws/lambda/<{function.logical_id}> (Lambda's default group)", None


def _api_data_trace(resources: Sequence[Resource]) -> tuple[str, ...]:
    """Stages (and deployments that create their stage) that log full request and response bodies."""
    found = []
    for r in resources:
        if r.type == "AWS::ApiGateway::Stage":
            stage = r.properties
        elif r.type == "AWS::ApiGateway::Deployment":
            stage = r.properties.get("StageDescription") or {}
        else:
            continue
        settings = [stage, *(s for s in stage.get("MethodSettings") or [] if isinstance(s, dict))]
        if any(is_true(s.get("DataTraceEnabled")) for s in settings):
            found.append(r.logical_id)
    return tuple(found)


def _runtime(env: Environment, bedrock_text: bool | None) -> list[RuntimeUseCase]:
    """Use cases in every Lambda asset's ``runtime_config.json`` (the orchestrator's deployed config).

    The asset is the one published to the function's ``Code.S3Key`` (or, with asset metadata on, the one
    its ``aws:asset:path`` names)."""
    stack_dirs = {stack.name: stack.path.parent for stack in env.stacks}
    published = {stack.name: _published_assets(stack) for stack in env.stacks}
    data_trace = _api_data_trace(env.resources)
    found = []
    for resource in env.resources:
        if resource.type != "AWS::Lambda::Function":
            continue
        key = (resource.properties.get("Code") or {}).get("S3Key")
        if isinstance(key, str) and key in published[resource.stack]:
            asset = published[resource.stack][key]
        elif "aws:asset:path" in resource.metadata:
            asset = (stack_dirs[resource.stack] / str(resource.metadata["aws:asset:path"])).resolve()
        else:
            continue
        if not asset.is_dir():
            continue
        log_group, retention = _function_log_group(resource, env.by_id)
        # The orchestrator's configuration: what its log line records. The review functions ship the same
        # file to score outputs (they log no prompt or response text).
        for config_file in sorted(asset.glob(f"orchestrator/{RUNTIME_CONFIG_FILE}")):
            try:
                parsed = read_runtime_config(config_file)
            except SpecError as error:
                try:
                    raw = json.loads(config_file.read_text(encoding="utf-8")).get("use_cases") or {}
                except (ValueError, AttributeError):
                    raw = {}
                for use_case in sorted(raw) or ["(unreadable)"]:
                    found.append(RuntimeUseCase(resource.logical_id, use_case, None, error.problems))
                continue
            for use_case, spec in sorted(parsed.use_cases.items()):
                logs_text = spec.log_prompts_and_responses
                found.append(
                    RuntimeUseCase(
                        resource.logical_id,
                        use_case,
                        spec,
                        text_logging=TextLogging(
                            contract_allows=logs_text,
                            orchestrator_log=log_group if logs_text else None,
                            orchestrator_retention_days=retention if logs_text else None,
                            bedrock=bedrock_text,
                            api_data_trace=data_trace,
                        ),
                    )
                )
    return found


# ---------------------------------------------------------------------------------------------------
# Diff


def diff_inventory(now: InventoryFacts, then: InventoryFacts, matching: Matching) -> list[Change]:
    changes = []
    before = {(matching.ids.get(r.function, r.function), r.use_case): r for r in then.runtime}
    after = {(r.function, r.use_case): r for r in now.runtime}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        function, use_case = key
        if old is None or new is None:
            changes.append(
                Change(
                    TOPIC.id,
                    function,
                    "added" if old is None else "removed",
                    f"use case {use_case} {'added to' if old is None else 'removed from'} the deployed runtime "
                    "configuration",
                    level=ATTENTION,
                    type="runtime_config.json",
                    use_case=use_case,
                )
            )
            continue
        if old.spec is None or new.spec is None:
            if (old.spec is None) != (new.spec is None):
                changes.append(
                    Change(
                        TOPIC.id,
                        function,
                        "changed",
                        f"deployed configuration of {use_case} is "
                        + (
                            "now unreadable: " + "; ".join(new.problems)
                            if new.spec is None
                            else "readable again"
                        ),
                        level=ATTENTION,
                        type="runtime_config.json",
                        use_case=use_case,
                    )
                )
            continue
        trace_before = old.text_logging.api_data_trace if old.text_logging else ()
        trace_now = new.text_logging.api_data_trace if new.text_logging else ()
        if bool(trace_before) != bool(trace_now):
            changes.append(
                Change(
                    TOPIC.id,
                    function,
                    "changed",
                    f"API Gateway {'now logs' if trace_now else 'no longer logs'} the request bodies (prompts) of "
                    f"{use_case}: data trace {'on in ' + ', '.join(trace_now) if trace_now else 'off'}",
                    level=ATTENTION,
                    type="runtime_config.json",
                    use_case=use_case,
                )
            )
        a, b = old.spec, new.spec
        logged_before, logged_now = a.log_prompts_and_responses, b.log_prompts_and_responses
        if logged_before != logged_now:
            changes.append(
                Change(
                    TOPIC.id,
                    function,
                    "changed",
                    f"the orchestrator {'now logs' if logged_now else 'no longer logs'} the prompts and responses "
                    f"of {use_case}"
                    + (
                        f" (in {new.text_logging.orchestrator_log})"
                        if logged_now and new.text_logging and new.text_logging.orchestrator_log
                        else ""
                    ),
                    level=ATTENTION,
                    type="runtime_config.json",
                    use_case=use_case,
                )
            )
        for label, old_value, new_value in (
            ("prompt version", a.prompt.version, b.prompt.version),
            (
                "token caps",
                f"input {a.contract.limits.max_input_tokens}, output {a.contract.limits.max_output_tokens}",
                f"input {b.contract.limits.max_input_tokens}, output {b.contract.limits.max_output_tokens}",
            ),
            (
                "routes",
                ", ".join(f"{n}: {s.identifier}" for n, s in a.routes.items()),
                ", ".join(f"{n}: {s.identifier}" for n, s in b.routes.items()),
            ),
            ("risk tier", a.contract.risk_tier.value, b.contract.risk_tier.value),
        ):
            if old_value != new_value:
                changes.append(
                    Change(
                        TOPIC.id,
                        function,
                        "changed",
                        f"{use_case} {label}: {old_value} -> {new_value}",
                        level=REVIEW,
                        type="runtime_config.json",
                        use_case=use_case,
                    )
                )
    return changes


# ---------------------------------------------------------------------------------------------------
# Render


def _days_to_end_of_life(date: str, catalog: ModelCatalog) -> int | None:
    """Days from the catalog's date to ``date`` (negative: past), or None when either is not a date."""
    try:
        return (dt.date.fromisoformat(date) - dt.date.fromisoformat(catalog.retrieved)).days
    except ValueError:
        return None


def ending_profiles(profiles: Sequence[Profile], catalog: ModelCatalog) -> list[tuple[Profile, str]]:
    """(profile, end-of-life date) of each profile whose model's Bedrock end of life is past or at most
    :data:`END_OF_LIFE_NOTICE_DAYS` after the catalog's date (the rows :func:`end_of_life_cell` flags with a
    date)."""
    ending = []
    for profile in profiles:
        date = catalog.end_of_life(profile.model_id) if profile.model_id else None
        days = _days_to_end_of_life(date, catalog) if date else None
        if date and days is not None and days <= END_OF_LIFE_NOTICE_DAYS:
            ending.append((profile, date))
    return ending


def end_of_life_cell(model_id: str | None, catalog: ModelCatalog) -> Cell:
    """The model's Bedrock end of life from the model catalog, flagged for review when it is at most
    :data:`END_OF_LIFE_NOTICE_DAYS` after the catalog's date (a fixed date, as the loader uses: the pack
    of a commit does not change with the day it is read)."""
    if model_id is None:
        return cell("unknown (the source names no model)", flag=WARN)
    date = catalog.end_of_life(model_id)
    if date is None:
        return cell(f"none announced (model catalog retrieved {catalog.retrieved})")
    days = _days_to_end_of_life(date, catalog)
    if days is None:
        return cell(f"{date} (not a date the catalog can compare)", flag=WARN)
    if days <= 0:  # a release's stack read against a newer catalog: the loader refuses the model now
        return cell(
            f"{date}: past, {-days} days before the catalog's date ({catalog.retrieved}); migrate (a new "
            "model in the contract, evaluated, released with model.retiring)",
            flag=WARN,
            badge="PAST END OF LIFE",
        )
    if days <= END_OF_LIFE_NOTICE_DAYS:
        return cell(
            f"{date}: {days} days after the catalog's date ({catalog.retrieved}); plan the migration "
            "(a new model in the contract, evaluated, released with model.retiring)",
            flag=WARN,
            badge="END OF LIFE SOON",
        )
    return cell(date)


def _region_cell(profile: Profile) -> Cell:
    regions = profile.regions
    risky = [r for r in regions if r in ("*", "(no region)")]
    return code(
        "\n".join(regions) or "no grant found",
        flag=BAD if "*" in risky else (WARN if risky or not regions else None),
        badge="ANY REGION" if "*" in risky else "",
    )


def text_logging_cell(logging_: TextLogging | None) -> Cell:
    if logging_ is None:
        return cell("unknown")
    lines = [
        "orchestrator log: "
        + (
            f"yes, {logging_.orchestrator_log}"
            + (
                f" ({logging_.orchestrator_retention_days} days)"
                if logging_.orchestrator_retention_days
                else ""
            )
            if logging_.orchestrator_log
            else "no"
        ),
        "Bedrock invocation logs: "
        + (
            "not set in this environment (another environment of the account and region owns the setting)"
            if logging_.bedrock is None
            else (
                "YES, text delivery on (every use case of the account)"
                if logging_.bedrock
                else "no, text delivery off"
            )
        ),
        "API Gateway request bodies: "
        + (
            f"YES, data trace on in {', '.join(logging_.api_data_trace)}" if logging_.api_data_trace else "no"
        ),
        f"contract allows: {'yes' if logging_.contract_allows else 'no'}",
    ]
    if logging_.against_contract:
        return cell("\n".join(lines), flag=BAD, badge="LOGGED, CONTRACT FORBIDS")
    return cell(
        "\n".join(lines), flag=WARN if logging_.logged else None, badge="LOGGED" if logging_.logged else ""
    )


def render_inventory(facts: InventoryFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    profiles = Section("bedrock-profiles-section", "Application inference profiles")
    profiles.add(
        Paragraph(
            "Regions are read from the deployed IAM grants, not from the model catalog: for each profile, the "
            "regions of every foundation-model ARN of its model that some role may invoke. That is what the "
            "deployed permissions allow Bedrock to route to. Grants are per model, so two profiles on the same "
            "model (e.g. a us. and a global. profile) show the same union. '*' is a region wildcard and "
            "'(no region)' the region-less ARN that global profiles use."
        )
    )
    table = Table(
        "bedrock-profiles",
        [
            "Profile",
            "Use case / route",
            "Name",
            "Source (ModelSource.CopyFrom)",
            "Kind",
            "Regions",
            "Invokable by",
            "Bedrock end of life",
            "Tags",
        ],
    )
    catalog = ModelCatalog.load()
    for profile in facts.profiles:
        table.add(
            [
                code(profile.logical_id),
                cell(
                    f"{profile.use_case} / {profile.tags.get('route', '?')}"
                    + (
                        " (retiring: no function names it; kept for the previous release's orchestrator version, "
                        "model.retiring)"
                        if profile.retiring
                        else ""
                    )
                ),
                code(profile.name),
                code(profile.source),
                cell(profile.source_kind),
                _region_cell(profile),
                code(
                    "\n".join(profile.invokable_by) or "nobody in this stack",
                    flag=None if profile.invokable_by else WARN,
                ),
                end_of_life_cell(profile.model_id, catalog),
                code("\n".join(f"{k}={v}" for k, v in sorted(profile.tags.items()))),
            ],
            subjects=[profile.logical_id, *(source for source, _ in profile.any_region_grants)],
            findings=[f"IAM5[Resource::{resource}]" for _, resource in profile.any_region_grants],
        )
    profiles.add(table)
    section.add(profiles)

    runtime = Section("bedrock-runtime-section", "Deployed use-case configuration")
    runtime.add(
        Paragraph(
            "Read from runtime_config.json in the orchestrator's staged asset: the routes, token caps and prompt "
            "version the function is deployed with. 'Prompts logged' is what is in force, not only what the "
            "contract allows: the orchestrator's own log line (it carries the prompt and the response when the "
            "deployed configuration says so), Bedrock's account-wide invocation logging as this environment "
            "synthesizes it (its text delivery flag covers every use case of the account), and API Gateway's "
            "full request logging (DataTraceEnabled)."
        )
    )
    rt = Table(
        "bedrock-runtime",
        [
            "Use case",
            "Function",
            "Risk tier",
            "Routes",
            "Token caps",
            "Prompt",
            "Prompts logged (in force)",
            "Grounding",
        ],
    )
    for item in facts.runtime:
        spec = item.spec
        if spec is None:
            problems = "; ".join(item.problems)
            rt.add([cell(item.use_case), code(item.function), cell(f"unreadable: {problems}", flag=BAD)])
            continue
        caps = spec.contract.limits
        rt.add(
            [
                cell(item.use_case),
                code(item.function),
                cell(spec.contract.risk_tier.value),
                code("\n".join(f"{name}: {source.identifier}" for name, source in spec.routes.items())),
                cell(f"input {caps.max_input_tokens}, output {caps.max_output_tokens}"),
                cell(f"version {spec.prompt.version}"),
                text_logging_cell(item.text_logging),
                cell("yes" if spec.contract.guardrail.grounded else "no"),
            ],
            subjects=[item.function],
        )
    runtime.add(rt)
    section.add(runtime)
    return section


# ---------------------------------------------------------------------------------------------------
# Evidence


def _cross_region(facts: InventoryFacts) -> tuple[str, str]:
    if not facts.profiles:
        return "FAIL", "no inference profile"
    single = [p.logical_id for p in facts.profiles if not p.geography]
    return verdict(
        [f"{p}: copies a single-region source" for p in single], "every profile routes across regions"
    )


def _model_pinned(facts: InventoryFacts) -> tuple[str, str]:
    unpinned = [
        f"{p.logical_id}: {p.source}"
        for p in facts.profiles
        if not (p.model_id and _VERSIONED_MODEL.search(p.model_id))
    ]
    return verdict(unpinned, "every profile names a versioned model id")


def _has_fallback(facts: InventoryFacts) -> tuple[str, str]:
    if not facts.use_cases:
        return "FAIL", "no use case found in this environment"
    single = [u for u in facts.use_cases if len({p.model_id for p in facts.profiles if p.use_case == u}) < 2]
    return verdict([f"{u}: no fallback model" for u in single], "every use case has a fallback model")


def _token_caps(facts: InventoryFacts) -> tuple[str, str]:
    if not facts.runtime:
        return "FAIL", "no deployed runtime configuration found in the assets"
    # The function refuses a runtime config without caps, so an unreadable one is a failure too.
    return verdict(
        [
            f"{r.use_case}: no readable input and output token caps ({'; '.join(r.problems)})"
            for r in facts.runtime
            if r.spec is None
        ],
        "input and output tokens capped per use case",
    )


def _prompts_versioned(facts: InventoryFacts) -> tuple[str, str]:
    if not facts.runtime:
        return "FAIL", "no deployed runtime configuration found in the assets"
    missing = [r.use_case for r in facts.runtime if r.spec is None or not r.spec.prompt.version]
    return verdict(
        [f"{u}: prompt has no version" for u in missing], "every deployed prompt carries a version"
    )


def _text_logging_as_contracted(facts: InventoryFacts) -> tuple[str, str]:
    against = [
        f"{r.use_case}: prompts logged although its contract does not allow it"
        for r in facts.runtime
        if r.text_logging and r.text_logging.against_contract
    ]
    return verdict(against, "prompts are logged only for use cases whose contract allows it")


class InventoryTopic(Topic[InventoryFacts]):
    id = "inventory"
    title = "Bedrock inventory"

    def extract(self, env: Environment) -> InventoryFacts:
        principals = env.extract(access.TOPIC).principals
        bedrock_text = env.extract(invocation_logging.TOPIC).text_delivery
        return InventoryFacts(
            tuple(_profiles(env.resources, principals, env.stacks)), tuple(_runtime(env, bedrock_text))
        )

    def diff(self, now: InventoryFacts, then: InventoryFacts, matching: Matching) -> list[Change]:
        return diff_inventory(now, then, matching)

    def render(self, facts: InventoryFacts, ctx: RenderContext) -> Section:
        return render_inventory(facts, ctx)

    def counts(self, facts: InventoryFacts) -> list[tuple[str, str]]:
        logged = [r.use_case for r in facts.runtime if r.text_logging and r.text_logging.logged]
        catalog = ModelCatalog.load()
        ending = ending_profiles(facts.profiles, catalog)
        return [
            ("Use cases", f"{len(facts.use_cases)}: {', '.join(facts.use_cases) or 'none'}"),
            ("Inference profiles", str(len(facts.profiles))),
            ("Use cases whose prompts are logged", f"{len(logged)}: {', '.join(logged) or 'none'}"),
            (
                "Models at or near their Bedrock end of life",
                f"{len(ending)}"
                + (
                    f" within {END_OF_LIFE_NOTICE_DAYS} days of the model catalog's date ({catalog.retrieved}): "
                    + ", ".join(f"{p.name} ({date})" for p, date in ending)
                    + "; plan the migration (see Inference profiles)"
                    if ending
                    else ""
                ),
            ),
        ]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "CROSS-REGION-ROUTING": EvidenceCheck(
                "profiles copy cross-region inference profiles", _cross_region
            ),
            "MODEL-VERSION-PINNED": EvidenceCheck("profiles name versioned model ids", _model_pinned),
            "MODEL-FALLBACK": EvidenceCheck("each use case has a fallback on another model", _has_fallback),
            "TOKEN-CAPS": EvidenceCheck(
                "input and output token caps in the deployed configuration", _token_caps
            ),
            "PROMPTS-VERSIONED": EvidenceCheck("deployed prompts carry a version", _prompts_versioned),
            "TEXT-LOGGING-AS-CONTRACTED": EvidenceCheck(
                "prompts logged only where the contract allows it", _text_logging_as_contracted
            ),
        }


TOPIC = InventoryTopic()
