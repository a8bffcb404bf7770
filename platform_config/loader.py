"""Read ``environments/*.yaml``, ``contracts/*.yaml`` and ``prompts/*.yaml``, validate them, and build
frozen typed objects.

Every file is validated against its ``platform_spec`` dataclass (types, bounds, formats, unknown
fields: :mod:`platform_config.documents`), then by the rules a schema cannot express: file name equals
id, the guardrail floor, regexes compile, the model catalog (an environment's region is one it names;
the source exists, is callable from every region the contract is enabled in, and allows the contract's
output cap), and rules across files
(duplicate ids, unknown environments, invocation logging owned twice in one account and region).

All of it runs in one pass: a rule reads only fields that are valid on their own, so a schema problem in
one field does not hide a region or cross-file problem in another. If anything is wrong,
:class:`~platform_config.errors.ConfigError` is raised before any construct is built, listing every
problem with its file, line, field, bad value and fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from platform_config.catalog import ModelCatalog
from platform_config.delivery import delivery_rules
from platform_config.documents import Document, dotted, orphans, unknown_files
from platform_config.errors import ConfigError, Problem
from platform_config.evaluation import evaluation_rules, live_scoring
from platform_config.model import (
    Contract,
    EnvironmentConfig,
    ModelSource,
    PlatformConfig,
    PromptTemplate,
    RemovalPolicyName,
    RoutingTier,
)
from platform_spec.api import FUNCTION_TIMEOUT_S, ResilienceSettings, max_latency_p95_s
from platform_spec.contract import (
    MINIMUM_FILTER_STRENGTH,
    ContentFilterType,
    ContractDocument,
    EnforcedGuardrailSpec,
    FilterStrength,
    PromptDocument,
    ReviewMode,
    ReviewPolicy,
    RiskTier,
    SensitiveAction,
    UseCaseAlarm,
)
from platform_spec.environment import EnvironmentDocument

#: The folders the configuration is read from (a copy of the configuration copies these).
CONFIGURATION_FOLDERS = ("environments", "contracts", "prompts", "evals")

#: Route names a routing tier may not take (they are the contract's own routes).
RESERVED_ROUTES = ("primary", "fallback")
#: The key prefix of a ``model.retiring`` entry among the resolved model sources.
RETIRING = "retiring:"


# ==================================================================== environments


def _environment_rules(doc: Document[EnvironmentDocument], problems: list[Problem]) -> None:
    name = doc.field("name")
    if name is not None and name != doc.path.stem:
        problems.append(
            doc.problem(
                ["name"],
                f"must equal the file name {doc.path.stem!r}",
                f"rename the file to {name}.yaml or set name: {doc.path.stem}",
                value=name,
            )
        )
    policy = doc.field("removal_policy")
    if doc.field("production") and policy is not None and policy is not RemovalPolicyName.RETAIN:
        problems.append(
            doc.problem(
                ["removal_policy"],
                "must be retain in a production environment: "
                "deleting the stack would delete invocation logs and keys",
                "set removal_policy: retain",
                value=policy.value,
            )
        )


def _region_rules(doc: Document[EnvironmentDocument], catalog: ModelCatalog, problems: list[Problem]) -> bool:
    """The region is one the model catalog names (its format alone lets a typo such as ``us-easst-1``
    through); ``False`` when it is not, so that contracts enabled there are not told to change models."""
    region = doc.field("region")
    if region is None or region in catalog.regions:
        return True
    close = difflib.get_close_matches(region, sorted(catalog.regions), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    problems.append(
        doc.problem(
            ["region"],
            "is not a region where platform_config/data/model_catalog.yaml offers any Bedrock model",
            f"{hint}use a region the catalog names, or add the region's models to the catalog",
            value=region,
        )
    )
    return False


def _network_rules(
    doc: Document[EnvironmentDocument], *, region_known: bool, problems: list[Problem]
) -> None:
    """``network``: what its schema cannot say. Each subnet is in the environment's region (an id copied
    from another environment's VPC would fail only at deploy time) and listed once; a production
    environment's subnets span at least two Availability Zones, so that one zone's failure does not stop
    the request path (Lambda recommends two subnets for high availability,
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html; Security Hub control Lambda.5,
    https://docs.aws.amazon.com/securityhub/latest/userguide/lambda-controls.html#lambda-5)."""
    if isinstance(doc.data, dict) and "network" in doc.data and doc.data["network"] is None:
        # `network:` with every line under it commented out reads as null, which would deploy outside
        # any VPC without a word: an environment that names the section means to place its functions
        problems.append(
            doc.problem(
                ["network"],
                "is empty (null): the functions would run outside any VPC",
                "give vpc_id and subnets under it, or remove the `network:` line to run outside a VPC",
                value=None,
            )
        )
        return
    network = doc.data.get("network") if isinstance(doc.data, dict) else None
    listed = network.get("subnets") if isinstance(network, dict) else None
    if not isinstance(listed, list):
        return
    region = doc.field("region") if region_known else None
    # Field by field: a subnet with a bad id still has its zone checked, and the others all theirs.
    seen: set[str] = set()
    zones: set[str] = set()
    every_zone_known = True  # a zone with a problem of its own may be the second one
    for i in range(len(listed)):
        path: list[str | int] = ["network", "subnets", i]
        subnet_id = doc.field(*path, "subnet_id")
        if subnet_id in seen:
            problems.append(
                doc.problem(
                    [*path, "subnet_id"],
                    "is listed more than once",
                    "list every subnet once",
                    value=subnet_id,
                )
            )
        if subnet_id is not None:
            seen.add(subnet_id)
        zone = doc.field(*path, "availability_zone")
        if zone is None:
            every_zone_known = False
            continue
        zones.add(zone)
        if region is not None and zone[:-1] != region:
            problems.append(
                doc.problem(
                    [*path, "availability_zone"],
                    f"is not in the environment's region {region}: the subnets must belong to a VPC in the "
                    "region this environment deploys to",
                    f"use a subnet of a VPC in {region} and its Availability Zone ({region}a, {region}b, ...)",
                    value=zone,
                )
            )
    if doc.field("production") and every_zone_known and len(zones) == 1:
        problems.append(
            doc.problem(
                ["network", "subnets"],
                f"are all in one Availability Zone ({min(zones)}) in a production environment: the request path "
                "would stop with that zone",
                "add a subnet of the same VPC in another Availability Zone (Lambda spreads the functions over "
                "the subnets given)",
            )
        )


#: What an opt-out reason may not be: it must say why.
_PLACEHOLDER_REASONS = ("todo", "tbd", "n/a", "none", "not needed", "later")
MIN_OPT_OUT_REASON = 20


def _enforced_guardrail_rules(doc: Document[EnvironmentDocument], problems: list[Problem]) -> None:
    """``enforced_guardrail``: required where the environment owns the account-and-region settings,
    refused elsewhere; a baseline policy or an opt-out with its reason, never both."""
    raw = doc.data.get("enforced_guardrail") if isinstance(doc.data, dict) else None
    owns = doc.field("owns_invocation_logging")
    path = ["enforced_guardrail"]
    if owns is False and raw is not None:
        problems.append(
            doc.problem(
                path,
                "is set, but this environment does not own the account-and-region Bedrock settings "
                "(owns_invocation_logging: false): the enforced guardrail is one setting per account and region",
                "remove it here, and set it in the environment of this account and region that has "
                "owns_invocation_logging: true",
            )
        )
        return
    if owns is True and raw is None:
        problems.append(
            doc.problem(
                path,
                "is required: this environment owns the account-and-region Bedrock settings, and the enforced "
                "guardrail guards every model call in the account, also those that never pass through the "
                "orchestration API",
                "add enforced_guardrail: with prompt_attack, pii_entities, denied_topics, blocked_input_message "
                "and blocked_output_message, or enforced_guardrail: {opt_out_reason: <why this account needs none>}",
            )
        )
        return
    spec: EnforcedGuardrailSpec | None = doc.field("enforced_guardrail")
    if spec is None or not isinstance(raw, dict):
        return
    if spec.opted_out:
        policy_fields = [f for f in EnforcedGuardrailSpec.POLICY_FIELDS if f in raw]
        if policy_fields:
            problems.append(
                doc.problem(
                    [*path, "opt_out_reason"],
                    f"cannot be combined with a baseline policy ({', '.join(policy_fields)})",
                    "either remove opt_out_reason to enforce the policy, or remove the policy fields to opt out",
                )
            )
        reason = (spec.opt_out_reason or "").strip()
        if len(reason) < MIN_OPT_OUT_REASON or reason.lower() in _PLACEHOLDER_REASONS:
            problems.append(
                doc.problem(
                    [*path, "opt_out_reason"],
                    f"must state why this account needs no enforced guardrail (at least {MIN_OPT_OUT_REASON} "
                    "characters, no placeholder)",
                    "write the reason a reviewer will read, e.g. which control guards direct Bedrock calls instead",
                    value=spec.opt_out_reason,
                )
            )
        return
    for message in ("blocked_input_message", "blocked_output_message"):
        if getattr(spec, message) is None:
            problems.append(
                doc.problem(
                    [*path, message],
                    "is required for a baseline policy: it is what a blocked caller gets back",
                    f"add {message}: <text>",
                )
            )
    _distinct_topics(doc, [*path, "denied_topics"], [t.name for t in spec.denied_topics], problems)


def _distinct_topics(
    doc: Document[Any], path: list[str | int], names: list[str], problems: list[Problem]
) -> None:
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            doc.problem(path, "names a topic twice", "give every denied topic a distinct name", value=name)
        )


