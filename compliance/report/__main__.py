"""``python -m compliance.report <assembly-dir> [--out <dir>] [--against <assembly-dir>] [--against-env <Env>]``

Writes ``<out>/<Env>.html`` (self-contained) and ``<out>/<Env>.md`` for every environment (Stage) of the
assembly, or for those named with ``--env``. ``--out`` defaults to ``<assembly>/review-pack`` and must be
inside the assembly (``--out-outside-assembly`` allows another place, on purpose); nothing else is written.

The header names the commit: ``--commit`` if given, else what ``git`` says about the current directory's
checkout (``git rev-parse HEAD``, and "+ uncommitted changes" when ``git status`` lists modified or untracked
files: a new contract not yet committed is in the assembly but not in the commit; ignored files such as
``cdk.out`` do not count); outside a git checkout (the delivery pipeline's steps), the commit in
``SOURCE_COMMIT`` (``platform_config.checkout``). The evaluation evidence is shown as met only for a run of
that same commit, neither side with uncommitted changes. Synth never reads git; this command does, when it
writes the pack (``make synth`` runs it right after the synth, in the same checkout).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

#: What the header adds to the commit of a checkout whose files differ from it.
UNCOMMITTED = "+ uncommitted changes"


def git_commit(cwd: Path) -> str:
    """The commit of the checkout at ``cwd`` (``platform_config.checkout.revision``), or why it is unknown."""
    from platform_config.checkout import revision

    found = revision(cwd)
    if not found.known:
        return f"unknown ({found.source}; pass --commit)"
    return found.commit + (f" {UNCOMMITTED}" if found.changed else "")


def candidate(commit: str) -> tuple[str | None, bool]:
    """The commit the pack's header names (``--commit`` or :func:`git_commit`), as the evaluation evidence is
    matched to it: (its 40 hex digits, whether the checkout differed from it); (None, False) where the header
    names no full commit (unknown, or a short --commit)."""
    from platform_config.checkout import is_commit

    head = commit.split()[0].lower() if commit.strip() else ""
    if not is_commit(head):
        return None, False
    return head, commit.rstrip().endswith(UNCOMMITTED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compliance.report",
        description="Write the compliance review pack (HTML + Markdown) of each environment of a cloud assembly.",
    )
    parser.add_argument("assembly", type=Path, help="synthesized cloud assembly, e.g. cdk.out")
    parser.add_argument(
        "--out",
        type=Path,
        help="directory to write <Env>.html and <Env>.md to (default: <assembly>/review-pack)",
    )
    parser.add_argument(
        "--out-outside-assembly",
        action="store_true",
        help="allow --out outside the assembly (it is refused otherwise)",
    )
    parser.add_argument(
        "--env", action="append", default=[], help="only this environment (repeatable), e.g. Prod"
    )
    parser.add_argument("--against", type=Path, help="baseline assembly: report what changed since it")
    parser.add_argument(
        "--against-env",
        help="baseline environment, e.g. Staging: compare each environment with it (in --against, else in ASSEMBLY)",
    )
    parser.add_argument(
        "--against-label",
        help="how the pack names the --against assembly (e.g. 'the last release to prod, recorded by pipeline "
        "execution E'; default: its path)",
    )
    parser.add_argument(
        "--commit", help="the commit the assembly was built from (default: ask git, see above)"
    )
    parser.add_argument(
        "--evaluation-results",
        type=Path,
        help="the evaluation run to show (default: eval-results/<env>/results.json, else the offline run's)",
    )
    args = parser.parse_args(argv)

    from compliance.report.build import ReportMeta, build_reports, check_out_dir, write_reports
    from compliance.report.topic import LEVELS
    from compliance.report.topics import TOPICS
    from compliance.report.topics.evaluation import EvaluationTopic

    commit = args.commit or git_commit(Path.cwd())
    head, changed = candidate(commit)
    topics = tuple(
        EvaluationTopic(results=args.evaluation_results, candidate=head, candidate_changed=changed)
        if topic.id == EvaluationTopic.id
        else topic
        for topic in TOPICS
    )

    out = args.out if args.out is not None else args.assembly / "review-pack"
    try:
        check_out_dir(
            out,
            args.assembly,
            baselines=[args.against] if args.against is not None else [],
            outside_assembly=args.out_outside_assembly,
        )
        reports = build_reports(
            args.assembly,
            environments=args.env or None,
            against=args.against,
            against_env=args.against_env,
            against_label=args.against_label,
            meta=ReportMeta(commit=commit, generated=datetime.now(UTC)),
            topics=topics,
        )
        written = write_reports(reports, out, outside_assembly=args.out_outside_assembly)
    except (FileNotFoundError, KeyError, ValueError) as error:
        # a KeyError's str() is the repr of its message (quoted): print the message itself
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"compliance.report: {message}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    for env, report in reports.items():
        if report.changes is not None:
            counts = report.changes.counts()
            print(
                f"{env} vs {report.changes.baseline}: "
                + ", ".join(f"{level}: {counts[level]}" for level in LEVELS)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
