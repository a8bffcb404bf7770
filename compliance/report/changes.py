"""The release diff: what changed from a baseline environment to the current one, by use case, each change
classified by what it means to a reviewer.

Every topic compares its own extracts (``Topic.diff``) over one pairing of the resources
(:mod:`compliance.report.matching`) and says how urgent each change is. This module puts them together:

- each change is given to a use case (its resource's ``use-case`` tag or logical-ID prefix), or to the
  platform's shared resources;
- a use case that is new (or gone) is one change that needs attention, listing the resources it adds (or
  removes), instead of one "added" line per alarm, profile and budget; what else changed in it (a new
  guardrail, permissions to invoke its profiles, its deployed configuration) stays listed under it;
- the section shows new use cases first, then use cases no longer deployed, then changed use cases, then
  the platform, each change marked "needs attention", "review" or "routine".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from compliance.report.document import BAD, OK, WARN, Cell, Paragraph, Section, Table, anchor_id, cell, code
from compliance.report.environment import Environment
from compliance.report.matching import match
from compliance.report.topic import ATTENTION, LEVELS, REVIEW, ROUTINE, Change

#: The topic id of the changes this module makes itself (a new or a removed use case).
USE_CASES = "use-cases"
#: A change listing more resources than this folds them.
FOLD_AFTER = 4


@dataclass
class EnvironmentDiff:
    current: str
    baseline: str
    cross_environment: bool
    changes: list[Change] = field(default_factory=list)
    new_use_cases: list[str] = field(default_factory=list)
    removed_use_cases: list[str] = field(default_factory=list)

    def topic(self, topic_id: str) -> list[Change]:
        return [c for c in self.changes if c.topic == topic_id]

    def level(self, level: str) -> list[Change]:
        return [c for c in self.changes if c.level == level]

    def of_use_case(self, use_case: str) -> list[Change]:
        """The changes of one use case ("" for the platform's shared resources), most urgent first."""
        return sorted(
            (c for c in self.changes if c.use_case == use_case),
            key=lambda c: (LEVELS.index(c.level), not c.stateful, c.topic != USE_CASES, c.subject, c.detail),
        )

    @property
    def groups(self) -> list[str]:
        """Use cases with changes, in the order a reviewer reads them ("" last: the platform)."""
        changed = sorted(
            {c.use_case for c in self.changes if c.use_case} - {*self.new_use_cases, *self.removed_use_cases}
        )
        platform = [""] if any(not c.use_case for c in self.changes) else []
        return [*self.new_use_cases, *self.removed_use_cases, *changed, *platform]

    def counts(self) -> dict[str, int]:
        found = Counter(c.level for c in self.changes)
        return {level: found.get(level, 0) for level in LEVELS}


def _fold(changes: list[Change], use_case: str, kind: str) -> list[Change]:
    """One change for a new (``kind`` added) or gone (removed) use case, folding the resource-level additions
    or removals that are only that: the rest (anything that needs attention on its own) stays."""
    folded = [c for c in changes if c.use_case == use_case and c.kind == kind and c.level != ATTENTION]
    folded_ids = {id(c) for c in folded}
    types = Counter(c.type for c in folded)
    summary = ", ".join(f"{n} {t.removeprefix('AWS::')}" for t, n in sorted(types.items()))
    detail = (
        f"new use case {use_case}: {len(folded)} new resources" + (f" ({summary})" if summary else "")
        if kind == "added"
        else f"use case {use_case} is no longer deployed here: {len(folded)} resources removed"
        + (f" ({summary})" if summary else "")
    )
    head = Change(
        USE_CASES,
        use_case,
        kind,
        detail,
        level=ATTENTION,
        type="use case",
        use_case=use_case,
        items=tuple(sorted(f"{c.subject} ({c.type})" for c in folded)),
    )
    return [head, *(c for c in changes if id(c) not in folded_ids)]


def compare(
    current: Environment, baseline: Environment, *, cross_environment: bool | None = None
) -> EnvironmentDiff:
    """What changed from ``baseline`` to ``current``, for every topic of ``current``.

    ``cross_environment`` (default: the environments' names differ) pairs resources by construct path
    when logical IDs differ and normalizes environment-specific values."""
    matching = match(current, baseline, cross_environment=cross_environment)
    changes: list[Change] = []
    for topic in current.topics:
        changes.extend(topic.diff(current.extract(topic), baseline.extract(topic), matching))
    filled = []
    for change in changes:
        resource = current.by_id.get(change.subject) or baseline.by_id.get(change.subject)
        filled.append(
            replace(
                change,
                type=change.type or (resource.type if resource else ""),
                use_case=change.use_case or matching.use_case_of(change.subject),
            )
        )
    result = EnvironmentDiff(
        current.name,
        baseline.name,
        matching.cross_environment,
        filled,
        new_use_cases=sorted(set(current.use_cases) - set(baseline.use_cases)),
        removed_use_cases=sorted(set(baseline.use_cases) - set(current.use_cases)),
    )
    for use_case in result.new_use_cases:
        result.changes = _fold(result.changes, use_case, "added")
    for use_case in result.removed_use_cases:
        result.changes = _fold(result.changes, use_case, "removed")
    return result


_LEVEL_FLAG = {ATTENTION: BAD, REVIEW: WARN, ROUTINE: OK}


def _level_cell(change: Change) -> Cell:
    flag = _LEVEL_FLAG[change.level]
    return cell(change.level, flag=flag, badge=change.level.upper() if flag == BAD else "")


def group_title(diff: EnvironmentDiff, use_case: str) -> str:
    if not use_case:
        return "Platform (resources shared by every use case)"
    if use_case in diff.new_use_cases:
        return f"Use case {use_case} (new)"
    if use_case in diff.removed_use_cases:
        return f"Use case {use_case} (no longer deployed)"
    return f"Use case {use_case}"


def changes_section(diff: EnvironmentDiff, baseline: str) -> Section:
    section = Section("changes", f"Changes against {baseline}")
    counts = diff.counts()
    section.add(
        Paragraph(
            f"Only what differs between {diff.current} and {baseline}"
            + (
                " (a different environment: resources are matched by logical ID, else by construct path, "
                "and environment-specific names, accounts and stack prefixes are normalized)"
                if diff.cross_environment
                else " (resources matched by logical ID)"
            )
            + f": {len(diff.changes)} changes, "
            + ", ".join(f"{counts[level]} {level}" for level in LEVELS)
            + ". Grouped by use case; within a group the changes that need a reviewer's decision come first "
            "(a new or removed use case, any guardrail change, a change of prompt logging, wider access with a "
            "wildcard, a stateful resource replaced or removed, weaker protection)."
        )
    )
    if not diff.changes:
        section.add(Paragraph("No change."))
    for use_case in diff.groups:
        key = use_case or "platform"
        sub = Section(anchor_id("changes", key), group_title(diff, use_case))
        table = Table(anchor_id("changes", key, "table"), ["Meaning", "Change", "Resource", "Type", "Detail"])
        for n, change in enumerate(diff.of_use_case(use_case), 1):
            detail = "\n".join([change.detail, *change.items])
            table.add(
                [
                    _level_cell(change),
                    cell(change.kind.upper() if change.level == ATTENTION else change.kind),
                    code(change.subject),
                    code(change.type),
                    cell(
                        detail,
                        badge="WILDCARD" if change.wildcard else "",
                        flag=BAD if change.wildcard else None,
                        collapse=FOLD_AFTER if change.items else 0,
                    ),
                ],
                anchor=anchor_id("change", key, str(n)),
                subjects=[change.subject],
                label=f"{change.kind} {change.subject}: {change.detail}",
            )
        sub.add(table)
        section.add(sub)
    return section
