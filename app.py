#!/usr/bin/env python3
"""CDK app entry point: the only place configuration files are read.

Synthesizes every environment in environments/ with every production contract in contracts/ enabled
there, under every cdk-nag pack. A bad configuration file stops synth before any construct is built.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def node_environment() -> None:
    """The environment every Node process behind this app gets, set before aws_cdk is imported (the tests
    call it too, so they start Node as the app does). A value the caller set is kept.

    * jsii's runtime (the Node process behind aws_cdk) prints an 11-line "Node 20 is end-of-life" banner
      to stderr when it starts, and the CDK CLI passes it through on every `npx cdk ...`. Node 20 runs
      this app correctly: the banner is silenced for every way the app is started.
    * V8's background thread pool is sized to the cores this process may use: `--v8-pool-size=0` lets
      Node choose from the machine's parallelism (https://nodejs.org/api/cli.html#--v8-pool-sizenum);
      without it Node 20 starts four V8 worker threads on any machine. On 2 cores the jsii runtime's Node
      process synthesized this app in 10.7-12.6 s with it and 12.5-15.5 s without (alternating runs).
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    if "--v8-pool-size" not in os.environ.get("NODE_OPTIONS", ""):
        os.environ["NODE_OPTIONS"] = f"{os.environ.get('NODE_OPTIONS', '')} --v8-pool-size=0".strip()


node_environment()

USAGE = """\
Run by the CDK CLI (cdk.json's "app"): npx cdk synth '**' | npx cdk diff 'Staging/*' | npx cdk deploy 'Prod/*'.
`make synth` runs it with every compliance check. Run directly (python app.py), it applies cdk.json's
feature flags itself and writes to $CDK_OUTDIR (unset: a new temporary directory).

context (-c with the CDK CLI):
  compliance-checks=off   skip the whole compliance gate (the cdk-nag packs, this project's rules and
                          cfn-lint) for a quick local look; without it every synth and deploy runs it

environment set by the CDK CLI: CDK_OUTDIR (where to write), CDK_CONTEXT_JSON (context and feature flags)
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parse_args(argv)  # --help answers here, before the jsii runtime starts
    # The process ends right after synth, and CPython would first collect its whole heap again while it
    # tears the modules down (~1 s of the ~12-13 s `python app.py` took on 2 cores, alternating runs:
    # 11.9-12.2 s with this, 12.8-13.4 s without). Frozen objects are not walked; the operating system
    # reclaims the memory of the ending process. https://docs.python.org/3/library/gc.html#gc.freeze
    atexit.register(gc.freeze)
    import aws_cdk as cdk

    from platform_config import ConfigError, load_platform
    from stacks.platform import build_platform

    try:
        config = load_platform(ROOT)
    except ConfigError as error:
        print(error.report("nothing was synthesized"), file=sys.stderr)
        return 1
    # Under the CDK CLI the feature flags in cdk.json arrive in CDK_CONTEXT_JSON; `python app.py` on its
    # own reads them from cdk.json so that it synthesizes exactly the same templates.
    context = (
        None if "CDK_CONTEXT_JSON" in os.environ else json.loads((ROOT / "cdk.json").read_text())["context"]
    )
    app = cdk.App(context=context)
    build_platform(app, config, compliance_checks=app.node.try_get_context("compliance-checks") != "off")
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
