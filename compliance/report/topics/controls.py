"""The control mapping: which evidence checks back which AWS Well-Architected Generative AI Lens best practices
and OWASP Top 10 for LLM Applications (2025) risks, and what is not covered (``controls.yaml``, reviewed like
code), with each check's result in this environment.

The evidence checks are not defined here: every topic offers its own (``Topic.evidence()``, run on that
topic's extract), so a topic added to the registry can give evidence that ``controls.yaml`` then cites.
Each returns PASS, FAIL, NOT RUN or NOT APPLICABLE with the reason; a control's result leaves out the
evidence that does not apply (NOT APPLICABLE when none applies).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.report.document import BAD, NA, OK, WARN, Paragraph, Section, Table, cell, code, status
from compliance.report.environment import Environment
from compliance.report.topic import FAIL, NOT_APPLICABLE, NOT_RUN, PASS, EvidenceCheck, RenderContext, Topic
from platform_config.documents import load_yaml

CONTROLS_FILE = Path(__file__).resolve().parents[1] / "controls.yaml"
COVERAGE = ("covered", "partial", "not covered", "not applicable")
FRAMEWORKS = (
    (
        "genai_lens",
        "AWS Well-Architected Generative AI Lens",
        "Confirmed 'aws-docs': id and title read on the AWS lens page; 'lens-text': read in copies of the lens "
        "text citing that page.",
    ),
    ("owasp_llm_2025", "OWASP Top 10 for LLM Applications (2025)", ""),
)


@dataclass(frozen=True)
class Evidence:
    id: str
    status: str
    detail: str
    what: str = ""


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
        if statuses == {NOT_APPLICABLE}:
            return NOT_APPLICABLE
        if FAIL in statuses:
            return FAIL
        if NOT_RUN in statuses:
            return NOT_RUN
        return PASS


@dataclass(frozen=True)
class ControlFacts:
    results: tuple[ControlResult, ...]
    evidence: dict[str, Evidence]
    unconfirmed: tuple[str, ...]


def evidence_checks(topics: Iterable[Topic[Any]]) -> dict[str, tuple[Topic[Any], EvidenceCheck]]:
    """Every evidence check the topics offer, by id. Raises ValueError when two topics offer the same id."""
    found: dict[str, tuple[Topic[Any], EvidenceCheck]] = {}
    for topic in topics:
        for evidence_id, check in topic.evidence().items():
            if evidence_id in found:
                raise ValueError(
                    f"evidence id {evidence_id} is offered by topics {found[evidence_id][0].id!r} and {topic.id!r}: "
                    "rename one (controls.yaml cites evidence by id)"
                )
            found[evidence_id] = (topic, check)
    return found


def evaluate_evidence(env: Environment) -> dict[str, Evidence]:
    """Every evidence check of ``env``'s topics, run on that topic's extract of ``env``."""
    results = {}
    for evidence_id, (topic, check) in evidence_checks(env.topics).items():
        result, detail = check.run(env.extract(topic))
        results[evidence_id] = Evidence(evidence_id, result, detail, check.what)
    return results


def load_controls(path: Path = CONTROLS_FILE, known: Sequence[str] | None = None) -> list[Control]:
    """The mapping, validated: evidence ids that a topic offers (``known``; default: the registry's),
    known coverage values, unique ids."""
    if known is None:
        from compliance.report.topics import TOPICS

        known = list(evidence_checks(TOPICS))
    data = load_yaml(path.read_text(encoding="utf-8"))
    controls: list[Control] = []
    problems: list[str] = []
    for framework, _, _ in FRAMEWORKS:
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
            unknown = [e for e in control.evidence if e not in known]
            if unknown:
                problems.append(f"{control.id}: unknown evidence {unknown} (no topic offers it)")
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
    return [str(item) for item in load_yaml(path.read_text(encoding="utf-8")).get("unconfirmed") or []]


def render_controls(facts: ControlFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    section.add(
        Paragraph(
            "From compliance/report/controls.yaml (reviewed like code). Coverage is the claim the mapping makes; "
            "Result is whether the cited evidence passes in this assembly. A passing result never upgrades a "
            "partial or missing coverage."
        )
    )
    for framework, title, intro in FRAMEWORKS:
        sub = Section(f"controls-{framework}", title)
        if intro:
            sub.add(Paragraph(intro))
        columns = ["Id", "Title"] + (["Confirmed"] if framework == "genai_lens" else [])
        table = Table(
            f"controls-{framework.replace('_', '-')}",
            [*columns, "Coverage", "Evidence", "Result", "How", "Gaps"],
        )
        for result in facts.results:
            control = result.control
            if control.framework != framework:
                continue
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
            table.add(row)
        sub.add(table)
        section.add(sub)
    if facts.unconfirmed:
        section.add(
            Paragraph(
                "Lens ids not used because they could not be confirmed: " + "; ".join(facts.unconfirmed) + "."
            )
        )
    checks = Table(
        "controls-evidence",
        ["Evidence", "What it checks", "Result", "Detail"],
        caption="Every evidence check, in this assembly",
    )
    for evidence_id, item in facts.evidence.items():
        checks.add([code(evidence_id), cell(item.what), status(item.status), cell(item.detail)])
    section.add(checks)
    return section


class ControlsTopic(Topic[ControlFacts]):
    id = "controls"
    title = "Control mapping"

    def extract(self, env: Environment) -> ControlFacts:
        evidence = evaluate_evidence(env)
        controls = load_controls(known=list(evidence))
        return ControlFacts(
            tuple(ControlResult(c, tuple(evidence[e] for e in c.evidence)) for c in controls),
            evidence,
            tuple(unconfirmed_lens_ids()),
        )

    def render(self, facts: ControlFacts, ctx: RenderContext) -> Section:
        return render_controls(facts, ctx)

    def counts(self, facts: ControlFacts) -> list[tuple[str, str]]:
        coverage = {c: sum(1 for r in facts.results if r.control.coverage == c) for c in COVERAGE}
        failing = sum(1 for e in facts.evidence.values() if e.status not in (PASS, NOT_APPLICABLE))
        not_applicable = sum(1 for e in facts.evidence.values() if e.status == NOT_APPLICABLE)
        return [
            (
                "Controls mapped",
                f"{len(facts.results)}: "
                + ", ".join(f"{n} {c}" for c, n in coverage.items() if n)
                + f"; {failing} evidence check{'' if failing == 1 else 's'} not passing"
                + (f", {not_applicable} not applicable" if not_applicable else ""),
            )
        ]


TOPIC = ControlsTopic()
