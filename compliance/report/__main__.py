"""``python -m compliance.report <assembly-dir> --out <dir> [--against <assembly-dir>] [--against-env <Env>]``

Writes ``<out>/<Env>.html`` (self-contained) and ``<out>/<Env>.md`` for every environment (Stage) of the
assembly, or for those named with ``--env``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compliance.report.build import build_reports, write_reports
from compliance.report.diff import GROUPS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compliance.report",
        description="Write the compliance review pack (HTML + Markdown) of each environment of a cloud assembly.",
    )
    parser.add_argument("assembly", type=Path, help="synthesized cloud assembly, e.g. cdk.out")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory to write <Env>.html and <Env>.md to"
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
        "--no-cfn-lint", action="store_true", help="do not run cfn-lint (reported as not run)"
    )
    parser.add_argument(
        "--evaluation-results",
        type=Path,
        help="results.json of `python -m evaluation run` for the Evaluation section "
        "(default: eval-results/<env>/results.json, else the offline run's)",
    )
    args = parser.parse_args(argv)
    try:
        reports = build_reports(
            args.assembly,
            environments=args.env or None,
            against=args.against,
            against_env=args.against_env,
            lint=not args.no_cfn_lint,
            evaluation_results=args.evaluation_results,
        )
    except (FileNotFoundError, KeyError, ValueError) as error:
        print(f"compliance.report: {error}", file=sys.stderr)
        return 2
    for path in write_reports(reports, args.out):
        print(f"wrote {path}")
    for env, report in reports.items():
        if report.changes is not None:
            counts = ", ".join(f"{title.lower()}: {len(report.changes.group(key))}" for key, title in GROUPS)
            print(f"{env} vs {report.changes.baseline}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
