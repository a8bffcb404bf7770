#!/usr/bin/env python3
"""CDK app entry point: the only place configuration files are read.

Synthesizes every environment in environments/ with every production contract in contracts/ enabled
there, under every cdk-nag pack. A bad configuration file stops synth before any construct is built.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import aws_cdk as cdk

from platform_config import ConfigError, load_platform
from stacks.platform import build_platform

ROOT = Path(__file__).resolve().parent


def main() -> int:
    try:
        config = load_platform(ROOT)
    except ConfigError as error:
        print(error, file=sys.stderr)
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