def _baseline_conflicts(
    env_docs: Sequence[Document[EnvironmentDocument]],
    contract_docs: Sequence[Document[ContractDocument]],
    problems: list[Problem],
) -> None:
    """The enforced guardrail applies to every call in the account, the orchestrator's included, on top of
    each use case's guardrail, and the stricter action wins: a baseline that BLOCKs a PII type a contract
    enabled there ANONYMIZEs would block requests that contract is meant to answer."""
    for env_doc in env_docs:
        spec: EnforcedGuardrailSpec | None = env_doc.field("enforced_guardrail")
        env_name = env_doc.field("name")
        if spec is None or spec.opted_out or env_name is None:
            continue
        blocked = {entity for entity, action in spec.pii_entities.items() if action is SensitiveAction.BLOCK}
        for contract_doc in contract_docs:
            if env_name not in (contract_doc.field("environments") or ()):
                continue
            entities = contract_doc.field("guardrail", "sensitive_information", "pii_entities") or {}
            for entity, action in entities.items():
                if entity in blocked and action is SensitiveAction.ANONYMIZE:
                    problems.append(
                        env_doc.problem(
                            ["enforced_guardrail", "pii_entities", entity.value],
                            f"is BLOCK for every call in the account, but contract {contract_doc.field('id')} "
                            f"({contract_doc.display}) anonymizes {entity.value} and expects such requests to be "
                            "answered",
                            f"use ANONYMIZE in the baseline, or BLOCK in {contract_doc.display}",
                            value="BLOCK",
                        )
                    )


