"""The control mapping (``controls.yaml``) and the evidence checks it cites, evaluated on one environment.

Evidence ids are of three kinds: the gates of ``compliance.check`` (``CDK-NAG``, ``CFN-LINT``), the rules
of :mod:`compliance.bedrock_rules` (by their finding's rule id), and the checks defined here over the
report's facts. Each returns PASS, FAIL or NOT RUN with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compliance.report.facts import EnvironmentFacts

CONTROLS_FILE = Path(__file__).with_name("controls.yaml")
PASS, FAIL, NOT_RUN = "PASS", "FAIL", "NOT RUN"
COVERAGE = ("covered", "partial", "not covered", "not applicable")
HARM_FILTERS = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT")
STRONG = ("MEDIUM", "HIGH")
_VERSIONED_MODEL = re.compile(r"-v\d+(:\d+)?$|:\d+$")
_RAG_TYPES = re.compile(
    r"^AWS::(Bedrock::(KnowledgeBase|DataSource)|OpenSearchServerless::|OpenSearchService::|Kendra::|RDS::)"
)
_AGENT_TYPES = re.compile(r"^AWS::(Bedrock::(Agent|AgentAlias|Flow|FlowAlias)|BedrockAgentCore::)")
_CUSTOMIZATION_TYPES = re.compile(r"^AWS::(SageMaker::|Bedrock::(CustomModel|ModelCustomization))")


@dataclass(frozen=True)
class Evidence:
    id: str
    status: str
    detail: str


@dataclass(frozen=True)
class Control:
    framework: str  # "genai_lens" | "owasp_llm_2025"
    id: str
    title: str
    coverage: str
    evidence: tuple[str, ...]
    how: str
    gaps: str
    confirmed: str  # lens ids: "aws-docs" | "lens-text"; OWASP: ""


@dataclass(frozen=True)
class ControlResult:
    control: Control
    evidence: tuple[Evidence, ...]

    @property
    def status(self) -> str:
        statuses = {e.status for e in self.evidence}
        if not self.evidence:
            return "NO EVIDENCE"
        if FAIL in statuses:
            return FAIL
        if NOT_RUN in statuses:
            return NOT_RUN
        return PASS


Check = Callable[[EnvironmentFacts], tuple[str, str]]


def _verdict(failures: list[str], ok: str) -> tuple[str, str]:
    return (FAIL, "; ".join(failures)) if failures else (PASS, ok)


def _rule(name: str) -> Check:
    def check(facts: EnvironmentFacts) -> tuple[str, str]:
        findings = [f for findings in facts.rules.values() for f in findings if f.rule == name]
        return _verdict([f.render() for f in findings], f"{name}: no finding")

    return check


def _enforced_guardrail(facts: EnvironmentFacts) -> tuple[str, str]:
    """The rule's findings, and an opt-out fails too: it needs a reviewer's decision."""
    status, detail = _rule("BEDROCK-ENFORCED-GUARDRAIL")(facts)
    if status != PASS:
        return status, detail
    if facts.enforced_guardrail_opt_outs:
        reasons = "; ".join(f"{o.stack}: {o.reason}" for o in facts.enforced_guardrail_opt_outs)
        return FAIL, f"opted out of the enforced guardrail ({reasons}): needs a reviewer's decision"
    if facts.enforced_guardrails:
        versions = ", ".join(f"{e.logical_id} on {e.version}" for e in facts.enforced_guardrails)
        return PASS, f"enforced: {versions}"
    return PASS, "set by the environment of this account and region that owns the account-level settings"


def _cdk_nag(facts: EnvironmentFacts) -> tuple[str, str]:
    if not all(p.ran for p in facts.nag):
        return NOT_RUN, "validation-report.json is missing: synth did not run the cdk-nag plugins"
    failing = [f"{p.pack}: {len(p.findings)} unacknowledged" for p in facts.nag if p.findings]
    return _verdict(failing, f"{len(facts.nag)} packs, no unacknowledged finding")


def _cfn_lint(facts: EnvironmentFacts) -> tuple[str, str]:
    if facts.cfn_lint is None:
        return NOT_RUN, "cfn-lint was not run for this report"
    return _verdict(facts.cfn_lint, "no error or warning")


def _guardrails_all(predicate: Callable[[Any], list[str]], what: str) -> Check:
    def check(facts: EnvironmentFacts) -> tuple[str, str]:
        if not facts.guardrails:
            return FAIL, "no guardrail in this environment"
        failures = [f"{g.logical_id}: {problem}" for g in facts.guardrails for problem in predicate(g)]
        return _verdict(failures, f"all {len(facts.guardrails)} guardrails {what}")

    return check


def _content_filters(guardrail: Any) -> list[str]:
    return [
        f"{kind} {direction} is {guardrail.strength(kind, direction)}"
        for kind in HARM_FILTERS
        for direction in ("input", "output")
        if guardrail.strength(kind, direction) not in STRONG
    ]


def _grounding(facts: EnvironmentFacts) -> tuple[str, str]:
    grounded = [g.logical_id for g in facts.guardrails if any(t == "GROUNDING" for t, _ in g.grounding)]
    if not grounded:
        return FAIL, "no guardrail checks contextual grounding"
    others = [g.logical_id for g in facts.guardrails if g.logical_id not in grounded]
    return PASS, f"grounding checked by {', '.join(grounded)}" + (
        f"; not by {', '.join(others)} (their contracts set none)" if others else ""
    )


def _invocation_logging_protected(facts: EnvironmentFacts) -> tuple[str, str]:
    if not facts.invocation_logging:
        return FAIL, "no invocation logging configured in this environment"
    failures = []
    for item in facts.invocation_logging:
        if item.parse_error:
            failures.append(f"{item.logical_id}: {item.parse_error}")
            continue
        if item.s3_bucket and not (item.bucket_key and item.bucket_expiration_days):
            failures.append(f"{item.s3_bucket}: needs SSE-KMS and an expiration")
        if item.log_group and not (item.log_group_key and item.log_retention_days):
            failures.append(f"{item.log_group}: needs a KMS key and a retention")
        if not (item.s3_bucket or item.log_group):
            failures.append(f"{item.logical_id}: no destination")
    return _verdict(failures, "every destination is KMS-encrypted and expires")


def _log_delivery_alarm(facts: EnvironmentFacts) -> tuple[str, str]:
    found = [a.logical_id for a in facts.alarms if "ModelInvocationLogs" in a.metric and a.notifies]
    return (PASS, f"alarmed by {', '.join(found)}") if found else (FAIL, "no alarm on log delivery failures")


def _per_use_case(predicate: Callable[[EnvironmentFacts, str], bool], what: str) -> Check:
    def check(facts: EnvironmentFacts) -> tuple[str, str]:
        if not facts.use_cases:
            return FAIL, "no use case found in this environment"
        missing = [u for u in facts.use_cases if not predicate(facts, u)]
        return _verdict([f"{u}: no {what}" for u in missing], f"every use case has {what}")

    return check


def _has_fm_alarms(facts: EnvironmentFacts, use_case: str) -> bool:
    return any(a.group == use_case and "AWS/Bedrock" in a.metric and a.notifies for a in facts.alarms)


def _has_tpm_alarm(facts: EnvironmentFacts, use_case: str) -> bool:
    return any(a.group == use_case and "EstimatedTPMQuotaUsage" in a.metric for a in facts.alarms)


def _has_budget(facts: EnvironmentFacts, use_case: str) -> bool:
    return any(b.group == use_case or use_case in b.filters for b in facts.budgets)


def _has_fallback(facts: EnvironmentFacts, use_case: str) -> bool:
    models = {p.model_id for p in facts.profiles if p.use_case == use_case}
    return len(models) >= 2


def _token_caps(facts: EnvironmentFacts) -> tuple[str, str]:
    if not facts.runtime:
        return FAIL, "no deployed runtime configuration found in the assets"
    # The function refuses a runtime config without caps, so an unreadable one is a failure too.
    return _verdict(
        [
            f"{r.use_case}: no readable input and output token caps ({'; '.join(r.problems)})"
            for r in facts.runtime
            if r.spec is None
        ],
        "input and output tokens capped per use case",
    )


def _prompts_versioned(facts: EnvironmentFacts) -> tuple[str, str]:
    if not facts.runtime:
        return FAIL, "no deployed runtime configuration found in the assets"
    missing = [r.use_case for r in facts.runtime if r.spec is None or not r.spec.prompt.version]
    return _verdict(
        [f"{u}: prompt has no version" for u in missing], "every deployed prompt carries a version"
    )


def _limit(kind: str, what: str) -> Check:
    def check(facts: EnvironmentFacts) -> tuple[str, str]:
        found = [f"{limit.resource}: {limit.setting}" for limit in facts.limits if limit.control == kind]
        return (PASS, "; ".join(found)) if found else (FAIL, f"no {what}")

    return check


def _api_iam_auth(facts: EnvironmentFacts) -> tuple[str, str]:
    methods = facts.of_type("AWS::ApiGateway::Method")
    if not methods:
        return PASS, "no API Gateway method deployed"
    open_methods = [
        m.logical_id
        for m in methods
        if m.properties.get("HttpMethod") != "OPTIONS"
        and m.properties.get("AuthorizationType") in (None, "NONE")
    ]
    return _verdict(
        [f"{m}: no authorization" for m in open_methods],
        f"all {len(methods)} methods require IAM or an authorizer",
    )


def _api_request_validation(facts: EnvironmentFacts) -> tuple[str, str]:
    writes = [
        m
        for m in facts.of_type("AWS::ApiGateway::Method")
        if m.properties.get("HttpMethod") in ("POST", "PUT", "PATCH")
    ]
    missing = [
        m.logical_id
        for m in writes
        if not (m.properties.get("RequestValidatorId") and m.properties.get("RequestModels"))
    ]
    return _verdict(
        [f"{m}: body not validated against a model" for m in missing],
        f"{len(writes)} write methods validate their body",
    )


def _encryption_at_rest(facts: EnvironmentFacts) -> tuple[str, str]:
    failures = [f"{p.logical_id}: {p.at_rest}" for p in facts.protection if p.at_rest_ok is False]
    return _verdict(failures, "every stateful resource is encrypted at rest")


def _tls_only(facts: EnvironmentFacts) -> tuple[str, str]:
    failures = [f"{p.logical_id}: {p.in_transit}" for p in facts.protection if p.in_transit_ok is False]
    return _verdict(failures, "every bucket, topic and queue denies requests without TLS")


def _cross_region(facts: EnvironmentFacts) -> tuple[str, str]:
    single = [p.logical_id for p in facts.profiles if not p.geography]
    if not facts.profiles:
        return FAIL, "no inference profile"
    return _verdict(
        [f"{p}: copies a single-region source" for p in single], "every profile routes across regions"
    )


def _model_pinned(facts: EnvironmentFacts) -> tuple[str, str]:
    unpinned = [
        f"{p.logical_id}: {p.source}"
        for p in facts.profiles
        if not (p.model_id and _VERSIONED_MODEL.search(p.model_id))
    ]
    return _verdict(unpinned, "every profile names a versioned model id")


def _absent(pattern: re.Pattern[str], what: str) -> Check:
    def check(facts: EnvironmentFacts) -> tuple[str, str]:
        present = [f"{r.logical_id} ({r.type})" for r in facts.resources if pattern.match(r.type)]
        if present:
            return FAIL, f"{what} now deployed without a mapped control: {', '.join(present)}"
        return PASS, f"no {what} deployed"

    return check


CHECKS: dict[str, tuple[str, Check]] = {
    "CDK-NAG": ("every cdk-nag pack passes (no unacknowledged finding)", _cdk_nag),
    "CFN-LINT": ("cfn-lint: no error or warning in any template", _cfn_lint),
    "BEDROCK-COST-TAGS": ("profiles carry every cost allocation tag", _rule("BEDROCK-COST-TAGS")),
    "BEDROCK-PROMPT-ATTACK": (
        "guardrails filter prompt attacks on input at MEDIUM or HIGH",
        _rule("BEDROCK-PROMPT-ATTACK"),
    ),
    "BEDROCK-GUARDRAIL-VERSION": (
        "every guardrail has a published version",
        _rule("BEDROCK-GUARDRAIL-VERSION"),
    ),
    "BEDROCK-SCOPED-INVOKE": (
        "no bedrock:* or invoke on */foundation-model/*",
        _rule("BEDROCK-SCOPED-INVOKE"),
    ),
    "BEDROCK-INVOCATION-LOGGING": (
        "invocation logging configured once per account and region",
        _rule("BEDROCK-INVOCATION-LOGGING"),
    ),
    "ALARM-ACTIONS": ("every alarm notifies on ALARM and OK", _rule("ALARM-ACTIONS")),
    "ALARM-DELIVERY": (
        "topic and key policies let CloudWatch and Budgets deliver every notification",
        _rule("ALARM-DELIVERY"),
    ),
    "BEDROCK-MODEL-VIA-PROFILE": (
        "foundation models invocable only through the cost-tagged profiles",
        _rule("BEDROCK-MODEL-VIA-PROFILE"),
    ),
    "BEDROCK-LOGGING-FLAGS": (
        "every invocation logging delivery flag stated",
        _rule("BEDROCK-LOGGING-FLAGS"),
    ),
    "BEDROCK-ENFORCED-GUARDRAIL": (
        "an account-level enforced guardrail on a published version (or a stated opt-out)",
        _enforced_guardrail,
    ),
    "RETAINED-FIXED-NAME": (
        "no retained resource with a fixed physical name",
        _rule("RETAINED-FIXED-NAME"),
    ),
    "APIGW-EXECUTION-LOGS": (
        "API execution logs go to an owned, encrypted log group with retention",
        _rule("APIGW-EXECUTION-LOGS"),
    ),
    "NAG-COVERAGE": ("no resource escapes the cdk-nag packs", _rule("NAG-COVERAGE")),
    "GUARDRAIL-CONTENT-FILTERS": (
        "harm filters at MEDIUM or HIGH on input and output",
        _guardrails_all(
            _content_filters, "filter HATE, INSULTS, SEXUAL, VIOLENCE, MISCONDUCT at MEDIUM or HIGH both ways"
        ),
    ),
    "GUARDRAIL-DENIED-TOPICS": (
        "every guardrail denies at least one topic",
        _guardrails_all(lambda g: [] if g.topics else ["no denied topic"], "deny at least one topic"),
    ),
    "GUARDRAIL-SENSITIVE-INFO": (
        "every guardrail blocks or anonymizes PII or regex matches",
        _guardrails_all(lambda g: [] if g.pii or g.regexes else ["no PII entity or regex"], "handle PII"),
    ),
    "GUARDRAIL-GROUNDING": ("contextual grounding checked (where contracts set it)", _grounding),
    "INVOCATION-LOGGING-PROTECTED": (
        "invocation logs KMS-encrypted with retention",
        _invocation_logging_protected,
    ),
    "LOG-DELIVERY-ALARM": ("an alarm on failed invocation log delivery", _log_delivery_alarm),
    "FM-METRIC-ALARMS": (
        "each use case alarms on its AWS/Bedrock metrics",
        _per_use_case(_has_fm_alarms, "Bedrock metric alarm"),
    ),
    "TPM-QUOTA-ALARM": (
        "each use case alarms on TPM quota usage",
        _per_use_case(_has_tpm_alarm, "TPM quota alarm"),
    ),
    "BUDGETS": ("each use case has a cost budget", _per_use_case(_has_budget, "budget")),
    "MODEL-FALLBACK": (
        "each use case has a fallback on another model",
        _per_use_case(_has_fallback, "fallback model"),
    ),
    "TOKEN-CAPS": ("input and output token caps in the deployed configuration", _token_caps),
    "PROMPTS-VERSIONED": ("deployed prompts carry a version", _prompts_versioned),
    "API-THROTTLING": ("API Gateway stage throttling", _limit("API throttling", "API stage throttling")),
    "WAF-RATE-LIMIT": ("WAF rate-based rule", _limit("WAF rate limit", "WAF rate-based rule")),
    "RESERVED-CONCURRENCY": (
        "orchestrator reserved concurrency",
        _limit("reserved concurrency", "reserved concurrency"),
    ),
    "API-IAM-AUTH": ("every API method requires authorization", _api_iam_auth),
    "API-REQUEST-VALIDATION": ("write methods validate their request body", _api_request_validation),
    "ENCRYPTION-AT-REST": ("stateful resources encrypted at rest", _encryption_at_rest),
    "TLS-ONLY": ("buckets, topics and queues deny non-TLS requests", _tls_only),
    "CROSS-REGION-ROUTING": ("profiles copy cross-region inference profiles", _cross_region),
    "MODEL-VERSION-PINNED": ("profiles name versioned model ids", _model_pinned),
    "NO-AGENTS": ("no agents, flows or tool-use runtimes deployed", _absent(_AGENT_TYPES, "agent or flow")),
    "NO-RAG": (
        "no knowledge base or vector store deployed",
        _absent(_RAG_TYPES, "knowledge base or vector store"),
    ),
    "NO-MODEL-CUSTOMIZATION": (
        "no fine-tuning or custom models deployed",
        _absent(_CUSTOMIZATION_TYPES, "model customization"),
    ),
}


def load_controls(path: Path = CONTROLS_FILE) -> list[Control]:
    """The mapping, validated: known evidence ids, known coverage values, unique ids."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    controls: list[Control] = []
    problems: list[str] = []
    for framework in ("genai_lens", "owasp_llm_2025"):
        for entry in data.get(framework) or []:
            control = Control(
                framework=framework,
                id=str(entry["id"]),
                title=str(entry["title"]),
                coverage=str(entry.get("coverage", "")),
                evidence=tuple(str(e) for e in entry.get("evidence") or []),
                how=" ".join(str(entry.get("how", "")).split()),
                gaps=" ".join(str(entry.get("gaps", "")).split()),
                confirmed=str(entry.get("confirmed", "")),
            )
            unknown = [e for e in control.evidence if e not in CHECKS]
            if unknown:
                problems.append(f"{control.id}: unknown evidence {unknown}")
            if control.coverage not in COVERAGE:
                problems.append(f"{control.id}: coverage {control.coverage!r} is not one of {COVERAGE}")
            if framework == "genai_lens" and control.confirmed not in ("aws-docs", "lens-text"):
                problems.append(f"{control.id}: confirmed must be aws-docs or lens-text")
            controls.append(control)
    ids = [c.id for c in controls]
    problems.extend(f"{i}: listed twice" for i in sorted({i for i in ids if ids.count(i) > 1}))
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return controls


def unconfirmed_lens_ids(path: Path = CONTROLS_FILE) -> list[str]:
    return [str(item) for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("unconfirmed") or []]


def evaluate_evidence(facts: EnvironmentFacts) -> dict[str, Evidence]:
    results = {}
    for evidence_id, (_, check) in CHECKS.items():
        status, detail = check(facts)
        results[evidence_id] = Evidence(evidence_id, status, detail)
    return results


def evaluate(facts: EnvironmentFacts, controls: list[Control] | None = None) -> list[ControlResult]:
    evidence = evaluate_evidence(facts)
    return [
        ControlResult(control, tuple(evidence[e] for e in control.evidence))
        for control in (controls if controls is not None else load_controls())
    ]
