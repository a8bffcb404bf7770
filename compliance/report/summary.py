"""The one-screen summary at the top of each review pack, and the links from every red flag to the
acknowledgment that explains it.

A red flag is a row some section marked "attention" (a BAD cell): an unrestricted wildcard, a region
wildcard, a change that needs a decision, a failed check. Each such row gets an anchor; the acknowledgments
recorded on the row's resources (``Row.subjects``) whose finding id matches what the row is about
(``Row.findings``, e.g. ``IAM5[Resource::*]``) are linked from the flagged cell and from the summary.
When none matches, the summary says so, and links the other acknowledgments of those resources, if any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from compliance.gate_result import Acknowledgment
from compliance.report.changes import EnvironmentDiff
from compliance.report.document import (
    BAD,
    OK,
    Document,
    Link,
    Paragraph,
    Row,
    Section,
    Table,
    anchor_id,
    cell,
)
from compliance.report.environment import Environment
from compliance.report.topic import ATTENTION, LEVELS, acknowledgment_anchor

#: The summary lists this many red flags, then says how many more there are.
MAX_RED_FLAGS = 8
_LABEL = 60


@dataclass(frozen=True)
class RedFlag:
    section: str  # title of the section the row is in
    label: str  # what the row is about (its first cell)
    flag: str  # what is flagged (the badge, else the flagged text)
    anchor: str
    acknowledged: tuple[Acknowledgment, ...]  # the acknowledgments that explain it
    related: tuple[Acknowledgment, ...]  # other acknowledgments on the same resources


def _rule_of(finding: str) -> str:
    """``AwsSolutions-IAM5[Resource::*]`` -> ``IAM5[Resource::*]``; ``BedrockPlatform::RULE`` -> ``RULE``."""
    if "::" in finding.split("[", 1)[0]:
        return finding.split("::", 1)[1]
    return finding.split("-", 1)[1] if "-" in finding.split("[", 1)[0] else finding


def explains(ack: Acknowledgment, finding: str) -> bool:
    """Whether ``ack`` acknowledges ``finding`` (a rule id, or a rule id with its bracketed detail)."""
    rule = _rule_of(ack.finding)
    return rule == finding or ("[" not in finding and rule.startswith(finding + "["))


def _short(text: str) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= _LABEL else first[: _LABEL - 3] + "..."


def link_red_flags(document: Document, acknowledgments: Sequence[Acknowledgment]) -> list[RedFlag]:
    """Anchor every red-flagged row of ``document``, link its flagged cell to the acknowledgments that explain
    it, and return the red flags in document order."""
    flags: list[RedFlag] = []
    for sections, table in document.tables_with_sections():
        for n, row in enumerate(table.rows, 1):
            bad = [i for i, c in enumerate(row) if c.flag == BAD]
            if not bad or not isinstance(row, Row):
                continue
            if not row.anchor:
                row.anchor = anchor_id(table.id, "row", str(n))
            on_subjects = [a for a in acknowledgments if set(a.resources) & set(row.subjects)]
            acknowledged = tuple(a for a in on_subjects if any(explains(a, f) for f in row.findings))
            related = () if acknowledged else tuple(on_subjects)
            first = row[bad[0]]
            if acknowledged:
                row[bad[0]] = replace(
                    first,
                    links=(
                        *first.links,
                        *(Link(f"acknowledged: {a.finding}", acknowledgment_anchor(a)) for a in acknowledged),
                    ),
                )
            flags.append(
                RedFlag(
                    section=sections[-1].title if sections else table.id,
                    label=_short(row.label or row[0].text),
                    flag=first.badge or _short(first.text),
                    anchor=row.anchor,
                    acknowledged=acknowledged,
                    related=related,
                )
            )
    return flags


def _verdict(env: Environment, flags: Sequence[RedFlag], diff: EnvironmentDiff | None) -> Paragraph:
    gate = env.gate
    attention = diff.counts()[ATTENTION] if diff else 0
    review = (
        f"{len(flags)} red flags"
        + (f" ({attention} of them changes that need attention)" if diff else "")
        + " are listed below for a reviewer's decision, each linked to its row and to the acknowledgment that"
        " explains it."
    )
    if gate.problems:
        return Paragraph(
            "Verdict: NOT VERIFIED. "
            + " ".join(gate.problems)
            + " Run make synth, which runs every check. "
            + review,
            flag=BAD,
        )
    if gate.violations or gate.plugin_failures:
        by_plugin = ", ".join(
            f"{plugin} {n}" for plugin, n in sorted(Counter(v.plugin for v in gate.violations).items())
        )
        return Paragraph(
            f"Verdict: FAIL. {len(gate.violations)} unacknowledged findings ({by_plugin or 'a plugin failed'}): "
            "synth refuses this assembly, so it cannot be deployed as it is. " + review,
            flag=BAD,
        )
    return Paragraph(
        f"Verdict: PASS. The compliance gate found no unacknowledged finding in {', '.join(gate.stacks)}: every "
        f"cdk-nag pack, cfn-lint and this project's {len(gate.rules)} rules. " + review,
        flag=OK,
    )


def summary_section(
    env: Environment, flags: Sequence[RedFlag], diff: EnvironmentDiff | None, baseline: str
) -> Section:
    section = Section("summary", "Summary")
    section.add(_verdict(env, flags, diff))
    counts = Table("summary-counts", ["What", "In this environment"])
    for topic in env.topics:
        for what, value in topic.counts(env.extract(topic)):
            counts.add([cell(what), cell(value)])
    if diff is not None:
        by_level = diff.counts()
        counts.add(
            [
                cell(f"Changes against {baseline}"),
                cell(
                    ", ".join(f"{by_level[level]} {level}" for level in LEVELS)
                    + (f"; new use cases: {', '.join(diff.new_use_cases)}" if diff.new_use_cases else "")
                    + (
                        f"; no longer deployed: {', '.join(diff.removed_use_cases)}"
                        if diff.removed_use_cases
                        else ""
                    ),
                    flag=BAD if by_level[ATTENTION] else None,
                ),
            ],
            anchor="summary-changes",
        )
    section.add(counts)
    table = Table(
        "summary-red-flags",
        ["Red flag", "Where", "Acknowledgment"],
        caption=f"Red flags: {len(flags)} rows marked 'attention'",
        empty="No red flag.",
    )
    for flag in flags[:MAX_RED_FLAGS]:
        if flag.acknowledged:
            ack = cell(
                "acknowledged",
                links=[Link(a.finding, acknowledgment_anchor(a)) for a in flag.acknowledged],
            )
        elif flag.related:
            ack = cell(
                "no acknowledgment of this finding; on the same resources:",
                links=[Link(a.finding, acknowledgment_anchor(a)) for a in flag.related[:2]],
            )
        else:
            ack = cell("none: a decision for the reviewer")
        table.add(
            [cell(f"{flag.label}: {flag.flag}", links=[Link("show", flag.anchor)]), cell(flag.section), ack]
        )
    section.add(table)
    if len(flags) > MAX_RED_FLAGS:
        section.add(
            Paragraph(
                f"And {len(flags) - MAX_RED_FLAGS} more red flags: the rows marked 'attention' below (the HTML "
                "checkbox at the top shows only rows that need attention)."
            )
        )
    return section