def _logging_owners(docs: Sequence[Document[EnvironmentDocument]], problems: list[Problem]) -> None:
    owners: dict[tuple[str, str], list[Document[EnvironmentDocument]]] = defaultdict(list)
    for doc in docs:
        account, region = doc.field("account"), doc.field("region")
        if doc.field("owns_invocation_logging") and account and region:
            owners[(account, region)].append(doc)
    for (account, region), holders in owners.items():
        if len(holders) > 1:
            names = ", ".join(str(h.field("name") or h.path.stem) for h in holders)
            for doc in holders:
                problems.append(
                    doc.problem(
                        ["owns_invocation_logging"],
                        f"environments {names} share account {account} in {region}, and Bedrock invocation "
                        "logging is one setting per account and region: their stacks would overwrite each other",
                        "set owns_invocation_logging: true in exactly one of them",
                        value=True,
                    )
                )


# ==================================================================== contracts


def _guardrail_rules(doc: Document[ContractDocument], problems: list[Problem]) -> None:
    filters = doc.field("guardrail", "content_filters") or {}
    for filter_type, setting in filters.items():
        path = ["guardrail", "content_filters", filter_type.value]
        directions = [("input", setting.input)]
        if filter_type is ContentFilterType.PROMPT_ATTACK:
            if setting.output is not FilterStrength.NONE:
                problems.append(
                    doc.problem(
                        [*path, "output"],
                        "must be NONE: Bedrock applies prompt-attack filtering to input only",
                        "set output: NONE",
                        value=setting.output.value,
                    )
                )
        else:
            directions.append(("output", setting.output))
        for direction, strength in directions:
            if not strength.at_least(MINIMUM_FILTER_STRENGTH):
                problems.append(
                    doc.problem(
                        [*path, direction],
                        f"is below the platform floor of {MINIMUM_FILTER_STRENGTH.value}",
                        "use MEDIUM or HIGH (default HIGH)",
                        value=strength.value,
                    )
                )
    for i, regex in enumerate(doc.field("guardrail", "sensitive_information", "regexes") or ()):
        try:
            re.compile(regex.pattern)
        except re.error as exc:
            problems.append(
                doc.problem(
                    ["guardrail", "sensitive_information", "regexes", i, "pattern"],
                    f"is not a valid regular expression ({exc})",
                    "fix the pattern",
                    value=regex.pattern,
                )
            )
    names = [t.name for t in doc.field("guardrail", "denied_topics") or ()]
    _distinct_topics(doc, ["guardrail", "denied_topics"], names, problems)


