"""The compliance gate over a synthesized cloud assembly: ``python -m compliance.check cdk.out``.

1. cdk-nag: the validation report CDK wrote must hold no failed plugin report (synth already fails
   on one; this catches a synth that did not select every stack).
2. cfn-lint on every template, linted for the stack's own region: zero errors and zero warnings.
   Checks ignored on specific resources are declared in their ``Metadata`` (``cfn-lint`` key).
3. The Bedrock rules in :mod:`compliance.bedrock_rules`.

Writes ``<assembly>/compliance-summary.json`` and exits non-zero on any finding.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from compliance.assembly import StackTemplate, load_assembly
from compliance.bedrock_rules import run_rules


def nag_failures(assembly_dir: Path) -> list[str]:
    report_path = assembly_dir / "validation-report.json"
    if not report_path.is_file():
        return [f"{report_path} is missing: synth did not run the cdk-nag validation plugins"]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    failures = []
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                failures.append(
                    f"{plugin.get('pluginName')}: {violation.get('ruleName')} on "
                    f"{construct.get('constructPath')}"
                )
        if plugin.get("conclusion") == "failure" and not plugin.get("violations"):
            failures.append(f"{plugin.get('pluginName')}: failed")
    return failures


def cfn_lint(stack: StackTemplate) -> list[str]:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(stack.path, config=ManualArgs(regions=[stack.region]))
    return [f"{stack.name}: {m.rule.id} {m.message} (line {m.linenumber})" for m in matches]


def run(assembly_dir: Path) -> dict[str, Any]:
    stacks = load_assembly(assembly_dir)
    bedrock = run_rules(stacks)
    return {
        "stacks": [
            {"name": s.name, "account": s.account, "region": s.region, "resources": len(s.resources)}
            for s in stacks
        ],
        "cdk_nag": nag_failures(assembly_dir),
        "cfn_lint": [line for stack in stacks for line in cfn_lint(stack)],
        "bedrock_rules": {name: [f.render() for f in findings] for name, findings in bedrock.items()},
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
    for section in ("cdk_nag", "cfn_lint"):
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
