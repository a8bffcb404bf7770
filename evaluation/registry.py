"""The release registry: ``evals/registry/<target>.jsonl``, one :class:`ReleaseRecord` per line.

``python -m evaluation record`` appends what a run measured after a release to ``<target>`` (an
environment's name, or ``offline`` for ``make eval``); the gate compares every later run of the same
target with the last line. The files are committed: the history of what ran where is reviewed like code.
A suite the last line measured leaves the baseline only through a record that names it (``removed``,
``record --removed`` with a ``note``): until then every run of the target without it fails its gate.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path

from platform_config.checkout import revision
from platform_config.model import PlatformConfig
from platform_spec.evaluation import (
    OFFLINE_TARGET,
    REGISTRY_DIR,
    ReleaseRecord,
    RunResult,
    SuiteScore,
    UseCaseRelease,
)
from platform_spec.fields import SpecError, from_dict, to_dict


def registry_path(root: Path, target: str) -> Path:
    return root / REGISTRY_DIR / f"{target}.jsonl"


def read_records(root: Path, target: str) -> list[ReleaseRecord]:
    """Every record of ``target``, oldest first; a malformed line stops with its file and line."""
    path = registry_path(root, target)
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(from_dict(ReleaseRecord, json.loads(line), where="record"))
        except (ValueError, SpecError) as exc:
            raise ValueError(
                f"{path.relative_to(root) if path.is_relative_to(root) else path}:{number}: not a release record "
                f"({exc}). Fix: restore the line from git; records are only ever appended"
            ) from exc
    return records


def last_record(root: Path, target: str) -> ReleaseRecord | None:
    records = read_records(root, target)
    return records[-1] if records else None


def git_state(root: Path) -> tuple[str, bool]:
    """(commit, whether the files differ from it, untracked files included: a run of a new use case not yet
    committed did not measure HEAD); ("unknown", True) where neither git nor the pipeline's SOURCE_COMMIT
    says (``platform_config.checkout.revision``)."""
    found = revision(root)
    return found.commit, found.changed


def missing_suites(config: PlatformConfig, run: RunResult) -> list[str]:
    """``<use case>/<suite>`` of every suite the run's target evaluates that the run did not run: every
    evaluated use case offline, those enabled in the environment otherwise."""
    enabled = (
        set(config.evaluations)
        if run.target == OFFLINE_TARGET
        else {c.id for c in config.contracts_for(run.target)}
    )
    return [
        f"{uc}/{name}"
        for uc, evaluation in sorted(config.evaluations.items())
        if uc in enabled
        for name in sorted(evaluation.suites)
        if name not in (run.use_cases[uc].suites if uc in run.use_cases else {})
    ]


def acknowledged_removals(given: Sequence[str], gone: Collection[str]) -> tuple[tuple[str, ...], list[str]]:
    """The suites of ``gone`` (``<use case>/<suite>``) that ``record --removed`` names (``<use case>/<suite>``,
    or ``<use case>`` for every suite of it), sorted; and every name in ``given`` that matches none."""
    matched = {g: [name for name in gone if g in (name, name.split("/", 1)[0])] for g in given}
    return (
        tuple(sorted({name for names in matched.values() for name in names})),
        [g for g, names in matched.items() if not names],
    )


def record_from_run(run: RunResult, *, note: str = "", removed: tuple[str, ...] = ()) -> ReleaseRecord:
    return ReleaseRecord(
        target=run.target,
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        commit=run.commit,
        dirty=run.dirty,
        note=note,
        removed=removed,
        use_cases={
            uc: UseCaseRelease(
                provenance=result.provenance,
                suites={
                    name: SuiteScore(
                        pass_rate=suite.pass_rate,
                        ci_low=suite.ci_low,
                        ci_high=suite.ci_high,
                        cases=suite.cases,
                        scorers={scorer: summary.pass_rate for scorer, summary in suite.scorers.items()},
                        failed_cases=tuple(c.id for c in suite.case_results if not c.passed),
                        epochs=suite.epochs,
                        epochs_needed=suite.epochs_needed,
                    )
                    for name, suite in result.suites.items()
                },
            )
            for uc, result in run.use_cases.items()
        },
    )


def append_record(root: Path, record: ReleaseRecord) -> Path:
    path = registry_path(root, record.target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(to_dict(record), sort_keys=True) + "\n")
    return path