def _tier_rules(doc: Document[ContractDocument], problems: list[Problem]) -> None:
    tiers = doc.field("model", "tiers") or ()
    names = [t.name for t in tiers]
    for i, tier in enumerate(tiers):
        if tier.name in RESERVED_ROUTES or names.count(tier.name) > 1:
            problems.append(
                doc.problem(
                    ["model", "tiers", i, "name"],
                    "must be unique and not 'primary' or 'fallback' (it becomes a route name)",
                    "choose another name",
                    value=tier.name,
                )
            )
        if tier.max_input_chars is None and tier.max_messages is None:
            problems.append(
                doc.problem(
                    ["model", "tiers", i],
                    "has no condition, so it would take every request from model.source",
                    "add at least one condition: max_input_chars or max_messages",
                )
            )
    source, fallback = doc.field("model", "source"), doc.field("model", "fallback")
    if source is not None and source == fallback:
        problems.append(
            doc.problem(
                ["model", "fallback"],
                "is the same as model.source, so it cannot help when the source fails",
                "choose a different model or geography",
                value=fallback,
            )
        )
    current = {"primary": source, "fallback": fallback, **{t.name: t.source for t in tiers}}
    for route, retired in (doc.field("model", "retiring") or {}).items():
        # A route that is no longer one (a tier this release removes) may keep its profile too; a name
        # close to a current route is a typo.
        close = difflib.get_close_matches(route, list(current), n=1, cutoff=0.75)
        if route not in current and close:
            problems.append(
                doc.problem(
                    ["model", "retiring", route],
                    "is not a route of this contract",
                    f"did you mean {close[0]!r}? use the route whose model this release changes, or the name "
                    "of a tier this release removes",
                    value=route,
                )
            )
        elif route in current and retired == current[route]:
            problems.append(
                doc.problem(
                    ["model", "retiring", route],
                    f"is the model the {route} route uses now, so nothing is retiring",
                    f"put the model the {route} route used in the last release here, or remove the entry",
                    value=retired,
                )
            )


