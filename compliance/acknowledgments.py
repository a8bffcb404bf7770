"""Acknowledgments that acknowledge nothing: ``make audit-acknowledgments``
(``python -m compliance.acknowledgments``).

An acknowledgment is an exception a compliance reviewer reads as "this finding is here, and here is why it
is acceptable". One that no longer matches a finding (the resource was fixed, moved or removed, a rule
stopped firing) tells the reviewer of an exception that does not exist, and, sitting on a parent construct,
would silently hide a new finding of the same rule added under it later. Neither CDK nor cdk-nag reports
such an acknowledgment: cdk-nag 3 drops an acknowledged finding before CDK sees it (``NagPack.applyRule``
checks ``isAcknowledged`` first), and so does the compliance gate, so the validation report of a normal
synth cannot tell a used acknowledgment from a stale one.

So the audit synthesizes the app once more, in memory, with ``-c acknowledgments=audit``: every
acknowledgment made through :mod:`bedrock_constructs.nag` (and every cfn-lint check ignored through
:mod:`bedrock_constructs.lint`, as ``BedrockPlatform::CFN-LINT-<check>``) is then recorded on its construct
with the file and line that made it instead of being applied, synth does not stop on findings, and CDK's
``validation-report.json`` holds every finding. An acknowledgment is in use when a finding of its id is
reported on its construct or one under it, exactly as CDK and cdk-nag match them (``Validations.acknowledge``:
the same id, in the plugin's namespace; the construct or an ancestor of the finding's). Every other one is
reported with its source line, to be removed. Exit status: 0 every acknowledgment is in use, 1 some
acknowledge nothing (or the audit synth recorded none: the audit did not run), 2 the configuration is bad.

The audit synth is never deployed and writes to a temporary folder (or ``--outdir``), not to ``cdk.out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.assembly import load_assembly
from compliance.assembly_meta import stack_artifacts
from compliance.gate_result import VALIDATION_REPORT, Violation, read_gate_result
from compliance.lint import lint_ignores
from platform_config.markers import AUDIT_CONTEXT, AUDIT_METADATA, AUDIT_MODE

__all__ = [
    "Audit",
    "Recorded",
    "audit",
    "covers",
    "main",
    "record_outside_stacks",
    "recorded",
    "synthesize_for_audit",
    "unused",
]

ROOT = Path(__file__).resolve().parents[1]
#: CDK's namespace of construct library warnings (``Annotation::@aws-cdk/aws-logs:someWarning``), the
#: "Construct Annotations" plugin's (aws-cdk-lib's ``namespaceFromPluginName``).
_ANNOTATIONS = ("Construct Annotations", "Annotation")
#: The audit synth's list of acknowledgments made on the App or a Stage (:func:`record_outside_stacks`).
OUTSIDE_STACKS_FILE = "acknowledgments-outside-stacks.json"
#: CDK's construct metadata type of ``Validations.acknowledge`` (``cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY``).
_ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"


@dataclass(frozen=True)
class Recorded:
    """One acknowledgment (or cfn-lint ignore) the audit synth recorded instead of applying."""

    stack: str
    construct_path: str  # "Prod/Platform/Api/Function" (no leading "/")
    finding: str  # as given to cdk.Acknowledgment: "AwsSolutions-IAM5[Resource::*]", "BedrockPlatform::X"
    reason: str
    source: str  # "constructs/buckets.py:42": the call that made it

    def render(self) -> str:
        return f"{self.source}: {self.finding} on /{self.construct_path}"


def recorded(assembly_dir: Path) -> list[Recorded]:
    """Every acknowledgment recorded in an audit synth's assembly (construct metadata of type
    :data:`~platform_config.markers.AUDIT_METADATA`, which CDK writes into each stack artifact)."""
    found = []
    for artifact in stack_artifacts(assembly_dir).values():
        for path, entries in artifact.metadata.items():
            for entry in entries:
                data = entry.get("data")
                if entry.get("type") == AUDIT_METADATA and isinstance(data, dict):
                    found.append(
                        Recorded(
                            stack=artifact.name,
                            construct_path=path.lstrip("/"),
                            finding=str(data.get("finding", "")),
                            reason=str(data.get("reason", "")),
                            source=str(data.get("source", "?")),
                        )
                    )
    return sorted(found, key=lambda a: (a.source, a.construct_path, a.finding))


def _qualified(violation: Violation) -> str:
    namespace = "Annotation" if violation.plugin in _ANNOTATIONS else violation.plugin.replace(" ", "-")
    return f"{namespace}::{violation.rule}"


def covers(acknowledgment: Recorded, violation: Violation) -> bool:
    """Whether ``acknowledgment`` would acknowledge ``violation``: the same finding id (cdk-nag's ids are
    written bare, the other plugins' in their namespace) on the acknowledged construct or one under it."""
    path = acknowledgment.construct_path
    if violation.construct_path != path and not violation.construct_path.startswith(path + "/"):
        return False
    return acknowledgment.finding in (violation.rule, _qualified(violation))


def unused(acknowledgments: Iterable[Recorded], violations: Sequence[Violation]) -> list[Recorded]:
    """The acknowledgments that cover none of ``violations``."""
    by_rule: dict[str, list[Violation]] = {}
    for violation in violations:
        by_rule.setdefault(violation.rule, []).append(violation)
        by_rule.setdefault(_qualified(violation), []).append(violation)
    return [a for a in acknowledgments if not any(covers(a, v) for v in by_rule.get(a.finding, ()))]


def record_outside_stacks(app: Any, outdir: Path) -> list[str]:
    """Write into ``outdir`` (:data:`OUTSIDE_STACKS_FILE`) every acknowledgment made on the App or a Stage,
    and return them. cdk-nag 3 and CDK apply one there to every stack under it (``NagPack.isAcknowledged``
    walks the ancestors up to the App), but CDK writes construct metadata only into stack artifacts, so the
    assembly does not show it: it is read from the live tree, which the audit synth has."""
    import aws_cdk as cdk

    found: list[str] = []
    pending = [app]
    while pending:
        construct = pending.pop()
        for entry in construct.node.metadata:
            kind, data = entry.type, entry.data
            if kind in (_ACKNOWLEDGED_RULES, AUDIT_METADATA) and isinstance(data, dict):
                ids = [data.get("finding")] if kind == AUDIT_METADATA else list(data)
                found += [f"{finding} on /{construct.node.path}" for finding in ids]
        pending += [child for child in construct.node.children if not cdk.Stack.is_stack(child)]
    (outdir / OUTSIDE_STACKS_FILE).write_text(json.dumps(sorted(found), indent=1), encoding="utf-8")
    return sorted(found)


def synthesize_for_audit(root: Path, outdir: Path) -> Path:
    """Synthesize the app of the checkout at ``root`` as ``app.py`` does (cdk.json's context, every
    environment, every check) with acknowledgments recorded instead of applied, into ``outdir``.

    Raises :class:`platform_config.ConfigError` for a bad configuration file."""
    import aws_cdk as cdk

    from platform_config import load_platform
    from stacks.platform import build_platform

    config = load_platform(root)
    context = json.loads((root / "cdk.json").read_text(encoding="utf-8"))["context"]
    context.update({AUDIT_CONTEXT: AUDIT_MODE, "@aws-cdk/core:failSynthOnValidationErrors": False})
    app = cdk.App(context=context, outdir=str(outdir))
    build_platform(app, config)
    app.synth()
    record_outside_stacks(app, outdir)
    return outdir


@dataclass(frozen=True)
class Audit:
    """What an audit synth showed."""

    recorded: list[Recorded]  # every acknowledgment and cfn-lint ignore, recorded instead of applied
    unused: list[Recorded]  # those of them that acknowledge no finding
    #: acknowledgments and ignores applied anyway (not made through bedrock_constructs.nag or .lint), which
    #: the audit cannot judge: each hides its findings from this synth too
    applied: list[str]


def audit(assembly_dir: Path) -> Audit:
    """Read an audit synth's assembly (:func:`synthesize_for_audit`)."""
    if not (assembly_dir / VALIDATION_REPORT).is_file():
        raise FileNotFoundError(
            f"{assembly_dir / VALIDATION_REPORT} is missing: synth ran no validation plugin"
        )
    acknowledgments = recorded(assembly_dir)
    templates = {stack.name: stack for stack in load_assembly(assembly_dir)}
    applied = [
        f"{ack.finding} on {ack.construct_path}: acknowledged with cdk.Validations.of(...).acknowledge, not "
        "bedrock_constructs.nag.acknowledge"
        for name, artifact in stack_artifacts(assembly_dir).items()
        for ack in artifact.acknowledgments(templates[name].template if name in templates else None)
    ] + [
        f"cfn-lint {ignore.check} on {ignore.stack} {ignore.resource}: ignored in the template's Metadata, not "
        "with bedrock_constructs.lint.ignore_cfn_lint_check"
        for stack in templates.values()
        for ignore in lint_ignores(stack)
    ]
    outside = assembly_dir / OUTSIDE_STACKS_FILE
    applied += [
        f"{line}: acknowledged on the App or a Stage, where it covers every stack under it and no stack "
        "records it; acknowledge the finding on its resource with bedrock_constructs.nag.acknowledge"
        for line in (json.loads(outside.read_text(encoding="utf-8")) if outside.is_file() else [])
    ]
    return Audit(acknowledgments, unused(acknowledgments, read_gate_result(assembly_dir).violations), applied)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compliance.acknowledgments",
        description="List every cdk-nag acknowledgment and cfn-lint ignore that acknowledges no finding.",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to audit (default: this one)")
    parser.add_argument(
        "--outdir",
        type=Path,
        help="where the audit synth writes (default: a temporary folder, removed after)",
    )
    args = parser.parse_args(argv)
    from platform_config import ConfigError

    root = args.root.resolve()
    if not (root / "cdk.json").is_file():
        print(
            f"{root / 'cdk.json'} is missing: --root must be a checkout of this project (the folder with "
            "cdk.json, environments/ and contracts/)",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="audit-acknowledgments-") as scratch:
        outdir = args.outdir or Path(scratch) / "cdk.out"
        try:
            synthesize_for_audit(root, outdir)
        except ConfigError as error:
            print(error.report("nothing was audited"), file=sys.stderr)
            return 2
        result = audit(outdir)
    if not result.recorded:
        print(
            f"the audit synth recorded no acknowledgment: is {AUDIT_CONTEXT}={AUDIT_MODE} read by "
            "bedrock_constructs.nag.acknowledge_all? Nothing was audited",
            file=sys.stderr,
        )
        return 1
    _report(
        f"{len(result.applied)} acknowledgments were applied where the audit cannot see them:",
        result.applied,
        "Fix: make each through bedrock_constructs.nag.acknowledge (cdk-nag, the gate, CDK) or "
        "bedrock_constructs.lint.ignore_cfn_lint_check (cfn-lint), which state a reason and can be audited",
    )
    _report(
        f"{len(result.unused)} of {len(result.recorded)} acknowledgments acknowledge no finding:",
        _rendered_unused(result),
        "Fix: remove each one at its source line (nothing under its construct raises that finding any more), "
        "or, if the finding moved, acknowledge it on the construct the finding names now",
    )
    if result.applied or result.unused:
        return 1
    print(f"each of {len(result.recorded)} acknowledgments and cfn-lint ignores acknowledges a finding")
    return 0


def _in_stage(acknowledgment: Recorded) -> tuple[str, str, str]:
    """What makes the same acknowledgment in each environment: its source line, finding and construct path
    below the Stage ("Prod/Platform/Fn" -> "Platform/Fn")."""
    return acknowledgment.source, acknowledgment.finding, acknowledgment.construct_path.partition("/")[2]


def _rendered_unused(result: Audit) -> list[str]:
    """Each unused acknowledgment's line; where the same line acknowledges a finding on the same construct of
    another environment, it says so: removing it would break that environment's synth."""
    stale = set(result.unused)
    in_use: dict[tuple[str, str, str], list[str]] = {}
    for other in result.recorded:
        if other not in stale:
            in_use.setdefault(_in_stage(other), []).append(other.construct_path.partition("/")[0])
    lines = []
    for acknowledgment in result.unused:
        used_in = sorted(in_use.get(_in_stage(acknowledgment), []))
        lines.append(
            acknowledgment.render()
            if not used_in
            else f"{acknowledgment.render()} (in use in {', '.join(used_in)}: do not remove it; make it depend "
            "on what makes the finding there)"
        )
    return lines


def _report(heading: str, lines: Sequence[str], fix: str) -> None:
    if lines:
        print("\n".join([heading, *(f"  {line}" for line in lines), fix]), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
