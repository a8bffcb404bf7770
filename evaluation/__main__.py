"""``python -m evaluation``: run the suites (offline or against a deployed environment), record a release.

python -m evaluation run                          # make eval: every suite, offline, gated
python -m evaluation run --target staging         # against staging (caller's AWS credentials)
python -m evaluation record --results eval-results/staging/results.json   # after a release
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evaluation.targets import DeployedTarget

PROJECT_ROOT = Path(__file__).resolve().parents[1]

EPILOG = """\
run --target offline (the default, `make eval`): every suite through the real orchestrator handler
in-process against the local Bedrock endpoint, with THE OFFLINE EMULATOR answering (deterministic
model answers recorded per case, guardrail emulated from each contract's policy). It proves the harness,
scorers, gates and reports, and catches a weakened guardrail policy or a system prompt without the
injection-resistance clause; it does not measure the real model or guardrail. Compared with the last
record in evals/registry/offline.jsonl.

run --target <env>: golden suites through the environment's orchestration API (SigV4 with the caller's
credentials; URL from the stack output ApiUrl or --api-url), adversarial suites through ApplyGuardrail on
each use case's deployed guardrail version (stack outputs), the judge through its deployed profile.
Outputs come from --outputs-file (`npx cdk deploy --outputs-file`) or CloudFormation DescribeStacks of
<Env>-Platform. Compared with the last record in evals/registry/<env>.jsonl.

