"""Synthesize the real app (every environment, every cdk-nag pack, the whole gate) once per test run.

The fixtures are registered in tests/conftest.py so that every test folder shares one synth. Under
pytest-xdist the synthesized assembly is shared by the workers too (pytest-xdist's own recipe for a
session fixture that runs once: a file lock in the folder all workers' temporary folders share,
``getbasetemp().parent``): the first worker to finish building the construct tree synthesizes it, the
others read what it wrote. Every worker builds the same construct tree from the same configuration (the
tests that read live construct objects, such as ``stack.get_logical_id(construct)``, need it in their own
process), which costs about a third of a synth with its gate."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
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
    template_files: dict[str, Path]

    def platform(self, env: str) -> Template:
        return self.templates[env]

    def platform_json(self, env: str) -> dict:  # type: ignore[type-arg]
        """The environment's platform template, parsed anew from the assembly (a test may change its
        copy): the same document as ``platform(env).to_json()``, without carrying ~300 KB through jsii."""
        path = self.template_files[env]
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def config() -> PlatformConfig:
    return load_platform(ROOT)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # released with the descriptor, also if the worker dies
        yield
    finally:
        os.close(descriptor)


@pytest.fixture(scope="session")
def synthesized(
    config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Synthesized:
    # One folder for the whole run: the controller's base temporary folder, which holds each worker's.
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    outdir = shared / "cdk.out"
    # Each worker builds its tree before taking the lock (a worker that finds the synth under way builds
    # meanwhile instead of waiting idle), in an app writing to a folder of its own: the one that
    # synthesizes moves its assembly to ``outdir`` in one rename when the synth has ended without an error,
    # so ``outdir`` is either absent or complete, and no other app can ever write into it.
    own = tmp_path_factory.mktemp("cdk.out")
    app = new_app(own)
    stages = build_platform(app, config)
    with _exclusive(shared / "cdk.out.lock"):
        if not outdir.is_dir():
            app.synth()
            own.rename(outdir)
    stacks = load_assembly(outdir)
    by_name = {stack.name: stack for stack in stacks}
    templates = {
        name: Template.from_json(by_name[stage.platform.node.path].template) for name, stage in stages.items()
    }
    paths = {name: by_name[stage.platform.node.path].path for name, stage in stages.items()}
    return Synthesized(config, stages, outdir, templates, stacks, paths)
