"""Human review: which outputs of each use case go to people, whether answers are held until a reviewer
decides, within what time, what a reviewer can read, how long items and audit records are kept, and the
review path's resources (issue 13; README "Human review").

The policy is read from each use case's deployed ``runtime_config.json`` (the inventory topic's extract:
the orchestrator and the scoring function enforce what that file says), never from ``contracts/``. The
resources are the ``HumanReview`` construct's: what happens to each on stack deletion, and which role
may call the reviewer routes.

In a release diff, anything that lets an output of a high-risk use case reach a caller unreviewed needs
attention (``hold_for_review`` turned off, a mode that sends fewer outputs to people, the high-risk flag
off), as does a longer review SLA and a use case whose outputs went to people leaving the environment
(its pending items are no longer watched by an alarm, its held answers no longer fetched); other policy
changes are for review.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from compliance.cfn_values import parse_joined_json, ref_target, render_value
from compliance.report.document import BAD, OK, WARN, Cell, Section, Table, cell, code
from compliance.report.environment import Environment
from compliance.report.matching import Matching
from compliance.report.topic import (
    ATTENTION,
    PASS,
    REVIEW,
    Change,
    EvidenceCheck,
    RenderContext,
    Topic,
    verdict,
)
from compliance.report.topics import access, inventory, invocation_logging
from platform_spec.contract import ReviewMode, ReviewPolicy, RiskTier
from platform_spec.review import ReviewEnv

#: How many outputs each mode sends to people, least first (sampled = the flags plus a share).
_REACH = {ReviewMode.NONE: 0, ReviewMode.FLAGGED: 1, ReviewMode.SAMPLED: 2, ReviewMode.ALL: 3}
#: Where the construct puts its resources (``stacks/platform_stack.py``: ``HumanReview``).
_CONSTRUCT = "HumanReview"


@dataclass(frozen=True)
class UseCaseReview:
    function: str  # the orchestrator's logical ID (the subject of a change)
    use_case: str
    risk_tier: RiskTier
    policy: ReviewPolicy
    text_stored: bool  # logging.prompts_and_responses: the item may hold the prompt and the answer
    model_graded: bool  # the scoring function also runs the rubric through the judge profile

    @property
    def goes_to_people(self) -> bool:
        """Some outputs of this use case go to a reviewer: any mode but none, or answers held for one (the
        loader requires mode all for that; a deployed file is read as it is)."""
        return self.policy.mode is not ReviewMode.NONE or self.policy.hold_for_review

    @property
    def all_reach_people(self) -> bool:
        """Every output of this use case goes to a reviewer (mode all, or the high-risk flag on a high-risk
        use case in a mode that applies flags)."""
        if self.policy.mode is ReviewMode.ALL:
            return True
        return (
            self.policy.mode is not ReviewMode.NONE
            and self.policy.flags.high_risk
            and self.risk_tier is RiskTier.HIGH
        )


@dataclass(frozen=True)
class ReviewResource:
    logical_id: str
    type: str
    path: str
    on_delete: str


@dataclass(frozen=True)
class CorrectionCheck:
    """What a review API function checks a reviewer's correction with, as the template deploys it."""

    function: str  # the review API function's logical ID
    #: use case -> the logical ID of the guardrail its ``USE_CASE_GUARDRAILS`` entry names ("" if none)
    guardrails: Mapping[str, str]
    #: the guardrails (logical IDs) the function's role is allowed ``bedrock:ApplyGuardrail`` on
    applicable: frozenset[str]


@dataclass(frozen=True)
class Reviewer:
    """A reviewer role of the review path, as the template deploys it."""

    logical_id: str
    trust: tuple[str, ...]  # its trust policy's statements, as the access topic renders them

    @property
    def account_wide(self) -> bool:
        """The trust names an account (its root, or the bare id): any principal of that account whose own IAM
        policy allows sts:AssumeRole on the role may become a reviewer
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts)."""
        return any(re.search(r":root\b|\bAWS \d{12}\b", line) for line in self.trust)


@dataclass(frozen=True)
class ReviewFacts:
    use_cases: tuple[UseCaseReview, ...]
    resources: tuple[ReviewResource, ...]
    corrections: tuple[CorrectionCheck, ...] = ()
    #: use case -> the logical ID of its own guardrail (named ``<environment>-<use case>``)
    own_guardrails: Mapping[str, str] = field(default_factory=dict)
    #: whether Bedrock's invocation logging delivers text here (None: this environment does not set it)
    invocation_text: bool | None = None
    #: the review path's reviewer roles (who may decide items, by their trust policies)
    reviewers: tuple[Reviewer, ...] = ()


