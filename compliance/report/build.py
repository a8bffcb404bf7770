"""Build the review pack of each environment: topics -> document -> HTML and Markdown files.

The document is: a header (environment, commit, date, the versions of the tools that synthesized and
checked the assembly), the one-screen summary (verdict, counts, red flags), the release diff when a
baseline is given, then one section per topic of the registry (:data:`compliance.report.topics.TOPICS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from compliance.gate_result import read_gate_result
from compliance.report.changes import EnvironmentDiff, changes_section, compare
from compliance.report.document import Document, Paragraph, Section, render_html, render_markdown
from compliance.report.environment import Environment, load_environment, load_environments
from compliance.report.summary import RedFlag, link_red_flags, summary_section
from compliance.report.topic import RenderContext, Topic
from compliance.report.topics import TOPICS

F = TypeVar("F")

#: The tools whose versions the header names, as the gate records them.
HEADER_TOOLS = ("aws-cdk-lib", "cdk-nag", "cfn-lint", "aws-cdk CLI", "constructs", "python")


@dataclass(frozen=True)
class ReportMeta:
    """What the header says about the report itself (the CLI fills it; see ``__main__``)."""

    commit: str = "not given (pass --commit, or run the report command in the git checkout)"
    generated: datetime | None = None


@dataclass
class Report:
    environment: Environment
    changes: EnvironmentDiff | None
    document: Document
    red_flags: list[RedFlag]

    def facts(self, topic: Topic[F]) -> F:
        """``topic``'s extract of this environment."""
        return self.environment.extract(topic)

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
    against_label: str | None = None,
    meta: ReportMeta | None = None,
    topics: Sequence[Topic[Any]] = TOPICS,
) -> dict[str, Report]:
    """One report per environment of ``assembly`` (all of them unless ``environments`` names some).

    ``against`` (another assembly) and/or ``against_env`` (another environment) add the changes from
    that baseline: each environment is compared with ``against_env`` (default: itself) in ``against``
    (default: the same assembly), which the pack names by ``against_label`` (default: its path: a release
    step downloads the last release to a temporary folder, which means nothing to a reader). The baseline
    environment itself gets no comparison with itself.
    Reads the assemblies only: nothing is written (see :func:`write_reports`) and no check runs again.
    """
    assembly = Path(assembly)
    available = load_environments(assembly)
    selected = list(environments) if environments else sorted(available)
    unknown = [env for env in selected if env not in available]
    if unknown:
        raise KeyError(
            f"no environment {', '.join(unknown)} in {assembly} (it has: {', '.join(sorted(available))})"
        )
    gate = read_gate_result(assembly)
    baseline_dir = Path(against) if against is not None else assembly
    baseline_gate = gate if baseline_dir == assembly else read_gate_result(baseline_dir)
    reports = {}
    for name in selected:
        env = load_environment(assembly, name, topics=topics, stacks=available[name], gate=gate)
        changes = None
        label = baseline_label(
            against_label or (Path(against) if against is not None else None), against_env, name
        )
        if against is not None or against_env is not None:
            baseline_env = against_env or name
            if not (baseline_dir == assembly and baseline_env == name):
                baseline = load_environment(baseline_dir, baseline_env, topics=topics, gate=baseline_gate)
                changes = compare(env, baseline)
        document, flags = document_for(env, changes, label, meta or ReportMeta())
        reports[name] = Report(env, changes, document, flags)
    return reports


def baseline_label(against: Path | str | None, against_env: str | None, env: str) -> str:
    """``against``: the baseline assembly's path (a Path) or the words that name it (a str)."""
    where = (
        "this assembly"
        if against is None
        else f"the assembly at {against}"
        if isinstance(against, Path)
        else str(against)
    )
    return f"environment {against_env or env} of {where}"


def header(
    env: Environment, changes: EnvironmentDiff | None, baseline: str, meta: ReportMeta
) -> list[tuple[str, str]]:
    tools = env.gate.tools
    versions = (
        ", ".join(f"{tool} {tools.get(tool) or 'not recorded'}" for tool in HEADER_TOOLS)
        if env.gate.ran
        else "unknown: the compliance gate's result is missing (synth did not run the gate)"
    )
    rows = [
        (
            "Environment",
            f"{env.name}: " + ", ".join(f"{s.name} (account {s.account}, {s.region})" for s in env.stacks),
        ),
        ("Commit", meta.commit),
        ("Generated", meta.generated.isoformat(timespec="seconds") if meta.generated else "not given"),
        ("Assembly", str(env.assembly)),
        ("Tools (as the gate recorded them at synth)", versions),
    ]
    if changes is not None:
        rows.append(("Compared with", baseline))
    return rows


def document_for(
    env: Environment, changes: EnvironmentDiff | None, baseline: str, meta: ReportMeta
) -> tuple[Document, list[RedFlag]]:
    intro = [
        Paragraph(
            f"Built from the synthesized cloud assembly {env.assembly}: the templates, construct metadata and "
            "staged assets CloudFormation would deploy, not the configuration they came from, and the compliance "
            "gate's result of that synth (nothing is checked again here)."
        ),
        Paragraph(
            "Markers: 'attention' (red) needs a reviewer's decision, 'review' (amber) deserves a look, "
            "'ok' (green) is the expected state. Rows with a marker can be shown alone with the checkbox "
            "above (HTML only)."
        ),
    ]
    sections: list[Section] = []
    if changes is not None:
        sections.append(changes_section(changes, baseline))
    for topic in env.topics:
        sections.append(topic.render(env.extract(topic), RenderContext(env, list(sections))))
    document = Document(
        f"Compliance review pack: {env.name}", intro, sections, header(env, changes, baseline, meta)
    )
    flags = link_red_flags(document, env.gate.acknowledgments)
    document.sections.insert(0, summary_section(env, flags, changes, baseline))
    return document, flags


def write_reports(
    reports: dict[str, Report], out_dir: Path | str, *, outside_assembly: bool = False
) -> list[Path]:
    """Write ``<Env>.html`` and ``<Env>.md`` of every report into ``out_dir``, the only files the review pack
    writes. ``out_dir`` must be inside the assembly the reports are about (so ``make clean`` and the next
    synth replace it with the assembly), never inside a baseline assembly; ``outside_assembly`` allows any
    other place, explicitly."""
    out = Path(out_dir)
    for report in reports.values():
        check_out_dir(out, report.environment.assembly, outside_assembly=outside_assembly)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for env, report in reports.items():
        for suffix, text in ((".html", report.html()), (".md", report.markdown())):
            path = out / f"{env}{suffix}"
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def check_out_dir(
    out: Path, assembly: Path, *, baselines: Sequence[Path] = (), outside_assembly: bool = False
) -> None:
    """Refuse an output directory outside ``assembly`` (unless ``outside_assembly``) or inside a baseline."""
    target = out.resolve()
    for baseline in baselines:
        if baseline.resolve() != assembly.resolve() and target.is_relative_to(baseline.resolve()):
            raise ValueError(
                f"--out {out} is inside the baseline assembly {baseline}: the review pack never writes into the "
                f"assembly it compares with. Fix: --out {assembly / 'review-pack'}"
            )
    if not outside_assembly and not target.is_relative_to(assembly.resolve()):
        raise ValueError(
            f"--out {out} is outside the assembly {assembly}: the review pack writes only under the assembly it "
            f"reviews, so it is replaced with it. Fix: --out {assembly / 'review-pack'}, or pass "
            "--out-outside-assembly to write there on purpose"
        )
