"""The review pack, built once per session from the infra tests' synthesized assembly (no second synth), and
from the compliance gate's result that synth wrote (no check runs again)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from compliance.assembly import load_assembly
from compliance.report.build import Report, ReportMeta, build_reports, write_reports
from compliance.report.topic import Topic
from compliance.report.topics import TOPICS
from compliance.report.topics.evaluation import EvaluationTopic
from evaluation.__main__ import main as evaluation_main
from tests.support.synth import ROOT, Synthesized

ENVIRONMENTS = ("Dev", "Prod", "Staging")
#: What the header says (a fixed date: no test reads the clock).
META = ReportMeta(
    commit="0123456789abcdef0123456789abcdef01234567", generated=datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
)


#: The use case and suite the session's offline evaluation runs (``evaluation_results``): the first contract's
#: adversarial suite. The packs' quality-gate evidence is NOT RUN for every other suite they deploy.
EVALUATED = (min(p.stem for p in (ROOT / "contracts").glob("*.yaml")), "adversarial")


@pytest.fixture(scope="session")
def evaluation_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An offline evaluation run of this session (one suite of the first contract, through the real handler
    and the emulator, ~1 s): the pack's Evaluation topic reads it, not whatever eval-results/ a `make eval`
    left in the checkout, so the pack's tests pass the same with or without an earlier run."""
    out = tmp_path_factory.mktemp("eval-results")
    use_case, suite = EVALUATED
    code = evaluation_main(
        ["--root", str(ROOT), "run", "--out", str(out), "--use-case", use_case, "--suite", suite]
    )
    assert code == 0, f"the offline evaluation of {use_case} failed its gate (exit {code})"
    return out / "results.json"


@pytest.fixture(scope="session")
def topics(evaluation_results: Path) -> tuple[Topic[Any], ...]:
    """The pack's topics, the Evaluation topic reading :func:`evaluation_results`."""
    return tuple(
        EvaluationTopic(results=evaluation_results) if isinstance(t, EvaluationTopic) else t for t in TOPICS
    )


@pytest.fixture(scope="session")
def reports(synthesized: Synthesized, topics: tuple[Topic[Any], ...]) -> dict[str, Report]:
    """Every environment's report, each compared with Staging of the same assembly."""
    return build_reports(synthesized.outdir, against_env="Staging", meta=META, topics=topics)


@pytest.fixture(scope="session")
def example_reports(
    synthesized: Synthesized,
    example_synthesized: Synthesized,
    reports: dict[str, Report],
    topics: tuple[Topic[Any], ...],
) -> dict[str, Report]:
    """:func:`reports` of the examples' app (``example_synthesized``): ``reports`` itself while the
    repository ships every example. For the tests of what the pack says about one example's feature."""
    if example_synthesized is synthesized:
        return reports
    return build_reports(example_synthesized.outdir, against_env="Staging", meta=META, topics=topics)


@pytest.fixture(scope="session")
def report_dir(reports: dict[str, Report], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("review-pack")
    write_reports(reports, out, outside_assembly=True)
    return out


@pytest.fixture
def assembly_copy(synthesized: Synthesized, tmp_path: Path) -> Path:
    """A private copy of the synthesized assembly that a test may mutate."""
    target = tmp_path / "cdk.out"
    shutil.copytree(synthesized.outdir, target)
    return target


@pytest.fixture
def example_assembly_copy(example_synthesized: Synthesized, tmp_path: Path) -> Path:
    """A private copy of the examples' assembly (``example_synthesized``) that a test may mutate: for the
    tests that change one example's resources (policy-qa's guardrail and profiles)."""
    target = tmp_path / "cdk.out"
    shutil.copytree(example_synthesized.outdir, target)
    return target


Mutation = Callable[[dict[str, Any]], None]


def mutate_template(assembly: Path, stack_name: str, mutation: Mutation) -> None:
    """Apply ``mutation`` to the template of ``stack_name`` in ``assembly``, in place."""
    (stack,) = [s for s in load_assembly(assembly) if s.name == stack_name]
    template = json.loads(stack.path.read_text(encoding="utf-8"))
    mutation(template)
    stack.path.write_text(json.dumps(template, indent=1), encoding="utf-8")


def rename_logical_id(assembly: Path, stack_name: str, old: str, new: str) -> None:
    """Give a resource another logical ID, in the template and in the stack's construct metadata, as a
    synth would after a construct ID change or an ``override_logical_id``."""
    mutate_template(assembly, stack_name, lambda t: t["Resources"].__setitem__(new, t["Resources"].pop(old)))
    for metadata_file in assembly.glob("assembly-*/*.metadata.json"):
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
        changed = False
        for entries in metadata.values():
            for entry in entries:
                if entry.get("type") == "aws:cdk:logicalId" and entry.get("data") == old:
                    entry["data"] = new
                    changed = True
        if changed:
            metadata_file.write_text(json.dumps(metadata), encoding="utf-8")


def text_delivery_on(template: dict[str, Any], calls: tuple[str, ...] = ("Create",)) -> None:
    """A mutation: Bedrock's account-wide invocation logging delivers prompt and response text (set by the
    custom resource's ``calls``: Create on the first deploy, Update on later ones)."""
    for resource in template["Resources"].values():
        if resource["Type"] != "Custom::BedrockModelInvocationLogging":
            continue
        for call in calls:
            parts = resource["Properties"][call]["Fn::Join"][1]
            parts[:] = [
                p.replace('"textDataDeliveryEnabled":false', '"textDataDeliveryEnabled":true')
                if isinstance(p, str)
                else p
                for p in parts
            ]


@pytest.fixture(scope="session")
def example_report_dir(
    example_reports: dict[str, Report],
    reports: dict[str, Report],
    report_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """:func:`report_dir` of the examples' app (``example_reports``): ``report_dir`` itself while the
    repository ships every example."""
    if example_reports is reports:
        return report_dir
    out = tmp_path_factory.mktemp("example-review-pack")
    write_reports(example_reports, out, outside_assembly=True)
    return out
