"""Where synth time goes: app.py's steps timed one by one, as the CDK CLI would run it (item 1's breakdown).

    .venv/bin/python -m benchmarks.synth_phases {full,nonag,empty} --outdir DIR --out FILE [--profile N]

Runs what ``app.py`` ``main()`` does (or, for ``empty``, ``cdk.App()`` + one empty Stack with an explicit
env) with ``CDK_CONTEXT_JSON`` set from cdk.json's context plus what the CLI adds (``compliance-checks=off``
for ``nonag``; the empty app has no cdk.json context) and ``CDK_OUTDIR`` set, and writes the seconds spent
in each step to ``--out``. aws-cdk-lib's own performance counters (node side: load, construction,
synthesis, template validation, jsii pipe I/O) are recorded too, as ``cdk_counters_ms``. ``--profile N``
also runs cProfile over the whole app and records the N functions of ``constructs/`` with the highest
cumulative time, i.e. which constructs cost the most jsii calls.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: What the CDK CLI (2.1148) adds to cdk.json's context when it runs the app.
CLI_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}
SLOW_SYNTH_THRESHOLD = "@aws-cdk/core.slowSynthThreshold"


def context_json(no_nag: bool) -> str:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    context = {**context, **CLI_CONTEXT}
    if no_nag:
        context = {**context, "compliance-checks": "off"}
    return json.dumps(context)


def run(mode: str) -> dict[str, float]:
    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def step(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    import aws_cdk as cdk

    step("import aws_cdk (jsii runtime + aws-cdk-lib assembly)")
    if mode == "empty":
        app = cdk.App()
        cdk.Stack(app, "Empty", env=cdk.Environment(account="111111111111", region="us-east-1"))
        step("App() + empty Stack")
        app.synth()
        step("app.synth()")
        return phases

    sys.path.insert(0, str(ROOT))
    from platform_config import load_platform
    from stacks.platform import build_platform

    step("import project (stacks, constructs, cdk_nag, platform_config)")
    config = load_platform(ROOT)
    step("load_platform (read + validate YAML)")
    app = cdk.App()
    step("cdk.App()")
    build_platform(app, config, compliance_checks=app.node.try_get_context("compliance-checks") != "off")
    step("build_platform (constructs, 3 stages)")
    app.synth()
    step("app.synth() (templates, assets, policy validation)")
    return phases


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["full", "nonag", "empty"])
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    context = json.loads(context_json(args.mode == "nonag")) if args.mode != "empty" else dict(CLI_CONTEXT)
    # aws-cdk-lib's own performance counters (phases, validation, fs calls incl. jsii's pipe I/O), written to
    # CDK_PERF_COUNTERS_FILE when a stack's synth exceeds this threshold: 0 = always. Reporting only.
    context[SLOW_SYNTH_THRESHOLD] = 0
    counters = Path(args.outdir + ".perf-counters.json")
    os.environ["CDK_CONTEXT_JSON"] = json.dumps(context)
    os.environ["CDK_OUTDIR"] = args.outdir
    os.environ["CDK_PERF_COUNTERS_FILE"] = str(counters)
    result: dict[str, Any] = {}
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        result["phases_s"] = run(args.mode)
        profiler.disable()
        result["top_project_cumulative"] = _top_project(profiler, args.profile)
    else:
        result["phases_s"] = run(args.mode)
    if counters.is_file():
        result["cdk_counters_ms"] = json.loads(counters.read_text(encoding="utf-8"))["counters"]
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _top_project(profiler: cProfile.Profile, top: int) -> list[dict[str, Any]]:
    table: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_cc, ncalls, _tottime, cumtime, _callers) in table.items():
        if not filename.startswith(str(ROOT / "constructs")):
            continue  # the construct library: which constructs cost the most jsii calls
        rows.append(
            {
                "where": f"{filename.removeprefix(str(ROOT) + '/')}:{line}:{function}",
                "cum_s": cumtime,
                "ncalls": ncalls,
            }
        )
    rows.sort(key=lambda r: -float(r["cum_s"]))
    return rows[:top]


if __name__ == "__main__":
    sys.exit(main())