def _review_rules(doc: Document[ContractDocument], problems: list[Problem]) -> None:
    """The review policy's rules across fields: a held answer is reviewed and stored until released, a
    sample rate belongs to the sampled mode, audit records outlive review items, and a high-risk use
    case sends outputs to people."""
    review: ReviewPolicy | None = doc.field("review")
    if review is None:
        return
    if review.hold_for_review and review.mode is not ReviewMode.ALL:
        problems.append(
            doc.problem(
                ["review", "mode"],
                "must be all when review.hold_for_review is true: every held answer waits for a reviewer",
                "set review.mode: all, or hold_for_review: false",
                value=review.mode.value,
            )
        )
    logging = doc.field("logging", "prompts_and_responses")
    if review.hold_for_review and logging is False:
        problems.append(
            doc.problem(
                ["review", "hold_for_review"],
                "needs logging.prompts_and_responses: true: a held answer is stored until a reviewer releases "
                "it, and this contract forbids storing response text",
                "allow storing text (logging.prompts_and_responses: true), or do not hold answers",
                value=True,
            )
        )
    if review.mode is ReviewMode.SAMPLED and review.sample_rate == 0:
        problems.append(
            doc.problem(
                ["review", "sample_rate"],
                "must be above 0 in mode sampled, or no output would be sampled",
                "set a share such as 0.05 (5% of outputs), or use mode: flagged",
                value=review.sample_rate,
            )
        )
    if review.mode is not ReviewMode.SAMPLED and review.sample_rate > 0:
        problems.append(
            doc.problem(
                ["review", "sample_rate"],
                f"is only used in mode sampled (mode is {review.mode.value})",
                "set review.mode: sampled, or remove sample_rate",
                value=review.sample_rate,
            )
        )
    if review.audit_retention_days <= review.retention_days:
        problems.append(
            doc.problem(
                ["review", "audit_retention_days"],
                f"must be longer than review.retention_days ({review.retention_days}): a decision's audit "
                "record must outlive the item it decided",
                f"set audit_retention_days above {review.retention_days}",
                value=review.audit_retention_days,
            )
        )
    if doc.field("risk_tier") is RiskTier.HIGH and review.mode is ReviewMode.NONE:
        problems.append(
            doc.problem(
                ["review", "mode"],
                "must send outputs to people for a high risk-tier use case",
                "use mode flagged (with flags.high_risk), sampled or all",
                value=review.mode.value,
            )
        )


def _latency_rules(doc: Document[ContractDocument], problems: list[Problem]) -> None:
    """The declared p95 latency fits the primary route's share of the orchestrator's time budget: the
    orchestrator widens the primary's share to connect and wait that long, but the fallback keeps its own
    (``platform_spec.api.max_latency_p95_s``); a longer p95 would cut healthy answers and count them as
    hangs."""
    latency_ms = doc.field("latency_p95_ms")
    if latency_ms is None:
        return
    held = bool(doc.field("review", "hold_for_review"))
    policy = ResilienceSettings()
    limit_ms = int(max_latency_p95_s(held=held, policy=policy) * 1000)
    if latency_ms > limit_ms:
        budget = limit_ms / 1000 + policy.connect_timeout_s + policy.min_later_share_s
        held_note = ", 3 s to store the held answer" if held else ""
        problems.append(
            doc.problem(
                ["latency_p95_ms"],
                f"is longer than the primary route can wait: at most {limit_ms} ms, the {budget:g} s Bedrock "
                f"budget of a request (the {FUNCTION_TIMEOUT_S} s function timeout less the time to answer"
                f"{held_note}) less {policy.connect_timeout_s:g} s to connect and "
                f"{policy.min_later_share_s:g} s kept for the fallback; healthy answers would be cut and "
                "answered by the fallback",
                f"lower latency_p95_ms to {limit_ms} or less, with a smaller limits.max_output_tokens or a "
                "faster model.source if answers really take that long",
                value=latency_ms,
            )
        )


