"""Build the review pack of each environment: facts -> document -> HTML and Markdown files."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compliance.bedrock_rules import RULES
from compliance.report import controls as control_map
from compliance.report.diff import GROUPS, Change, EnvironmentDiff, diff
from compliance.report.document import (
    BAD,
    NA,
    OK,
    WARN,
    Cell,
    Document,
    Paragraph,
    Section,
    Table,
    cell,
    code,
    render_html,
    render_markdown,
    status,
)
from compliance.report.evaluation import evaluation_section
from compliance.report.facts import EnvironmentFacts, Guardrail, collect, load_environments
from compliance.report.lint import LintRun

_WORD = re.compile(r"[A-Za-z0-9]+")
SERVICES = ("bedrock", "kms", "s3", "dynamodb", "logs", "sns", "sqs", "iam", "sts", "lambda", "xray")


@dataclass
class Report:
    facts: EnvironmentFacts
    changes: EnvironmentDiff | None
    document: Document

    def html(self) -> str:
        return render_html(self.document)

    def markdown(self) -> str:
        return render_markdown(self.document)


def build_reports(
    assembly: Path | str,
    *,
    environments: Sequence[str] | None = None,
    against: Path | str | None = None,
    against_env: str | None = None,
    lint: bool = True,
    evaluation_results: Path | None = None,
) -> dict[str, Report]:
    """One report per environment of ``assembly`` (all of them unless ``environments`` names some).

    ``against`` (another assembly) and/or ``against_env`` (another environment) add the changes from
    that baseline: each environment is compared with ``against_env`` (default: itself) in ``against``
    (default: the same assembly). The baseline environment itself gets no comparison with itself.
    """
    assembly = Path(assembly)
    available = load_environments(assembly)
    selected = list(environments) if environments else sorted(available)
    unknown = [env for env in selected if env not in available]
    if unknown:
        raise KeyError(f"no environment {unknown} in {assembly} (it has: {', '.join(sorted(available))})")
    # cfn-lint runs in worker processes while the facts are collected
    linting = LintRun([stack for env in selected for stack in available[env]]) if lint else None
    collected = {env: collect(assembly, env, lint=False, stacks=available[env]) for env in selected}
    findings = linting.wait() if linting else None
    reports = {}
    for env in selected:
        facts = collected[env]
        if findings is not None:
            facts.cfn_lint = [line for stack in facts.stacks for line in findings.get(stack.name, [])]
        changes = None
        if against is not None or against_env is not None:
            baseline_env = against_env or env
            baseline_dir = Path(against) if against is not None else assembly
            if not (baseline_dir == assembly and baseline_env == env):
                baseline = collect(baseline_dir, baseline_env, lint=False)
                changes = diff(facts, baseline)
        document = document_for(facts, changes, baseline_label(against, against_env, env))
        # The evaluation's section reads the evaluation's files (results, registry), not the assembly.
        document.sections.insert(
            len(document.sections) - 1,
            evaluation_section(env, use_cases=facts.use_cases, results=evaluation_results),
        )
        reports[env] = Report(facts, changes, document)
    return reports


def baseline_label(against: Path | str | None, against_env: str | None, env: str) -> str:
    where = f"the assembly at {against}" if against is not None else "this assembly"
    return f"environment {against_env or env} of {where}"


def write_reports(reports: dict[str, Report], out_dir: Path | str) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for env, report in reports.items():
        for suffix, text in ((".html", report.html()), (".md", report.markdown())):
            path = out / f"{env}{suffix}"
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


# ---------------------------------------------------------------------------------------------------
# Sections


def document_for(facts: EnvironmentFacts, changes: EnvironmentDiff | None, baseline: str = "") -> Document:
    stacks = ", ".join(f"{s.name} (account {s.account}, {s.region})" for s in facts.stacks)
    intro = [
        Paragraph(f"Environment {facts.name}: {stacks}."),
        Paragraph(
            f"Built from the synthesized cloud assembly {facts.assembly}: the templates, construct metadata and "
            "staged assets CloudFormation would deploy, not the configuration they came from."
        ),
        Paragraph(
            "Markers: 'attention' (red) needs a reviewer's decision, 'review' (amber) deserves a look, "
            "'ok' (green) is the expected state. Rows with a marker can be shown alone with the checkbox "
            "above (HTML only)."
        ),
    ]
    sections = []
    if changes is not None:
        sections.append(_changes_section(changes, baseline))
    sections.extend(
        [
            _summary(facts),
            _bedrock(facts),
            _access(facts),
            _protection(facts),
            _operations(facts),
            _acknowledgments(facts),
            _lint_ignores(facts),
            _controls(facts),
        ]
    )
    sections.append(_resource_index(facts, sections))
    return Document(f"Compliance review pack: {facts.name}", intro, sections)


_KIND_FLAG = {
    "removed": WARN,
    "replaced": WARN,
    "widened": WARN,
    "narrowed": OK,
    "weakened": BAD,
    "strengthened": OK,
    "shortened": WARN,
}


def _kind_cell(change: Change) -> Cell:
    flag = _KIND_FLAG.get(change.kind)
    if change.group == "replaced" and change.stateful:
        flag = BAD
    if change.kind == "widened" and change.wildcard:
        flag = BAD
    return cell(change.kind.upper() if flag in (BAD, WARN) else change.kind, flag=flag)


def _changes_section(changes: EnvironmentDiff, baseline: str) -> Section:
    section = Section("changes", f"Changes against {baseline}")
    counts = Counter(c.group for c in changes.changes)
    section.add(
        Paragraph(
            f"Only what differs between {changes.current} and {baseline}"
            + (
                " (a different environment: resources are matched by logical ID, else by construct path, "
                "and environment-specific names, accounts and stack prefixes are normalized)"
                if changes.cross_environment
                else " (resources matched by logical ID)"
            )
            + ". "
            + ", ".join(f"{title}: {counts.get(key, 0)}" for key, title in GROUPS)
            + "."
        )
    )
    for key, title in GROUPS:
        sub = Section(f"changes-{key}", title)
        items = changes.group(key)
        if key == "replaced":
            sub.add(
                Paragraph(
                    "Stateful resources (keys, buckets, log groups, tables, queues) come first: replacing or "
                    "removing them loses their data unless their DeletionPolicy retains it."
                )
            )
        table = Table(
            f"changes-{key}",
            ["Resource", "Type", "Change", "Detail"] + (["Stateful"] if key == "replaced" else []),
            empty=f"No {title.lower()}.",
        )
        for change in items:
            row = [
                code(change.resource),
                code(change.type),
                _kind_cell(change),
                cell(
                    change.detail,
                    badge="WILDCARD" if change.wildcard else "",
                    flag=BAD if change.wildcard else None,
                ),
            ]
            if key == "replaced":
                row.append(cell("yes" if change.stateful else "no", flag=BAD if change.stateful else None))
            table.rows.append(row)
        sub.add(table)
        section.add(sub)
    return section


def _summary(facts: EnvironmentFacts) -> Section:
    section = Section("summary", "Summary")
    stacks = Table("summary-stacks", ["Stack", "Account", "Region", "Resources", "Termination protection"])
    protection = {a.name: a.termination_protection for a in facts.artifacts}
    for stack in facts.stacks:
        stacks.rows.append(
            [
                code(stack.name),
                code(stack.account),
                code(stack.region),
                cell(len(stack.resources)),
                cell("on" if protection.get(stack.name) else "off"),
            ]
        )
    section.add(stacks)
    checks = Table(
        "summary-checks", ["Check", "Result", "Detail"], caption="Compliance gates on this environment"
    )
    for pack in facts.nag:
        checks.rows.append(
            [
                cell(f"cdk-nag {pack.pack}"),
                status(pack.status),
                cell(
                    "; ".join(pack.findings)
                    or (
                        "no unacknowledged finding (validation-report.json holds no report for this pack)"
                        if pack.ran
                        else "validation-report.json is missing"
                    )
                ),
            ]
        )
    if facts.cfn_lint is None:
        checks.rows.append(
            [cell("cfn-lint"), status("NOT RUN"), cell("run without --no-cfn-lint to include it")]
        )
    else:
        checks.rows.append(
            [
                cell("cfn-lint"),
                status("FAIL" if facts.cfn_lint else "PASS"),
                cell(
                    "\n".join(facts.cfn_lint)
                    or "no error or warning, each template linted for its stack's region"
                ),
            ]
        )
    for name, findings in facts.rules.items():
        checks.rows.append(
            [
                cell(name),
                status("FAIL" if findings else "PASS"),
                cell("\n".join(f.render() for f in findings) or _first_paragraph(RULES[name].__doc__)),
            ]
        )
    section.add(checks)
    types = Table("summary-types", ["Resource type", "Count"], caption=f"{len(facts.resources)} resources")
    for resource_type, count in sorted(Counter(r.type for r in facts.resources).items()):
        types.rows.append([code(resource_type), cell(count)])
    section.add(types)
    return section


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split()).replace("``", "")


def _region_cell(regions: Sequence[str]) -> Cell:
    risky = [r for r in regions if r in ("*", "(no region)")]
    return code(
        "\n".join(regions) or "no grant found",
        flag=BAD if "*" in risky else (WARN if risky or not regions else None),
        badge="ANY REGION" if "*" in risky else "",
    )


def _bedrock(facts: EnvironmentFacts) -> Section:
    section = Section("bedrock", "Bedrock inventory")
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
            "Tags",
        ],
    )
    for profile in facts.profiles:
        table.rows.append(
            [
                code(profile.logical_id),
                cell(f"{profile.use_case} / {profile.tags.get('route', '?')}"),
                code(profile.name),
                code(profile.source),
                cell(profile.source_kind),
                _region_cell(profile.regions),
                code(
                    "\n".join(profile.invokable_by) or "nobody in this stack",
                    flag=None if profile.invokable_by else WARN,
                ),
                code("\n".join(f"{k}={v}" for k, v in sorted(profile.tags.items()))),
            ]
        )
    profiles.add(table)
    section.add(profiles)

    runtime = Section("bedrock-runtime-section", "Deployed use-case configuration")
    runtime.add(
        Paragraph(
            "Read from runtime_config.json in the orchestrator's staged asset: the routes, token caps and prompt "
            "version the function is deployed with."
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
            "Prompts logged",
            "Grounding",
        ],
    )
    for item in facts.runtime:
        spec = item.spec
        if spec is None:
            problems = "; ".join(item.problems)
            rt.rows.append(
                [cell(item.use_case), code(item.function), cell(f"unreadable: {problems}", flag=BAD)]
            )
            continue
        caps = spec.contract.limits
        rt.rows.append(
            [
                cell(item.use_case),
                code(item.function),
                cell(spec.contract.risk_tier.value),
                code("\n".join(f"{name}: {source.identifier}" for name, source in spec.routes.items())),
                cell(f"input {caps.max_input_tokens}, output {caps.max_output_tokens}"),
                cell(f"version {spec.prompt.version}"),
                cell("allowed" if spec.log_prompts_and_responses else "not allowed"),
                cell("yes" if spec.contract.guardrail.grounded else "no"),
            ]
        )
    runtime.add(rt)
    section.add(runtime)

    guardrails = Section("bedrock-guardrails-section", "Guardrails")
    overview = Table(
        "bedrock-guardrails",
        [
            "Guardrail",
            "Name",
            "Version resource",
            "Version description (policy fingerprint)",
            "Prompt attack (input)",
            "Encrypted with",
        ],
    )
    for guardrail in facts.guardrails:
        attack = guardrail.strength("PROMPT_ATTACK", "input")
        overview.rows.append(
            [
                code(guardrail.logical_id),
                code(guardrail.name),
                code(
                    "\n".join(v for v, _ in guardrail.versions) or "none",
                    flag=None if guardrail.versions else BAD,
                ),
                cell(
                    "\n".join(d for _, d in guardrail.versions)
                    or "no published version: callers would use DRAFT"
                ),
                cell(attack, flag=OK if attack in ("MEDIUM", "HIGH") else BAD),
                code(guardrail.kms_key or "AWS owned key"),
            ]
        )
    guardrails.add(overview)
    for guardrail in facts.guardrails:
        guardrails.add(_guardrail_section(guardrail))
    section.add(guardrails)
    section.add(_enforced_guardrail_section(facts))
    section.add(_logging_section(facts))
    return section


def _enforced_guardrail_section(facts: EnvironmentFacts) -> Section:
    sub = Section("bedrock-enforced-section", "Account-level enforced guardrail")
    sub.add(
        Paragraph(
            "Bedrock applies this guardrail to every model call in the account and region, including calls that "
            "never pass through the orchestration API, on top of any guardrail the caller names (the stricter "
            "action wins). It is set by the environment that owns the account-and-region settings "
            "(owns_invocation_logging), from the environment file's enforced_guardrail section."
        )
    )
    table = Table("bedrock-enforced", ["Stack", "Setting", "Value"], empty="")
    for enforced in facts.enforced_guardrails:
        guardrail = enforced.guardrail
        attack = guardrail.strength("PROMPT_ATTACK", "input") if guardrail else "unknown"
        rows: list[tuple[str, Cell]] = [
            ("configuration", code(enforced.logical_id)),
            (
                "guardrail",
                code(
                    f"{guardrail.name} ({guardrail.logical_id})" if guardrail else "not in this environment"
                ),
            ),
            (
                "enforced version",
                code(
                    enforced.version,
                    flag=OK if enforced.published else BAD,
                    badge="" if enforced.published else "NOT PUBLISHED",
                ),
            ),
            ("prompt attack (input)", cell(attack, flag=OK if attack in ("MEDIUM", "HIGH") else BAD)),
            (
                "PII",
                code(
                    "\n".join(f"{entity}: {action}" for entity, action in guardrail.pii) if guardrail else ""
                )
                if guardrail and guardrail.pii
                else cell("none"),
            ),
            (
                "denied topics",
                cell(
                    "\n".join(name for name, *_ in guardrail.topics)
                    if guardrail and guardrail.topics
                    else "none"
                ),
            ),
            ("user messages evaluated", cell(enforced.messages or "service default")),
            ("system prompts evaluated", cell(enforced.system or "service default")),
        ]
        table.rows.extend([code(enforced.stack), cell(name), value] for name, value in rows)
    for opt_out in facts.enforced_guardrail_opt_outs:
        table.rows.append(
            [
                code(opt_out.stack),
                cell("opted out"),
                cell(opt_out.reason or "no reason recorded", flag=BAD, badge="OPTED OUT"),
            ]
        )
    if not table.rows:
        owns = bool(facts.invocation_logging)
        table.rows.append(
            [
                cell("-"),
                cell("enforced guardrail"),
                cell(
                    "none: this environment owns the account-and-region settings but sets no enforced guardrail"
                    if owns
                    else "set by another environment of this account and region (the owner of invocation logging)",
                    flag=BAD if owns else None,
                ),
            ]
        )
    sub.add(table)
    for enforced in facts.enforced_guardrails:
        if enforced.guardrail is not None:
            sub.add(_guardrail_section(enforced.guardrail))
    return sub


def _guardrail_section(guardrail: Guardrail) -> Section:
    gid = guardrail.logical_id
    sub = Section(f"guardrail-{gid}", f"Guardrail {guardrail.name} ({gid})")
    sub.add(Paragraph(f"{guardrail.description}"))
    filters = Table(
        f"guardrail-{gid}-filters", ["Content filter", "Blocks prompts at", "Blocks responses at"]
    )
    for item in guardrail.filters:
        filters.rows.append(
            [
                code(item.type),
                cell(
                    item.input_strength,
                    flag=BAD
                    if item.type == "PROMPT_ATTACK" and item.input_strength not in ("MEDIUM", "HIGH")
                    else None,
                ),
                cell(
                    item.output_strength
                    + (" (not applicable to responses)" if item.type == "PROMPT_ATTACK" else "")
                ),
            ]
        )
    filters.empty = "No content filter: harmful content passes."
    sub.add(filters)
    topics = Table(
        f"guardrail-{gid}-topics", ["Denied topic", "Definition", "Examples"], empty="No denied topic."
    )
    for name, kind, definition, examples in guardrail.topics:
        topics.rows.append([cell(f"{name} ({kind})"), cell(definition), cell("\n".join(examples))])
    sub.add(topics)
    pii = Table(f"guardrail-{gid}-pii", ["Sensitive information", "Action"], empty="No PII entity or regex.")
    for entity, action in guardrail.pii:
        pii.rows.append(
            [
                code(entity),
                cell(
                    "blocked"
                    if action == "BLOCK"
                    else "anonymized (masked)"
                    if action == "ANONYMIZE"
                    else action
                ),
            ]
        )
    for name, pattern, action, description in guardrail.regexes:
        pii.rows.append(
            [
                code(f"regex {name}: {pattern}"),
                cell(f"{'blocked' if action == 'BLOCK' else 'anonymized (masked)'}: {description}"),
            ]
        )
    sub.add(pii)
    words = Table(f"guardrail-{gid}-words", ["Word filter", "Entries"], empty="No word filter.")
    if guardrail.words:
        words.rows.append([cell("blocked words and phrases"), code("\n".join(guardrail.words))])
    if guardrail.managed_word_lists:
        words.rows.append([cell("AWS managed lists"), code("\n".join(guardrail.managed_word_lists))])
    sub.add(words)
    grounding = Table(
        f"guardrail-{gid}-grounding",
        ["Contextual grounding check", "Threshold", "Meaning"],
        empty="No contextual grounding check: responses are not checked against the supplied sources.",
    )
    for kind, threshold in guardrail.grounding:
        meaning = (
            "responses scoring below this for being supported by the source are blocked"
            if kind == "GROUNDING"
            else "responses scoring below this for relevance to the query are blocked"
        )
        grounding.rows.append([code(kind), cell(threshold), cell(meaning)])
    sub.add(grounding)
    messages = Table(f"guardrail-{gid}-messages", ["When", "The caller sees"])
    messages.rows.append([cell("a prompt is blocked"), cell(guardrail.blocked_input)])
    messages.rows.append([cell("a response is blocked"), cell(guardrail.blocked_output)])
    sub.add(messages)
    return sub


def _flag_bool(value: bool | None, on_is_bad: bool = False) -> Cell:
    if value is None:
        # An account-wide flag left out of the call is left to the service default.
        return cell("not set: service default", flag=BAD, badge="NOT STATED")
    return cell("on" if value else "off", flag=(WARN if value and on_is_bad else None))


def _logging_section(facts: EnvironmentFacts) -> Section:
    sub = Section("bedrock-logging-section", "Model invocation logging")
    sub.add(
        Paragraph(
            "From the Create call of each Custom::BedrockModelInvocationLogging resource (JSON that CDK joins with "
            "references to the bucket, log group and role; parsed with the references kept as logical IDs)."
        )
    )
    table = Table(
        "bedrock-logging",
        ["Resource", "Setting", "Value"],
        empty="No invocation logging in this environment.",
    )
    for item in facts.invocation_logging:
        rid = code(item.logical_id)
        if item.parse_error:
            table.rows.append(
                [rid, cell("configuration"), cell(item.parse_error, flag=BAD, badge="UNPARSED")]
            )
            continue
        rows: list[tuple[str, Cell]] = [
            ("S3 destination", code(f"{item.s3_bucket} / {item.s3_prefix}" if item.s3_bucket else "none")),
            (
                "large payloads",
                code(
                    f"{item.large_data_bucket} / {item.large_data_prefix}"
                    if item.large_data_bucket
                    else "none"
                ),
            ),
            ("CloudWatch Logs destination", code(item.log_group or "none")),
            ("delivery role", code(item.role or "none")),
            (
                "bucket encryption",
                code(
                    f"{item.bucket_encryption} with {item.bucket_key}"
                    if item.bucket_key
                    else item.bucket_encryption or "none",
                    flag=None if item.bucket_key else WARN,
                ),
            ),
            (
                "log group encryption",
                code(item.log_group_key or "service-managed keys", flag=None if item.log_group_key else WARN),
            ),
            (
                "bucket lifecycle",
                cell(
                    f"objects expire after {item.bucket_expiration_days} days"
                    + (
                        f", noncurrent versions after {item.bucket_noncurrent_days} days"
                        if item.bucket_noncurrent_days
                        else ""
                    )
                    if item.bucket_expiration_days
                    else "objects never expire",
                    flag=None if item.bucket_expiration_days else WARN,
                ),
            ),
            (
                "log group retention",
                cell(
                    f"{item.log_retention_days} days" if item.log_retention_days else "never expires",
                    flag=None if item.log_retention_days else WARN,
                ),
            ),
        ]
        rows.extend(
            (f"{kind} data delivery", _flag_bool(item.delivery.get(kind), on_is_bad=kind == "text"))
            for kind in ("text", "image", "embedding", "video", "audio")
        )
        rows.append(("on stack deletion", code(item.on_delete)))
        table.rows.extend([rid, cell(name), value] for name, value in rows)
    sub.add(table)
    return sub


def _service(action: str) -> str:
    prefix = action.split(":", 1)[0].lower() if ":" in action else action
    return prefix if prefix in SERVICES else ("all services" if action == "*" else "other")


def _grant_flags(actions: Sequence[str], resources: Sequence[str], negated: Sequence[str]) -> Cell:
    unrestricted = [a for a in actions if a == "*" or a.endswith(":*")] + [r for r in resources if r == "*"]
    wildcards = [x for x in (*actions, *resources) if "*" in x and x not in unrestricted]
    notes = [f"unrestricted: {', '.join(unrestricted)}"] if unrestricted else []
    if wildcards:
        notes.append("wildcard in:\n" + "\n".join(wildcards))
    if negated:
        notes.append(f"uses {', '.join(negated)}")
    if unrestricted:
        return cell("\n".join(notes), flag=BAD, badge="UNRESTRICTED WILDCARD")
    if wildcards:
        return cell("\n".join(notes), flag=WARN, badge="WILDCARD")
    return cell("\n".join(notes), flag=WARN if notes else None)


def _access(facts: EnvironmentFacts) -> Section:
    section = Section("access", "Access")
    principals = Table(
        "access-principals", ["Principal", "Type", "Who can assume it", "AWS managed policies"]
    )
    for principal in facts.principals:
        principals.rows.append(
            [
                code(principal.logical_id),
                code(principal.type),
                code("\n".join(principal.trust) or "n/a"),
                code(
                    "\n".join(principal.managed_policy_arns) or "none",
                    flag=WARN if principal.managed_policy_arns else None,
                    badge="NOT IN TEMPLATE" if principal.managed_policy_arns else "",
                ),
            ]
        )
    section.add(principals)
    section.add(
        Paragraph(
            "Identity policies per principal (inline policies, AWS::IAM::Policy and ManagedPolicy resources attached "
            "through Roles), one row per statement and service. AWS managed policies are listed above; their "
            "content is defined by AWS and is not in the template."
        )
    )
    grants = Table(
        "access-grants",
        ["Principal", "Service", "Effect", "Actions", "Resources", "Condition", "Granted by", "Flags"],
    )
    for principal in facts.principals:
        for statement in principal.statements:
            services: dict[str, list[str]] = {}
            for action in statement.actions:
                services.setdefault(_service(action), []).append(action)
            for service, actions in sorted(services.items()):
                grants.rows.append(
                    [
                        code(principal.logical_id),
                        cell(service),
                        cell(statement.effect),
                        code("\n".join(actions)),
                        code("\n".join(statement.resources)),
                        code(statement.condition),
                        code(statement.source + (f" ({statement.sid})" if statement.sid else "")),
                        _grant_flags(actions, statement.resources, statement.negated),
                    ]
                )
    section.add(grants)
    resource_policies = Table(
        "access-resource-policies",
        ["Resource", "Policy", "Effect", "Principal", "Actions", "Resources", "Condition"],
        caption="Resource-based policies (bucket, topic, queue and key policies, Lambda permissions)",
    )
    for statement in facts.resource_policies:
        resource_policies.rows.append(
            [
                code(statement.holder),
                code(statement.source),
                cell(statement.effect),
                code(
                    statement.principal,
                    flag=WARN if statement.effect == "Allow" and "*" in statement.principal else None,
                ),
                code("\n".join(statement.actions)),
                code("\n".join(statement.resources)),
                code(statement.condition),
            ]
        )
    section.add(resource_policies)
    return section


def _ok_cell(text: str, ok: bool | None) -> Cell:
    return cell(text, flag=None if ok is None else (OK if ok else BAD))


def _protection(facts: EnvironmentFacts) -> Section:
    section = Section("protection", "Data protection")
    section.add(
        Paragraph(
            "Per resource that holds data, keys or policy: encryption at rest, in transit (a resource policy that "
            "denies requests without aws:SecureTransport), retention, and what CloudFormation does with it when "
            "the stack or the resource is deleted."
        )
    )
    table = Table(
        "protection-resources", ["Resource", "Type", "At rest", "In transit", "Retention", "On delete"]
    )
    for item in facts.protection:
        retained = item.on_delete.startswith("Retain")
        table.rows.append(
            [
                code(item.logical_id),
                code(item.type),
                _ok_cell(item.at_rest, item.at_rest_ok),
                _ok_cell(item.in_transit, item.in_transit_ok),
                _ok_cell(item.retention, item.retention_ok),
                cell(
                    item.on_delete,
                    flag=(WARN if item.stateful and not retained and facts.production else None),
                    badge="DATA DELETED" if item.stateful and not retained else "",
                ),
            ]
        )
    section.add(table)
    return section


def _operations(facts: EnvironmentFacts) -> Section:
    section = Section("operations", "Operations")
    section.add(
        Paragraph(
            "Alarms grouped by use case (logical IDs start with the use case's PascalCase id) or by the platform "
            "construct they belong to; notifications resolve each action to its SNS topic and subscriptions."
        )
    )
    alarms = Table(
        "operations-alarms",
        [
            "Group",
            "Alarm",
            "Kind",
            "Description",
            "Metric or expression",
            "Fires when",
            "Evaluation",
            "Notifies (ALARM)",
            "Notifies (OK)",
        ],
    )
    for alarm in facts.alarms:
        alarms.rows.append(
            [
                cell(alarm.group),
                code(alarm.logical_id),
                cell(alarm.kind),
                cell(alarm.description),
                code(alarm.metric),
                code(alarm.condition),
                cell(alarm.evaluation),
                code("\n".join(alarm.notifies) or "nobody", flag=None if alarm.notifies else BAD),
                code("\n".join(alarm.ok_notifies) or "nobody", flag=None if alarm.ok_notifies else WARN),
            ]
        )
    section.add(alarms)
    budgets = Table(
        "operations-budgets", ["Group", "Budget", "Limit", "Cost filter", "Notifications"], empty="No budget."
    )
    for budget in facts.budgets:
        budgets.rows.append(
            [
                cell(budget.group),
                code(budget.logical_id),
                cell(budget.limit),
                code(budget.filters),
                code("\n".join(budget.notifications)),
            ]
        )
    section.add(budgets)
    limits = Table(
        "operations-limits",
        ["Limit", "Resource", "Setting"],
        caption="Consumption limits",
        empty="No consumption limit.",
    )
    for limit in facts.limits:
        limits.rows.append([cell(limit.control), code(limit.resource), cell(limit.setting)])
    section.add(limits)
    return section


def _acknowledgments(facts: EnvironmentFacts) -> Section:
    section = Section("acknowledgments", "Acknowledged cdk-nag findings")
    files = sorted(str(a.metadata_file) for a in facts.artifacts if a.metadata_file)
    section.add(
        Paragraph(
            f"{len(facts.acknowledgments)} acknowledgments. CDK records each cdk.Validations acknowledgment as construct "
            "metadata of type aws:cdk:acknowledged-rules on the acknowledging construct, in the stack artifact's "
            f"metadata ({', '.join(files) or 'manifest'}); an acknowledgment covers that construct and its children, "
            "listed as Resources."
        )
    )
    table = Table(
        "acknowledgments",
        ["Pack", "Finding", "Construct", "Resources", "Reason"],
        empty="No acknowledged finding.",
    )
    for ack, resources in facts.acknowledgments:
        table.rows.append(
            [
                cell(ack.pack),
                code(ack.finding),
                code(ack.construct_path),
                code(
                    "\n".join(resources) or "no resource under this construct",
                    flag=None if resources else WARN,
                ),
                cell(ack.reason, flag=BAD if len(ack.reason.strip()) < 30 else None),
            ]
        )
    section.add(table)
    return section


def _lint_ignores(facts: EnvironmentFacts) -> Section:
    section = Section("lint-ignores", "Ignored cfn-lint checks")
    section.add(
        Paragraph(
            "From each resource's Metadata: cfn-lint.config.ignore_checks (what cfn-lint skips) and "
            "bedrock-platform:cfn-lint (why)."
        )
    )
    table = Table(
        "lint-ignores", ["Stack", "Resource", "Check", "Reason"], empty="No cfn-lint check is ignored."
    )
    for item in facts.lint_ignores:
        table.rows.append(
            [
                code(item.stack),
                code(item.logical_id),
                code(item.check),
                cell(
                    item.reason or "no reason recorded",
                    flag=None if item.reason else BAD,
                    badge="" if item.reason else "NO REASON",
                ),
            ]
        )
    section.add(table)
    return section


def _controls(facts: EnvironmentFacts) -> Section:
    section = Section("controls", "Control mapping")
    mapping = control_map.load_controls()
    evidence = control_map.evaluate_evidence(facts)
    section.add(
        Paragraph(
            "From compliance/report/controls.yaml (reviewed like code). Coverage is the claim the mapping makes; "
            "Result is whether the cited evidence passes in this assembly. A passing result never upgrades a "
            "partial or missing coverage."
        )
    )
    for framework, title, intro in (
        (
            "genai_lens",
            "AWS Well-Architected Generative AI Lens",
            "Confirmed 'aws-docs': id and title read on the AWS lens page; 'lens-text': read in copies of the lens "
            "text citing that page.",
        ),
        ("owasp_llm_2025", "OWASP Top 10 for LLM Applications (2025)", ""),
    ):
        sub = Section(f"controls-{framework}", title)
        if intro:
            sub.add(Paragraph(intro))
        columns = (
            ["Id", "Title"]
            + (["Confirmed"] if framework == "genai_lens" else [])
            + [
                "Coverage",
                "Evidence",
                "Result",
                "How",
                "Gaps",
            ]
        )
        table = Table(f"controls-{framework.replace('_', '-')}", columns)
        for control in mapping:
            if control.framework != framework:
                continue
            result = control_map.ControlResult(control, tuple(evidence[e] for e in control.evidence))
            coverage_flag = {"covered": OK, "partial": WARN, "not covered": BAD, "not applicable": NA}[
                control.coverage
            ]
            row = [code(control.id), cell(control.title)]
            if framework == "genai_lens":
                row.append(cell(control.confirmed))
            row.extend(
                [
                    cell(
                        control.coverage,
                        flag=coverage_flag,
                        badge=control.coverage.upper() if coverage_flag == BAD else "",
                    ),
                    code("\n".join(f"{e.id}: {e.status}" for e in result.evidence) or "none"),
                    status(result.status),
                    cell(control.how),
                    cell(control.gaps),
                ]
            )
            table.rows.append(row)
        sub.add(table)
        section.add(sub)
    unconfirmed = control_map.unconfirmed_lens_ids()
    if unconfirmed:
        section.add(
            Paragraph(
                "Lens ids not used because they could not be confirmed: " + "; ".join(unconfirmed) + "."
            )
        )
    checks = Table(
        "controls-evidence",
        ["Evidence", "What it checks", "Result", "Detail"],
        caption="Every evidence check, in this assembly",
    )
    for evidence_id, (what, _) in control_map.CHECKS.items():
        item = evidence[evidence_id]
        checks.rows.append([code(evidence_id), cell(what), status(item.status), cell(item.detail)])
    section.add(checks)
    return section


def _text_of(blocks: Sequence[Paragraph | Table | Section]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.extend(c.text for row in block.rows for c in row)
        else:
            parts.append(_text_of(block.blocks))
    return "\n".join(parts)


def _resource_index(facts: EnvironmentFacts, sections: Sequence[Section]) -> Section:
    section = Section("resources", "Resource index")
    section.add(
        Paragraph(
            f"Every resource of every template of {facts.name} ({len(facts.resources)}), with the sections that discuss it."
        )
    )
    words = [(s.title, set(_WORD.findall(_text_of(s.blocks)))) for s in sections]
    table = Table("resources-index", ["Logical ID", "Type", "Construct path", "On delete", "Discussed in"])
    for resource in facts.resources:
        where = [title for title, found in words if resource.logical_id in found]
        table.rows.append(
            [
                code(resource.logical_id),
                code(resource.type),
                code(resource.construct_path),
                cell(
                    resource.on_delete,
                    flag=WARN
                    if resource.stateful and resource.deletion_policy != "Retain" and facts.production
                    else None,
                ),
                cell(", ".join(where) or "only here"),
            ]
        )
    section.add(table)
    return section