class HumanReviewTopic(Topic[ReviewFacts]):
    id: ClassVar[str] = "human-review"
    title: ClassVar[str] = "Human review"

    def extract(self, env: Environment) -> ReviewFacts:
        found = []
        for runtime in env.extract(inventory.TOPIC).runtime:
            if runtime.spec is None:
                continue  # the inventory shows why the function would refuse its file
            contract = runtime.spec.contract
            found.append(
                UseCaseReview(
                    function=runtime.function,
                    use_case=runtime.use_case,
                    risk_tier=contract.risk_tier,
                    policy=contract.review,
                    text_stored=runtime.spec.log_prompts_and_responses,
                    model_graded=runtime.spec.scoring.rubric is not None,
                )
            )
        resources = tuple(
            ReviewResource(r.logical_id, r.type, r.construct_path, r.on_delete)
            for r in env.resources
            if f"/{_CONSTRUCT}/" in f"/{r.relative_path}/"
            and r.type
            in {
                "AWS::SQS::Queue",
                "AWS::DynamoDB::Table",
                "AWS::IAM::Role",
                "AWS::Lambda::Function",
                "AWS::Events::Rule",
            }
        )
        own = {
            use_case.use_case: r.logical_id
            for r in env.resources
            if r.type == "AWS::Bedrock::Guardrail"
            for use_case in found
            if render_value(r.properties.get("Name", "")).endswith(f"-{use_case.use_case}")
        }
        roles = {r.logical_id for r in resources if r.type == "AWS::IAM::Role" and "/Reviewer/" in r.path}
        reviewers = tuple(
            Reviewer(p.logical_id, p.trust)
            for p in env.extract(access.TOPIC).principals
            if p.logical_id in roles
        )
        return ReviewFacts(
            tuple(found),
            resources,
            _correction_checks(env),
            own,
            env.extract(invocation_logging.TOPIC).text_delivery,
            reviewers,
        )

    def diff(self, now: ReviewFacts, then: ReviewFacts, matching: Matching) -> list[Change]:
        return diff_review(now, then, matching)

    def render(self, facts: ReviewFacts, ctx: RenderContext) -> Section:
        return render_review(facts)

    def counts(self, facts: ReviewFacts) -> list[tuple[str, str]]:
        held = sum(1 for u in facts.use_cases if u.policy.hold_for_review)
        return [
            (
                "Human review",
                f"{len(facts.use_cases)} use cases, {held} holding answers until a reviewer decides",
            )
        ]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "REVIEW-HIGH-RISK": EvidenceCheck(
                "every output of a high-risk use case goes to a reviewer", _high_risk_reviewed
            ),
            "REVIEW-CORRECTIONS-GUARDED": EvidenceCheck(
                "a reviewer's correction meets the use case's own guardrail before it is released",
                _corrections_guarded,
            ),
        }


def _correction_checks(env: Environment) -> tuple[CorrectionCheck, ...]:
    """Each review API function's ``USE_CASE_GUARDRAILS`` (which guardrail checks which use case's
    corrections) and the guardrails its role may apply, read from the templates."""
    principals = {p.logical_id: p for p in env.extract(access.TOPIC).principals}
    checks = []
    for resource in env.resources:
        if resource.type != "AWS::Lambda::Function" or f"/{_CONSTRUCT}/ApiFunction/" not in (
            f"/{resource.relative_path}/"
        ):
            continue
        variables = (resource.properties.get("Environment") or {}).get("Variables") or {}
        guardrails: dict[str, str] = {}
        try:
            document, refs = parse_joined_json(variables.get(ReviewEnv.GUARDRAILS, "{}"))
        except ValueError:
            document, refs = {}, {}
        for use_case, ref in document.items() if isinstance(document, dict) else []:
            arn = ref.get("arn") if isinstance(ref, dict) else None
            targets = refs.get(arn, set()) if isinstance(arn, str) else set()
            guardrails[str(use_case)] = next(iter(targets)) if len(targets) == 1 else ""
        role = principals.get(ref_target(resource.properties.get("Role")) or "")
        applicable = frozenset(
            target
            for statement in (role.statements if role is not None else ())
            if statement.effect == "Allow"
            and not statement.negated
            and any(a in ("bedrock:ApplyGuardrail", "bedrock:*", "*") for a in statement.actions)
            for placeholder in statement.resources
            for target in [placeholder[1:].split(".", 1)[0]]
            if placeholder.startswith("<") and placeholder.endswith(".GuardrailArn>")
        )
        checks.append(CorrectionCheck(resource.logical_id, guardrails, applicable))
    return tuple(checks)