def _release_rules(doc: Document[ContractDocument], problems: list[Problem]) -> None:
    alarms = doc.field("release", "critical_alarms") or ()
    limits = doc.field("limits")
    if UseCaseAlarm.TPM_QUOTA_USAGE in alarms and limits is not None and limits.tpm_quota is None:
        problems.append(
            doc.problem(
                ["release", "critical_alarms"],
                "names TpmQuotaUsage, but the use case has no such alarm: limits.tpm_quota is not set",
                "set limits.tpm_quota, or remove TpmQuotaUsage from release.critical_alarms",
                value=[a.value for a in alarms],
            )
        )


def _enabled_regions(
    doc: Document[ContractDocument],
    environments: dict[str, str | None],
    problems: list[Problem],
) -> list[tuple[str, str]]:
    """(environment, region) of every environment the contract is enabled in whose region is known."""
    regions: list[tuple[str, str]] = []
    if not environments:
        return regions  # no environment files at all: that problem is reported once, on the folder
    for i, env_name in enumerate(doc.field("environments") or ()):
        if env_name in environments:
            region = environments[env_name]
            if region is not None:  # None: the file's region (or name) has a problem of its own
                regions.append((env_name, region))
            continue
        close = difflib.get_close_matches(env_name, list(environments), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            doc.problem(
                ["environments", i],
                "is not a known environment",
                f"{hint}use one of {sorted(environments)} or add environments/{env_name}.yaml",
                value=env_name,
            )
        )
    return regions


def _model_sources(
    doc: Document[ContractDocument],
    regions: list[tuple[str, str]],
    catalog: ModelCatalog,
    problems: list[Problem],
) -> dict[str, dict[str, ModelSource]]:
    """``model.source``, ``model.fallback``, every tier's source, every ``model.retiring`` entry and the
    judge resolved for every enabled region; keys are ``source``, ``fallback``, ``tier:<name>``,
    ``retiring:<route>`` and ``judge``."""
    resolved: dict[str, dict[str, ModelSource]] = defaultdict(dict)
    roles: list[tuple[str, list[str | int], str | None]] = [
        ("source", ["model", "source"], doc.field("model", "source")),
        ("fallback", ["model", "fallback"], doc.field("model", "fallback")),
    ]
    for i, tier in enumerate(doc.field("model", "tiers") or ()):
        roles.append((f"tier:{tier.name}", ["model", "tiers", i, "source"], tier.source))
    for route, retired in (doc.field("model", "retiring") or {}).items():
        # Kept for the previous orchestrator version, which calls it with its own limits.
        roles.append((f"{RETIRING}{route}", ["model", "retiring", route], retired))
    if doc.field("evaluation", "model_graded"):
        # The judge is no route of user traffic: its own profile, its own max tokens (not the contract's).
        roles.append(("judge", ["evaluation", "judge_model"], doc.field("evaluation", "judge_model")))
    max_output = doc.field("limits", "max_output_tokens")
    too_small: list[tuple[int, str]] = []  # (limit, "model.fallback 'id'") of every route max_output exceeds
    for role, path, identifier in roles:
        if identifier is None:
            continue
        failed: dict[tuple[str, str], list[str]] = defaultdict(list)
        for env_name, region in regions:
            result = catalog.resolve(identifier, region)
            if result.source is None:
                failed[(result.problem, result.fix)].append(env_name)
            else:
                resolved[env_name][role] = result.source
        # One problem per distinct failure, not one per environment (a typo fails in all of them).
        for (message, fix), env_names in failed.items():
            where = f"environment{'s' if len(env_names) > 1 else ''} {', '.join(map(repr, env_names))}"
            problems.append(doc.problem(path, f"{message} ({where})", fix, value=identifier))
        limit = catalog.max_output_tokens(identifier)
        if (
            role != "judge"
            and not role.startswith(RETIRING)
            and max_output is not None
            and limit is not None
            and max_output > limit
        ):
            too_small.append((limit, f"{dotted(path)} {identifier!r} ({limit} tokens)"))
    if too_small:
        problems.append(
            doc.problem(
                ["limits", "max_output_tokens"],
                f"is above the output limit of {', '.join(route for _, route in too_small)} "
                "(platform_config/data/model_catalog.yaml): Bedrock would reject every request sent there",
                f"use at most {min(limit for limit, _ in too_small)}, or route to models with larger output limits",
                value=max_output,
            )
        )
    return resolved


