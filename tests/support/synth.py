"""Synthesize the real app (every environment, every cdk-nag pack, the whole gate) once per test run.

The fixtures are registered in tests/conftest.py so that every test folder shares one synth. Under
pytest-xdist the synthesized assembly is shared by the workers too (pytest-xdist's own recipe for a
session fixture that runs once: a file lock in the folder all workers' temporary folders share,
``getbasetemp().parent``): the first worker to ask synthesizes it, the others read what it wrote. The
tests that read live construct objects (``stack.get_logical_id(construct)``) ask for the ``stages``
fixture: the synthesizing worker has that tree already; another worker builds the same tree from the same
configuration (about a third of a synth with its gate) only if one of those tests runs there, which the
test order makes rare (tests/conftest.py, ``pytest_collection_modifyitems``)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from compliance.assembly import StackTemplate, load_assembly
from platform_config import PlatformConfig, load_platform
from platform_config.naming import platform_stack_path

if TYPE_CHECKING:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.platform import EnvironmentStage

# aws_cdk (the jsii runtime and aws-cdk-lib, ~2 s) is imported where an app is built, not with this module:
# tests/conftest.py imports it in pytest-xdist's controller too, which starts the workers only after
# loading it, and runs no test.

ROOT = Path(__file__).resolve().parents[2]


def cdk_context() -> dict[str, object]:
    """The feature flags from cdk.json, so tests synthesize exactly what `cdk synth` does."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # Let the test report nag findings instead of the whole session erroring at synth.
    return {**context, "@aws-cdk/core:failSynthOnValidationErrors": False}


#: The live construct tree by environment name (``stages["prod"].platform``): the ``stages`` fixture.
Stages = dict[str, "EnvironmentStage"]


def new_app(outdir: Path | None = None) -> cdk.App:
    """An app as app.py makes it: cdk.json's context, and every plugin CDK adds, its own CloudFormation
    validation included. The session synth (the real templates) uses it."""
    import aws_cdk as cdk

    return cdk.App(context=cdk_context(), outdir=str(outdir) if outdir else None)


def probe_app(outdir: Path | None = None, *, context: Mapping[str, object] | None = None) -> cdk.App:
    """An app for a test's own probe stacks: ``context`` as given (none by default; ``cdk_context()`` for
    cdk.json's), without CDK's built-in CloudFormation validation.

    aws-cdk-lib (>= 2.262) validates every synthesized template with a WASM engine (@aws/cloudformation-
    validate) that a Node process builds before its first synth (~2 s, ~3.5-4 CPU-seconds on this 2-core
    machine) and runs at ~0.3-0.5 s per template of the platform's size (measured with the engine alone
    on the platform's four templates). A probe stack exercises one construct or one gate check, not CDK's
    rules, so it skips that work; the suite gained little from it (the whole suite ~3-5 CPU-seconds, the
    untimed tier nothing measurable: the session synth's worker builds the engine anyway, and that synth
    is most of the cost). The real templates keep it: the session synth (:func:`new_app`), app.py under
    the CLI, and the tests of CDK's plugins themselves.
    https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk/App.html (builtin_cloud_formation_validation)"""
    import aws_cdk as cdk

    return cdk.App(
        context=dict(context) if context is not None else None,
        outdir=str(outdir) if outdir else None,
        builtin_cloud_formation_validation=False,
    )


def probe_environment() -> cdk.Environment:
    """The account and region of a probe stack or stage that needs an environment (a concrete one, as
    each platform stack has)."""
    import aws_cdk as cdk

    return cdk.Environment(account="111111111111", region="us-east-1")


def probe_stack(app: cdk.App | None = None, name: str = "S", *, environment: bool = True) -> cdk.Stack:
    """A test's own stack in :func:`probe_app` (or in ``app``), in :func:`probe_environment` unless
    ``environment`` is false (an environment-agnostic stack)."""
    import aws_cdk as cdk

    return cdk.Stack(app or probe_app(), name, env=probe_environment() if environment else None)


@dataclass
class Synthesized:
    config: PlatformConfig
    outdir: Path
    templates: dict[str, Template]
    stacks: list[StackTemplate]
    template_files: dict[str, Path]
    _stages: Stages | None = field(default=None, repr=False)

    @property
    def stages(self) -> Stages:
        """The construct tree of the synthesized app: the synthesizing worker's own, or, in another
        worker, a tree built from the same configuration the first time a test asks for it: the tree the
        assembly was synthesized from, itself never synthesized."""
        if self._stages is None:
            from stacks.platform import build_platform

            self._stages = build_platform(new_app(), self.config)
        return self._stages

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


def synthesize_once(
    config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str
) -> Synthesized:
    """``config``'s app synthesized once per test run into the folder ``name`` that every worker shares."""
    from aws_cdk.assertions import Template

    from stacks.platform import build_platform

    # One folder for the whole run: the controller's base temporary folder, which holds each worker's.
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    outdir = shared / name
    stages = None
    with _exclusive(shared / f"{name}.lock"):
        if not outdir.is_dir():
            # An app writing to a folder of this worker's own, moved to ``outdir`` in one rename when the
            # synth has ended without an error: ``outdir`` is either absent or complete, and no other app
            # can ever write into it.
            own = tmp_path_factory.mktemp(name)
            app = new_app(own)
            stages = build_platform(app, config)
            app.synth()
            own.rename(outdir)
    stacks = load_assembly(outdir)
    by_name = {stack.name: stack for stack in stacks}
    platforms = {env.name: by_name[platform_stack_path(env.name)] for env in config.environments}
    return Synthesized(
        config=config,
        outdir=outdir,
        templates={name: Template.from_json(stack.template) for name, stack in platforms.items()},
        stacks=stacks,
        template_files={name: stack.path for name, stack in platforms.items()},
        _stages=stages,
    )


@pytest.fixture(scope="session")
def synthesized(
    config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Synthesized:
    return synthesize_once(config, tmp_path_factory, worker_id, "cdk.out")


@pytest.fixture(scope="session")
def example_synthesized(
    synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Synthesized:
    """The app of every shipped example (``tests.support.contracts.examples_root``): ``synthesized``
    itself while the repository ships them all; where a fork retired one, a second synth, of its
    configuration plus the tests' copy of that example. For the tests of what the platform makes of one
    example's feature (policy-qa's content filters and grounding, a use case that holds answers) that the
    remaining contracts may not have. Tests of the repository's own app use ``synthesized``."""
    from tests.support.contracts import examples_root

    root = examples_root()
    if root == ROOT:
        return synthesized
    return synthesize_once(load_platform(root), tmp_path_factory, worker_id, "cdk.out.examples")


@pytest.fixture(scope="session")
def stages(synthesized: Synthesized) -> Stages:
    """The live construct tree behind :func:`synthesized`, by environment (``stages["prod"].platform``)."""
    return synthesized.stages