Exit status: 0 every gate passed, 1 a gate failed (each failure printed), 2 bad configuration or usage.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description="Evaluate every use case: golden and adversarial suites, quality gates, the release registry.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--root", type=Path, default=PROJECT_ROOT, help="repository root (default: this checkout)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run suites and apply the quality gates")
    run.add_argument("--target", default="offline", help="offline (default) or an environment name")
    run.add_argument("--use-case", action="append", default=[], help="only this use case (repeatable)")
    run.add_argument("--suite", action="append", default=[], help="only this suite (repeatable)")
    run.add_argument("--out", type=Path, help="results folder (default: eval-results/<target>)")
    run.add_argument("--no-gate", action="store_true", help="report only: exit 0 even if a gate fails")
    run.add_argument("--outputs-file", type=Path, help="deployed: `cdk deploy --outputs-file` JSON")
    run.add_argument("--api-url", help="deployed: the API's URL (default: stack output ApiUrl)")
    run.add_argument("--region", help="deployed: the environment's region (default: environments/<env>.yaml)")
    run.add_argument("--bedrock-endpoint-url", help="deployed: another Bedrock Runtime endpoint (tests)")
    record = commands.add_parser("record", help="append a run's scores to evals/registry/<target>.jsonl")
    record.add_argument("--results", type=Path, required=True, help="a results.json written by `run`")
    record.add_argument("--note", default="", help="what was released (e.g. the deployment id)")
    record.add_argument(
        "--removed",
        action="append",
        default=[],
        metavar="USE_CASE[/SUITE]",
        help="a suite (or every suite of a use case) the last release measured and this run deliberately "
        "no longer has (repeatable; needs --note)",
    )
    record.add_argument(
        "--force", action="store_true", help="record a run whose gate failed, or that left out suites"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # --help answers here, before anything heavy is imported
    os.environ.setdefault("INSPECT_DISPLAY", "none")
    from platform_config import ConfigError, load_platform

    root = args.root.resolve()
    try:
        config = load_platform(root)
    except ConfigError as error:
        print(
            error.report(f"nothing was {'recorded' if args.command == 'record' else 'evaluated'}"),
            file=sys.stderr,
        )
        return 2
    if args.command == "record":
        return _record(args, root, config)
    return _run(args, root, config)


def _record(args: argparse.Namespace, root: Path, config: object) -> int:
    from evaluation.registry import (
        acknowledged_removals,
        append_record,
        last_record,
        missing_suites,
        record_from_run,
        registry_path,
    )
    from evaluation.report import read_results
    from platform_config.model import PlatformConfig
    from platform_spec.fields import SpecError

    assert isinstance(config, PlatformConfig)
    fix = "Fix: python -m evaluation run --target <offline or env> writes it; record that run's results.json"
    try:
        run = read_results(args.results)
    except FileNotFoundError:
        print(f"{args.results}: no such file. {fix}", file=sys.stderr)
        return 2
    except (ValueError, SpecError) as error:  # not JSON, or not a run's results
        print(f"{args.results}: not a results.json of a run ({error}). {fix}", file=sys.stderr)
        return 2
    # The run's gate judged regressions and removed suites against the record it was compared with: if
    # another was recorded since, that judgment was against a baseline that is no longer the last.
    last = last_record(root, run.target)
    latest = last.recorded_at if last is not None else None
    if run.compared_with != latest and not args.force:
        registry = registry_path(root, run.target).relative_to(root)
        print(
            f"{args.results}: this run was compared with the release recorded {run.compared_with or 'never'}, but "
            f"the last record of {run.target} is {latest or 'none'} ({registry}): its gate "
            "judged regressions and removed suites against another baseline. Fix: run it again "
            f"(python -m evaluation run --target {run.target}) and record that run, or pass --force",
            file=sys.stderr,
        )
        return 1
    gone = dict(run.removed_suites)
    if any(m not in gone.values() for m in run.gate_messages) and not args.force:
        print(
            f"{args.results}: this run failed its quality gate; a failing run is not a release. "
            "Fix: release a version that passes, or pass --force to record it anyway",
            file=sys.stderr,
        )
        return 1
    # The gate compares every later run with the last record only: a record of some suites would leave
    # every other suite of the target without a baseline (its max_regression no longer applies).
    missing = missing_suites(config, run)
    if missing and not args.force:
        print(
            f"{args.results}: this run left out {', '.join(missing)}; a release record replaces the baseline "
            f"of every suite of {run.target}, so these would have none. Fix: run every suite "
            f"(python -m evaluation run --target {run.target}, without --use-case or --suite) and record "
            "that run, or pass --force to record this one anyway",
            file=sys.stderr,
        )
        return 1
    acknowledged, unknown = acknowledged_removals(args.removed, gone)
    if unknown:
        print(
            f"--removed {', '.join(unknown)}: this run lost no such suite since the release it was compared with "
            f"(it lost: {', '.join(gone) or 'none'}). Fix: name a suite as <use case>/<suite>, or a use case",
            file=sys.stderr,
        )
        return 2
    kept = [name for name in gone if name not in acknowledged]
    if kept and not args.force:
        print(
            f"{args.results}: this run no longer has {', '.join(kept)}, which the last release measured; "
            "recorded as it is, their baseline would be gone for good. Fix: restore them and run again, or, if "
            f"the removal is intended, record it with {' '.join(f'--removed {name}' for name in kept)} "
            '--note "<why>"',
            file=sys.stderr,
        )
        return 1
    if acknowledged and not args.note.strip():
        print(
            f"--removed {', '.join(args.removed)}: a removal is recorded with the reason for it. "
            'Fix: add --note "<why the suite or use case is gone>"',
            file=sys.stderr,
        )
        return 2
    path = append_record(root, record_from_run(run, note=args.note, removed=acknowledged))
    print(f"recorded {run.target} at {run.commit[:12]} in {path.relative_to(root)}")
    return 0


def _run(args: argparse.Namespace, root: Path, config: object) -> int:
    from evaluation import gate, harness, registry, report
    from evaluation.targets import OfflineTarget
    from platform_config.model import PlatformConfig
    from platform_spec.evaluation import OFFLINE_TARGET, RunResult

    assert isinstance(config, PlatformConfig)
    known = sorted(config.evaluations)
    suites = sorted({name for evaluation in config.evaluations.values() for name in evaluation.suites})
    for flag, given, names, what in (
        ("--use-case", args.use_case, known, "no evaluated use case of that id"),
        ("--suite", args.suite, suites, "no suite of that name"),
    ):
        unknown = [name for name in given if name not in names]
        if unknown:
            print(f"{flag} {', '.join(unknown)}: {what} (known: {', '.join(names)})", file=sys.stderr)
            return 2
    use_cases = args.use_case or known
    evaluated = known  # what the target evaluates: the gate's measure of a removed suite
    if args.target != OFFLINE_TARGET:
        enabled = {c.id for c in config.contracts_for(args.target)}
        if not any(env.name == args.target for env in config.environments):
            print(
                f"--target {args.target}: no environments/{args.target}.yaml; use offline or an environment name",
                file=sys.stderr,
            )
            return 2
        use_cases = [uc for uc in use_cases if uc in enabled]
        evaluated = [uc for uc in known if uc in enabled]
    runs = harness.suite_runs(config, use_cases, args.suite)
    if not runs:
        print("nothing to evaluate: no suite matches the selection", file=sys.stderr)
        return 2
    out = (args.out or root / "eval-results" / args.target).resolve()
    # The previous run's results go now: a run that does not get to write its own (a crash, a kill, a
    # bad registry or deployment) must not leave results.json claiming the previous verdict as the latest.
    (out / report.RESULTS_FILE).unlink(missing_ok=True)
    try:  # before the suites run: a bad registry is a configuration error, not a crash after the run
        last = registry.last_record(root, args.target)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    started = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    if args.target == OFFLINE_TARGET:
        with OfflineTarget(config, use_cases) as offline:
            logs = harness.run_suites(runs, offline, log_dir=out / "logs", live=False)
            results = harness.use_case_results(runs, logs, offline, log_root=out)
        mode = "offline"
    else:
        try:
            target = _deployed_target(args, config, use_cases)
        except (ValueError, OSError) as error:
            print(f"--target {args.target}: {error}", file=sys.stderr)
            return 2
        logs = harness.run_suites(runs, target, log_dir=out / "logs")
        results = harness.use_case_results(runs, logs, target, log_root=out)
        mode = "deployed"
    written = out / report.RESULTS_FILE
    gone = gate.removed(
        results,
        last,
        config.evaluations,
        evaluated,
        use_cases=use_cases,
        suites=args.suite or None,
        results_file=str(written.relative_to(Path.cwd()) if written.is_relative_to(Path.cwd()) else written),
    )
    messages = gate.check(results, config.evaluations, last) + list(gone.values())
    commit, dirty = registry.git_state(root)
    run = RunResult(
        target=args.target,
        mode=mode,  # type: ignore[arg-type]
        commit=commit,
        dirty=dirty,
        started_at=started_at,
        use_cases=results,
        gate_passed=not messages,
        gate_messages=tuple(messages),
        compared_with=last.recorded_at if last else None,
        removed_suites=gone,
    )
    path = report.write_results(run, out)
    print(report.table(run, dict(config.evaluations), last))
    where = f"last release {last.recorded_at} ({last.commit[:12]})" if last else "no release recorded yet"
    print(f"\n{args.target}: {len(runs)} suites in {time.monotonic() - started:.0f} s; compared with {where}")
    print(
        f"results: {path.relative_to(root) if path.is_relative_to(root) else path} (inspect-ai logs beside it)"
    )
    if mode == "offline":
        print(
            "offline numbers come from THE EMULATOR (README, Evaluation): they prove the harness, not the model"
        )
    if messages:
        print("\nquality gate FAILED:", file=sys.stderr)
        for message in messages:
            print(f"  - {message}", file=sys.stderr)
        return 0 if args.no_gate else 1
    print("quality gate passed")
    # A suite no release measured (a new use case, a new suite, a target never recorded) has no baseline:
    # max_regression cannot hold it until a run is recorded, and nothing else says so.
    unmeasured = [
        f"{uc}/{name}"
        for uc, result in sorted(results.items())
        for name in sorted(result.suites)
        if last is None or uc not in last.use_cases or name not in last.use_cases[uc].suites
    ]
    if unmeasured:
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        them = "it" if len(unmeasured) == 1 else "them"
        print(
            f"no release has measured {', '.join(unmeasured)}: only thresholds gate {them}, no max_regression. "
            "To make this the baseline, record a run of every suite of the target: python -m evaluation record "
            f'--results {shown} --note "<why>" (README, Add a use case)'
        )
    return 0


def _deployed_target(args: argparse.Namespace, config: object, use_cases: list[str]) -> DeployedTarget:
    import boto3

    from evaluation.targets import (
        DeployedTarget,
        deployment_from_outputs,
        describe_outputs,
        read_outputs_file,
        require_credentials,
    )
    from platform_config.model import PlatformConfig

    assert isinstance(config, PlatformConfig)
    environment = config.environment(args.target)
    region = args.region or environment.region
    session = boto3.Session(region_name=region)
    require_credentials(session, args.target)
    if args.outputs_file:
        outputs = read_outputs_file(args.outputs_file, args.target)
    else:
        outputs = describe_outputs(session.client("cloudformation"), args.target)
    deployment = deployment_from_outputs(args.target, region, outputs, use_cases, api_url=args.api_url)
    return DeployedTarget(config, deployment, session=session, bedrock_endpoint_url=args.bedrock_endpoint_url)


if __name__ == "__main__":
    sys.exit(main())