def _prompt(
    contract: Document[ContractDocument], root: Path, problems: list[Problem]
) -> PromptTemplate | None:
    """``prompts/<id>.yaml`` beside ``contracts/``: the use case's versioned system prompt."""
    path = root / "prompts" / f"{contract.path.stem}.yaml"
    display = f"prompts/{path.name}"
    if not path.is_file():
        problems.append(
            contract.problem(
                ["id"],
                f"has no prompt file {display}",
                f"add {display} with `version: v1` and `system: |` (the system prompt)",
            )
        )
        return None
    doc = Document(path, root, PromptDocument, what="prompt")
    problems.extend(doc.problems)
    if doc.value is None:
        return None
    return PromptTemplate(version=doc.value.version, system=doc.value.system.strip(), source_file=doc.display)


def _contract_rules(
    doc: Document[ContractDocument],
    root: Path,
    environments: dict[str, str | None],
    catalog: ModelCatalog,
    problems: list[Problem],
) -> list[tuple[str, Contract]]:
    """Every rule of one contract; one resolved Contract per environment it is enabled in when valid."""
    contract_id = doc.field("id")
    if contract_id is not None and contract_id != doc.path.stem:
        problems.append(
            doc.problem(
                ["id"],
                f"must equal the file name {doc.path.stem!r}",
                f"rename the file to {contract_id}.yaml or set id: {doc.path.stem}",
                value=contract_id,
            )
        )
    _guardrail_rules(doc, problems)
    _tier_rules(doc, problems)
    _review_rules(doc, problems)
    _latency_rules(doc, problems)
    _release_rules(doc, problems)
    regions = _enabled_regions(doc, environments, problems)
    sources = _model_sources(doc, regions, catalog, problems)
    prompt = _prompt(doc, root, problems)
    if doc.value is None:
        return []
    document = doc.value
    wanted = {
        "source",
        "fallback",
        *(f"tier:{t.name}" for t in document.model.tiers),
        *(f"{RETIRING}{route}" for route in document.model.retiring),
    }
    evaluation = document.evaluation
    if evaluation.model_graded and evaluation.judge_model is not None:
        wanted.add("judge")
    return [
        (
            env_name,
            Contract.from_document(
                document,
                source_file=doc.display,
                primary=roles["source"],
                fallback=roles["fallback"],
                tiers=tuple(
                    RoutingTier(
                        name=t.name,
                        source=roles[f"tier:{t.name}"],
                        max_input_chars=t.max_input_chars,
                        max_messages=t.max_messages,
                    )
                    for t in document.model.tiers
                ),
                prompt=prompt,
                judge=roles.get("judge") if "judge" in wanted else None,
                retiring={route: roles[f"{RETIRING}{route}"] for route in document.model.retiring},
            ),
        )
        for env_name, roles in sources.items()
        if wanted <= roles.keys()
    ]


# ==================================================================== across files


def _duplicates(docs: Sequence[Document[Any]], key: str, what: str, problems: list[Problem]) -> None:
    seen: dict[str, list[Document[Any]]] = defaultdict(list)
    for doc in docs:
        value = doc.field(key)
        if value is not None:
            seen[value].append(doc)
    for value, holders in seen.items():
        if len(holders) > 1:
            files = ", ".join(h.display for h in holders)
            for doc in holders:
                problems.append(
                    doc.problem(
                        [key],
                        f"is used by more than one {what} file ({files})",
                        f"give each {what} a unique {key}",
                        value=value,
                    )
                )


