"""Read the compliance gate's result of a synthesized cloud assembly: ``python -m compliance.check cdk.out``.

Nothing is checked a second time here: every check ran in synth, as CDK policy-validation plugins (the
cdk-nag packs and ``compliance.gate``: this project's rules and cfn-lint), and synth already failed on
any unacknowledged finding. This reads what they reported and proves that they ran:

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
from platform_config.markers import CFN_LINT_PREFIX, GATE_NAME, GATE_RESULT_FILE

__all__ = ["gate_report", "main", "nag_failures", "run"]


def _validation_report(assembly_dir: Path) -> dict[str, Any] | None:
    path = assembly_dir / "validation-report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _violation_lines(plugin: dict[str, Any]) -> list[tuple[str, str]]:
    """(rule, line) for every unacknowledged violation of a plugin report."""
    lines = []
    for violation in plugin.get("violations", []):
        for construct in violation.get("violatingConstructs", []):
            resource = construct.get("cloudFormationResource") or {}
            where = construct.get("constructPath") or resource.get("logicalId") or "?"
            if resource.get("logicalId"):
                where += f" ({resource['logicalId']})"
            fix = violation.get("suggestedFix") or violation.get("fix")
            lines.append(
                (
                    str(violation.get("ruleName")),
                    f"{violation.get('ruleName')} on {where}: {violation.get('description', '')}"
                    + (f" Fix: {fix}" if fix else ""),
                )
            )
    if plugin.get("conclusion") == "failure" and not plugin.get("violations"):
        error = (plugin.get("metadata") or {}).get("error", "failed")
        lines.append(("-", f"{plugin.get('pluginName')}: {error}"))
    return lines


def nag_failures(assembly_dir: Path) -> list[str]:
    """Every unacknowledged cdk-nag finding, as ``<pack>: <rule> on <construct path>``."""
    report = _validation_report(assembly_dir)
    if report is None:
        return [
            f"{assembly_dir / 'validation-report.json'} is missing: synth did not run the cdk-nag validation plugins"
        ]
    failures = []
    for plugin in report.get("pluginReports", []):
        if plugin.get("pluginName") == GATE_NAME:
            continue
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                failures.append(
                    f"{plugin.get('pluginName')}: {violation.get('ruleName')} on {construct.get('constructPath')}"
                )
        if plugin.get("conclusion") == "failure" and not plugin.get("violations"):
            failures.append(f"{plugin.get('pluginName')}: failed")
    return failures


def gate_report(assembly_dir: Path) -> dict[str, Any]:
    """The gate's result: the rules it ran, the stacks it covered, and unacknowledged findings by rule
    (cfn-lint findings under ``cfn_lint``). ``problems`` lists why the result cannot be trusted."""
    stacks = [s.name for s in load_assembly(assembly_dir)]
    problems: list[str] = []
    result_path = assembly_dir / GATE_RESULT_FILE
    result: dict[str, Any] = {}
    if result_path.is_file():
        result = json.loads(result_path.read_text(encoding="utf-8"))
        uncovered = sorted(set(stacks) - set(result.get("stacks", [])))
        if uncovered:
            problems.append(f"the compliance gate did not validate {uncovered}: synth did not select them")
    else:
        problems.append(
            f"{result_path} is missing: synth did not run the compliance gate (is compliance-checks off?)"
        )
    findings: dict[str, list[str]] = {rule: [] for rule in result.get("rules", {})}
    lint: list[str] = []
    report = _validation_report(assembly_dir) or {}
    for plugin in report.get("pluginReports", []):
        if plugin.get("pluginName") != GATE_NAME:
            continue
        for rule, line in _violation_lines(plugin):
            if rule.startswith(CFN_LINT_PREFIX):
                lint.append(line)
            else:
                findings.setdefault(rule, []).append(line)
    return {
        "stacks": stacks,
        "rules": findings,
        "cfn_lint": lint,
        "cfn_lint_ran": bool(result.get("cfn_lint")),
        "seconds": result.get("seconds"),
        "problems": problems,
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