def _corrections_guarded(facts: ReviewFacts) -> tuple[str, str]:
    """A reviewer's correction replaces a model answer; it must meet the use case's own guardrail first."""
    correctable = sorted(u.use_case for u in facts.use_cases if u.text_stored)
    if not correctable:
        return PASS, "no use case here stores text, so none can be corrected"
    if not facts.corrections:
        return verdict(["no review API function found to check corrections"], "")
    failures = []
    for check in facts.corrections:
        for use_case in correctable:
            named, own = check.guardrails.get(use_case, ""), facts.own_guardrails.get(use_case, "")
            if not named:
                failures.append(f"{use_case}: {check.function} names no guardrail for its corrections")
            elif named != own:
                failures.append(
                    f"{use_case}: corrections go through {named}, not its own guardrail {own or '(none)'}"
                )
            elif named not in check.applicable:
                failures.append(f"{use_case}: {check.function}'s role may not apply {named} (ApplyGuardrail)")
    return verdict(
        failures,
        f"corrections of {', '.join(correctable)} go through each use case's own guardrail "
        "(the review API's USE_CASE_GUARDRAILS and its ApplyGuardrail grant)",
    )


def _high_risk_reviewed(facts: ReviewFacts) -> tuple[str, str]:
    high = [u for u in facts.use_cases if u.risk_tier is RiskTier.HIGH]
    if not high:
        return PASS, "no high-risk use case deployed here: nothing to hold"
    failures = [f"{u.use_case}: mode {u.policy.mode.value}" for u in high if not u.all_reach_people]
    held = sorted(u.use_case for u in high if u.policy.hold_for_review)
    return verdict(
        failures,
        f"{len(high)} high-risk use case(s), every output reviewed"
        + (f"; held until a reviewer decides: {', '.join(held)}" if held else ""),
    )


def _references_only(invocation_text: bool | None) -> str:
    """What a reviewer of a use case that may not store text can read: the invocation record the item points
    to holds the text only where Bedrock's text delivery is on (the review API says the same to the reviewer,
    ``lambdas/review/api.py`` ``_log_view``)."""
    where = {
        True: "Bedrock's text delivery is on, so the invocation record holds the prompt and the response",
        False: "Bedrock's text delivery is off, so the invocation record holds no text either: the reviewer "
        "sees scores and metadata, and asks the calling team for the input",
        None: "whether the invocation record holds text is set by the environment that owns the account's "
        "invocation logging",
    }[invocation_text]
    return f"references only (request id, invocation-log location): text may not be stored; {where}"


def _who(review: UseCaseReview) -> str:
    policy = review.policy
    if policy.mode is ReviewMode.NONE:
        return "none (every output is still scored)"
    if policy.mode is ReviewMode.ALL:
        return "all outputs"
    flags = policy.flags
    named = [
        name
        for name, on in (
            ("guardrail intervention", flags.guardrail_intervention),
            ("high risk tier", flags.high_risk and review.risk_tier is RiskTier.HIGH),
            (f"score below {flags.low_score}", flags.low_score is not None),
            ("negative feedback", flags.negative_feedback),
        )
        if on
    ]
    sampled = f"{policy.sample_rate:.0%} sampled, plus " if policy.mode is ReviewMode.SAMPLED else ""
    return sampled + ("flagged: " + ", ".join(named) if named else "no flag on")


def render_review(facts: ReviewFacts) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    table = Table(
        "human-review-policy",
        [
            "Use case",
            "Risk tier",
            "Goes to people",
            "Answer held until decided",
            "SLA",
            "Reviewer reads",
            "Scoring",
            "Items kept",
            "Audit kept",
        ],
        caption="As each use case's deployed runtime_config.json sets it (contract section `review`).",
        empty="No use case deployed here.",
    )
    for review in facts.use_cases:
        policy = review.policy
        unreviewed = review.risk_tier is RiskTier.HIGH and not review.all_reach_people
        row: list[Cell] = [
            code(review.use_case),
            cell(review.risk_tier.value),
            cell(_who(review), flag=BAD if unreviewed else None),
            cell(
                "yes (202, then fetched)" if policy.hold_for_review else "no",
                flag=OK if policy.hold_for_review else None,
            ),
            cell(f"{policy.sla_hours} h"),
            cell(
                "the prompt and the answer, in the item"
                if review.text_stored
                else _references_only(facts.invocation_text),
                flag=None if review.text_stored else WARN,
            ),
            cell(
                "deterministic scorers + rubric (judge profile)"
                if review.model_graded
                else "deterministic scorers"
            ),
            cell(f"{policy.retention_days} d"),
            cell(f"{policy.audit_retention_days} d"),
        ]
        table.rows.append(row)
    section.add(table)
    resources = Table(
        "human-review-resources",
        ["Resource", "Type", "Construct path", "On stack deletion"],
        caption="The review path: queue and dead-letter queue, review and audit tables, functions, reviewer role.",
        empty="No review path in this environment.",
    )
    for resource in facts.resources:
        resources.rows.append(
            [code(resource.logical_id), code(resource.type), code(resource.path), cell(resource.on_delete)]
        )
    section.add(resources)
    section.add(_reviewers_table(facts))
    return section


