#!/usr/bin/env python3
"""CDK app entry point: the only place configuration files are read.

Synthesizes every environment in environments/ with every production contract in contracts/ enabled
there, under every cdk-nag pack. A bad configuration file stops synth before any construct is built.
"""

from __future__ import annotations

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
    app = cdk.App()
    build_platform(app, config, compliance_checks=app.node.try_get_context("compliance-checks") != "off")
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
