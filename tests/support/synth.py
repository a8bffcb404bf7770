"""Synthesize the real app (every environment, every cdk-nag pack) once per test session.

The fixtures are registered in tests/conftest.py so that every test folder shares one synth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from compliance.assembly import StackTemplate, load_assembly
from platform_config import PlatformConfig, load_platform
from stacks.platform import EnvironmentStage, build_platform

ROOT = Path(__file__).resolve().parents[2]


def cdk_context() -> dict[str, object]:
    """The feature flags from cdk.json, so tests synthesize exactly what `cdk synth` does."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # Let the test report nag findings instead of the whole session erroring at synth.
    return {**context, "@aws-cdk/core:failSynthOnValidationErrors": False}


def new_app(outdir: Path | None = None) -> cdk.App:
    return cdk.App(context=cdk_context(), outdir=str(outdir) if outdir else None)


@dataclass
class Synthesized:
    config: PlatformConfig
    stages: dict[str, EnvironmentStage]
    outdir: Path
    templates: dict[str, Template]
    stacks: list[StackTemplate]

    def platform(self, env: str) -> Template:
        return self.templates[env]

    def platform_json(self, env: str) -> dict:  # type: ignore[type-arg]
        return self.templates[env].to_json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def config() -> PlatformConfig:
    return load_platform(ROOT)


@pytest.fixture(scope="session")
def synthesized(config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir)
    stages = build_platform(app, config)
    app.synth()
    templates = {name: Template.from_stack(stage.platform) for name, stage in stages.items()}
    return Synthesized(config, stages, outdir, templates, load_assembly(outdir))