def load_platform(root: Path | str, catalog: ModelCatalog | None = None) -> PlatformConfig:
    """Load ``<root>/environments/*.yaml``, ``<root>/contracts/*.yaml``, ``<root>/prompts/*.yaml`` and the
    evaluation suites in ``<root>/evals/<use case>/``.

    Returns the whole, valid configuration or raises :class:`ConfigError` listing every problem.
    Contracts are resolved per environment (a model source's routing depends on the region), so
    :meth:`PlatformConfig.contracts_for` returns the contracts as resolved for that environment.
    """
    root = Path(root)
    catalog = catalog or ModelCatalog.load()
    problems: list[Problem] = []
    for folder in ("environments", "contracts"):
        problems.extend(unknown_files(root, folder))
    env_files = sorted((root / "environments").glob("*.yaml"))
    if not env_files:
        problems.append(
            Problem(
                "environments/",
                "(folder)",
                "has no *.yaml files",
                "add one file per environment, e.g. environments/dev.yaml",
            )
        )

    env_docs = [Document(p, root, EnvironmentDocument, what="environment") for p in env_files]
    unknown_regions: set[str] = set()
    for env_doc in env_docs:
        problems.extend(env_doc.problems)
        _environment_rules(env_doc, problems)
        region_known = _region_rules(env_doc, catalog, problems)
        if not region_known:
            unknown_regions.add(env_doc.path.stem)
        _enforced_guardrail_rules(env_doc, problems)
        _network_rules(env_doc, region_known=region_known, problems=problems)
    _duplicates(env_docs, "name", "environment", problems)
    _logging_owners(env_docs, problems)
    # Each environment's region by name, None where the file's name or region has a problem of its own
    # (a region the catalog does not name, too): contracts naming it are not told to add the file or to
    # change models as well, and their region rules run wherever the region is known, even if another
    # field of the environment file is wrong.
    regions: dict[str, str | None] = {}
    for env_doc in env_docs:
        known = env_doc.field("name") == env_doc.path.stem and env_doc.path.stem not in unknown_regions
        regions[env_doc.path.stem] = env_doc.field("region") if known else None
    environments = [
        EnvironmentConfig.from_document(d.value, source_file=d.display)
        for d in env_docs
        if d.value is not None
    ]

    contract_docs = [
        Document(p, root, ContractDocument, what="contract")
        for p in sorted((root / "contracts").glob("*.yaml"))
    ]
    resolved: dict[str, list[Contract]] = defaultdict(list)
    for contract_doc in contract_docs:
        problems.extend(contract_doc.problems)
        for env_name, contract in _contract_rules(contract_doc, root, regions, catalog, problems):
            resolved[env_name].append(contract)
    _duplicates(contract_docs, "id", "contract", problems)
    problems.extend(
        orphans("a prompt", sorted((root / "prompts").glob("*.yaml")), [d.path.stem for d in contract_docs])
    )
    _baseline_conflicts(env_docs, contract_docs, problems)
    evaluations = evaluation_rules(root, contract_docs, problems)
    delivery = delivery_rules(
        root, env_docs, contract_docs, {env.name: env for env in environments}, problems, catalog.regions
    )

    if problems:
        raise ConfigError(problems)
    return PlatformConfig(
        environments=tuple(environments),
        contracts_by_environment=MappingProxyType(
            {
                env.name: tuple(
                    dataclasses.replace(c, live_scoring=live_scoring(c, evaluations.get(c.id)))
                    for c in resolved.get(env.name, ())
                )
                for env in environments
            }
        ),
        evaluations=MappingProxyType(evaluations),
        delivery=delivery,
    )
