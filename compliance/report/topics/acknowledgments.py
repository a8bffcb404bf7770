"""Acknowledgments and ignored cfn-lint checks: every finding acknowledged on a construct (cdk-nag's, and the
gate's ``BedrockPlatform::<RULE>``) with the resources it covers and its reason, and every cfn-lint check a
template ignores with the reason recorded next to it.

Both come from the compliance gate's result (``bedrock-platform-gate.json``): the gate records them while it
checks the assembly, so what the pack lists is what the checks honoured. Each acknowledgment row has an
anchor (:func:`~compliance.report.topic.acknowledgment_anchor`) that red flags elsewhere link to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from compliance.gate_result import Acknowledgment, LintIgnore
from compliance.report.document import BAD, WARN, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment
from compliance.report.matching import Matching, Normalize
from compliance.report.topic import (
    ATTENTION,
    REVIEW,
    ROUTINE,
    Change,
    EvidenceCheck,
    RenderContext,
    Topic,
    acknowledgment_anchor,
    verdict,
)
from platform_config.markers import GATE_RESULT_FILE

#: A reason shorter than this is flagged: ``bedrock_constructs.nag.acknowledge`` refuses shorter ones.
MIN_REASON = 30


@dataclass(frozen=True)
class AcknowledgmentFacts:
    recorded: bool  # the gate's result was there to read
    acknowledgments: tuple[Acknowledgment, ...]
    lint_ignores: tuple[LintIgnore, ...]


def diff_acknowledgments(
    now: AcknowledgmentFacts, then: AcknowledgmentFacts, matching: Matching
) -> list[Change]:
    """New and dropped acknowledgments: a new one silences a finding (a decision), a dropped one is routine."""

    def key(ack: Acknowledgment, normalize: Normalize) -> tuple[str, str]:
        """The construct path without the Stage (the same in every environment), and the finding."""
        return (normalize(ack.construct_path.split("/", 2)[-1]), ack.finding)

    before = {key(a, matching.norm_then): a for a in then.acknowledgments}
    after = {key(a, matching.norm_now): a for a in now.acknowledgments}
    changes = []
    for k in sorted(after.keys() - before.keys()):
        ack = after[k]
        changes.append(
            Change(
                TOPIC.id,
                ack.resources[0] if ack.resources else ack.construct_path,
                "added",
                f"new acknowledgment {ack.finding} on {ack.construct_path}: {ack.reason}",
                level=ATTENTION,
                type="acknowledgment",
            )
        )
    for k in sorted(before.keys() - after.keys()):
        ack = before[k]
        changes.append(
            Change(
                TOPIC.id,
                matching.ids.get(ack.resources[0], ack.resources[0]) if ack.resources else ack.construct_path,
                "removed",
                f"acknowledgment {ack.finding} on {ack.construct_path} no longer recorded",
                level=ROUTINE,
                type="acknowledgment",
            )
        )
    for k in sorted(after.keys() & before.keys()):
        if matching.norm_then(before[k].reason) != matching.norm_now(after[k].reason):
            changes.append(
                Change(
                    TOPIC.id,
                    after[k].resources[0] if after[k].resources else after[k].construct_path,
                    "changed",
                    f"reason of {after[k].finding} on {after[k].construct_path}: {after[k].reason}",
                    level=REVIEW,
                    type="acknowledgment",
                )
            )
    return changes


def render_acknowledgments(facts: AcknowledgmentFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    acks = Section("acknowledgments-section", "Acknowledged findings")
    acks.add(
        Paragraph(
            f"{len(facts.acknowledgments)} acknowledgments, as the compliance gate recorded them ({GATE_RESULT_FILE}). "
            "CDK records each cdk.Validations acknowledgment as construct metadata of type aws:cdk:acknowledged-rules "
            "on the acknowledging construct; it covers that construct and its children, listed as Resources. Red "
            "flags elsewhere in this pack link to the row of the acknowledgment that explains them."
            if facts.recorded
            else f"The compliance gate's result ({GATE_RESULT_FILE}) is missing: acknowledgments cannot be listed.",
            flag=None if facts.recorded else BAD,
        )
    )
    table = Table(
        "acknowledgments",
        ["Pack", "Finding", "Construct", "Resources", "Reason"],
        empty="No acknowledged finding.",
    )
    for ack in facts.acknowledgments:
        table.add(
            [
                cell(ack.finding.split("-", 1)[0] if "-" in ack.finding else ack.finding.split("::", 1)[0]),
                code(ack.finding),
                code(ack.construct_path),
                code(
                    "\n".join(ack.resources) or "no resource under this construct",
                    flag=None if ack.resources else WARN,
                ),
                cell(ack.reason, flag=BAD if len(ack.reason.strip()) < MIN_REASON else None),
            ],
            anchor=acknowledgment_anchor(ack),
        )
    acks.add(table)
    section.add(acks)

    ignores = Section("lint-ignores-section", "Ignored cfn-lint checks")
    ignores.add(
        Paragraph(
            "Each check a template tells cfn-lint to skip (Metadata cfn-lint.config.ignore_checks), with the reason "
            "recorded next to it (bedrock-platform:cfn-lint), as the gate found them when it ran cfn-lint."
        )
    )
    table = Table(
        "lint-ignores", ["Stack", "Resource", "Check", "Reason"], empty="No cfn-lint check is ignored."
    )
    for item in facts.lint_ignores:
        table.add(
            [
                code(item.stack),
                code(item.resource),
                code(item.check),
                cell(
                    item.reason or "no reason recorded",
                    flag=None if item.reason else BAD,
                    badge="" if item.reason else "NO REASON",
                ),
            ]
        )
    ignores.add(table)
    section.add(ignores)
    return section


def _reasons(facts: AcknowledgmentFacts) -> tuple[str, str]:
    if not facts.recorded:
        return "NOT RUN", "the compliance gate's result is missing"
    short = [
        f"{a.construct_path} {a.finding}" for a in facts.acknowledgments if len(a.reason.strip()) < MIN_REASON
    ]
    unexplained = [f"{i.resource} {i.check}" for i in facts.lint_ignores if not i.reason]
    return verdict(
        [f"{s}: reason too short" for s in short] + [f"{u}: no reason" for u in unexplained],
        f"{len(facts.acknowledgments)} acknowledgments and {len(facts.lint_ignores)} cfn-lint ignores, each with a reason",
    )


class AcknowledgmentsTopic(Topic[AcknowledgmentFacts]):
    id = "acknowledgments"
    title = "Acknowledgments and ignored checks"

    def extract(self, env: Environment) -> AcknowledgmentFacts:
        return AcknowledgmentFacts(env.gate.ran, env.gate.acknowledgments, env.gate.lint_ignores)

    def diff(self, now: AcknowledgmentFacts, then: AcknowledgmentFacts, matching: Matching) -> list[Change]:
        return diff_acknowledgments(now, then, matching)

    def render(self, facts: AcknowledgmentFacts, ctx: RenderContext) -> Section:
        return render_acknowledgments(facts, ctx)

    def counts(self, facts: AcknowledgmentFacts) -> list[tuple[str, str]]:
        return [
            (
                "Acknowledgments",
                f"{len(facts.acknowledgments)} findings acknowledged, {len(facts.lint_ignores)} cfn-lint checks ignored",
            )
        ]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "ACKNOWLEDGMENT-REASONS": EvidenceCheck(
                "every acknowledgment and ignore states a reason", _reasons
            )
        }


TOPIC = AcknowledgmentsTopic()
