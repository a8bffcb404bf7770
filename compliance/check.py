"""Read the compliance gate's result of a synthesized cloud assembly: ``python -m compliance.check cdk.out``.

Nothing is checked a second time here: every check ran in synth, as CDK policy-validation plugins (the
cdk-nag packs and ``compliance.gate``: this project's rules and cfn-lint), and synth already failed on
any unacknowledged finding. This reads what they reported (:mod:`compliance.gate_result`, the reader the
review pack uses too) and proves that they ran:

1. ``validation-report.json`` (written by CDK): every unacknowledged violation, by plugin;
2. ``bedrock-platform-gate.json`` (written by the gate): which rules ran over which stacks. A missing
   file, or a stack of the assembly it does not list, means synth skipped the gate (for example
   ``-c compliance-checks=off``, or a bare ``cdk synth`` that did not select the Stage's stacks).

Prints a summary, writes ``<assembly>/compliance-summary.json`` and exits non-zero on any finding or
any stack the gate did not cover.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from compliance.assembly import load_assembly
from compliance.gate_result import VALIDATION_REPORT, read_gate_result
from platform_config.markers import GATE_NAME

__all__ = ["gate_report", "main", "nag_failures", "run"]


def nag_failures(assembly_dir: Path) -> list[str]:
    """Every unacknowledged finding of a plugin other than the gate (the cdk-nag packs, CDK's own
    CloudFormation Validate and Construct Annotations), as ``<plugin>: <rule> on <construct path>``."""
    result = read_gate_result(assembly_dir)
    if not result.validation_report:
        return [
            f"{assembly_dir / VALIDATION_REPORT} is missing: synth did not run the cdk-nag validation plugins"
        ]
    failures = [
        f"{pack}: {v.rule} on /{v.construct_path}"
        for pack, violations in result.nag_findings().items()
        for v in violations
    ]
    return failures + [f for f in result.plugin_failures if not f.startswith(f"{GATE_NAME}:")]


def gate_report(assembly_dir: Path) -> dict[str, Any]:
    """The gate's result: the rules it ran, the stacks it covered, and unacknowledged findings by rule
    (cfn-lint findings under ``cfn_lint``). ``problems`` lists why the result cannot be trusted."""
    result = read_gate_result(assembly_dir)
    return {
        "stacks": list(result.stacks),
        "rules": {rule: [v.render() for v in found] for rule, found in result.rule_findings().items()},
        "cfn_lint": [v.render() for v in result.lint_findings()]
        + [f for f in result.plugin_failures if f.startswith(f"{GATE_NAME}:")],
        "cfn_lint_ran": result.cfn_lint_ran,
        "seconds": result.seconds,
        "problems": result.problems,
    }


def run(assembly_dir: Path) -> dict[str, Any]:
    stacks = load_assembly(assembly_dir)
    gate = gate_report(assembly_dir)
    return {
        "stacks": [
            {"name": s.name, "account": s.account, "region": s.region, "resources": len(s.resources)}
            for s in stacks
        ],
        "cdk_nag": nag_failures(assembly_dir),
        "gate": gate["problems"],
        "cfn_lint": gate["cfn_lint"]
        + ([] if gate["cfn_lint_ran"] or gate["problems"] else ["cfn-lint did not run in the gate"]),
        "bedrock_rules": gate["rules"],
        "gate_seconds": gate["seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compliance.check", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("assembly", type=Path, nargs="?", default=Path("cdk.out"))
    args = parser.parse_args(argv)
    try:
        summary = run(args.assembly)
    except FileNotFoundError as error:
        print(f"compliance: {error}", file=sys.stderr)
        return 2
    (args.assembly / "compliance-summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    failed = False
    stacks = summary["stacks"]
    print(f"compliance: {len(stacks)} stacks, {sum(s['resources'] for s in stacks)} resources")
    for section in ("gate", "cdk_nag", "cfn_lint"):
        problems = summary[section]
        failed |= bool(problems)
        print(f"  {section:<14} {'PASS' if not problems else f'FAIL ({len(problems)})'}")
        for problem in problems:
            print(f"    - {problem}")
    for name, findings in summary["bedrock_rules"].items():
        failed |= bool(findings)
        print(f"  {name:<28} {'PASS' if not findings else f'FAIL ({len(findings)})'}")
        for finding in findings:
            print(f"    - {finding}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