def _reviewers_table(facts: ReviewFacts) -> Table:
    """Who may decide items: each reviewer role, who its trust policy lets assume it, and the use cases whose
    items it decides (the review API admits a session of the role on every reviewer route, whatever the
    item's use case)."""
    table = Table(
        "human-review-reviewers",
        ["Reviewer role", "Who may assume it", "Decides the items of"],
        caption="Who may review: the reviewer role's trust policy, as deployed.",
        empty="No reviewer role in this environment.",
    )
    sent = [r.use_case for r in facts.use_cases if r.goes_to_people]
    for reviewer in facts.reviewers:
        who = "; ".join(reviewer.trust) or "nobody (no trust statement)"
        if reviewer.account_wide:
            who += (
                ". Any principal of that account whose own IAM policy allows sts:AssumeRole on this role may "
                "review: who that is is decided outside this template (the reviewers' IAM or IAM Identity "
                "Center permissions), and each reviewer session must carry a source identity"
            )
        table.rows.append(
            [
                code(reviewer.logical_id),
                cell(who, flag=WARN if reviewer.account_wide else None),
                cell(
                    f"every use case that sends outputs to people here: {', '.join(sent)} (one role for all)"
                    if sent
                    else "none: no use case here sends outputs to people"
                ),
            ]
        )
    return table


def _stranded(gone: UseCaseReview) -> Change:
    """A use case whose outputs went to people, gone from the deployed configuration: its items stay in the
    review table and reviewers still list and decide them (``GET /reviews?useCase=`` answers
    ``configured: false``), but a caller's fetch of a held answer (``GET /use-cases/{id}/reviews/{reviewId}``)
    answers 404 USE_CASE_NOT_FOUND for a use case the configuration lacks (``lambdas/review/api.py``), and its
    review alarms (backlog, oldest pending) go with it."""
    held = (
        "; callers can no longer fetch held answers (404 USE_CASE_NOT_FOUND): settle them before this "
        "release, with the use case still deployed (reject what no caller will fetch)"
        if gone.policy.hold_for_review
        else ""
    )
    return Change(
        TOPIC.id,
        gone.function,
        "removed",
        f"{gone.use_case} no longer deployed: its items still pending stay in the review table, listed with "
        f"configured: false until decided, and its backlog alarms are removed, so nothing pages about them"
        f"{held}",
        level=ATTENTION,
        use_case=gone.use_case,
    )


def diff_review(now: ReviewFacts, then: ReviewFacts, matching: Matching) -> list[Change]:
    changes: list[Change] = []
    before = {(matching.ids.get(u.function, u.function), u.use_case): u for u in then.use_cases}
    if not matching.cross_environment:  # another environment's use cases are not this one's to settle
        kept = {(u.function, u.use_case) for u in now.use_cases}
        changes.extend(
            _stranded(old) for key, old in before.items() if key not in kept and old.goes_to_people
        )
    for review in now.use_cases:
        old = before.get((review.function, review.use_case))
        if old is None or old.policy == review.policy:
            continue  # a new use case is one change of its own (the inventory's)
        a, b = old.policy, review.policy
        weaker: list[str] = []
        other: list[str] = []
        if a.hold_for_review and not b.hold_for_review:
            weaker.append("answers no longer held until a reviewer decides")
        elif b.hold_for_review and not a.hold_for_review:
            other.append("answers now held until a reviewer decides")
        if _REACH[b.mode] < _REACH[a.mode]:
            weaker.append(f"mode {a.mode.value} -> {b.mode.value}: fewer outputs go to people")
        elif b.mode is not a.mode:
            other.append(f"mode {a.mode.value} -> {b.mode.value}")
        if old.all_reach_people and not review.all_reach_people and review.risk_tier is RiskTier.HIGH:
            weaker.append("outputs of this high-risk use case can now reach callers unreviewed")
        if b.sla_hours > a.sla_hours:
            weaker.append(f"review SLA {a.sla_hours} h -> {b.sla_hours} h")
        for name, was, is_ in (
            ("sample rate", a.sample_rate, b.sample_rate),
            ("flags", a.flags, b.flags),
            ("SLA (hours)", a.sla_hours, b.sla_hours) if b.sla_hours < a.sla_hours else ("", 0, 0),
            ("item retention (days)", a.retention_days, b.retention_days),
            ("audit retention (days)", a.audit_retention_days, b.audit_retention_days),
            ("alarm thresholds", a.alarms, b.alarms),
        ):
            if name and was != is_:
                other.append(f"{name} changed")
        level = ATTENTION if weaker else REVIEW
        changes.append(
            Change(
                TOPIC.id,
                review.function,
                "weakened" if weaker else "changed",
                f"{review.use_case} review policy: " + "; ".join(weaker + other),
                level=level,
                use_case=review.use_case,
            )
        )
    return changes


TOPIC = HumanReviewTopic()
