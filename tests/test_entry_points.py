"""Entry points answer --help without doing their work, and the app starts without jsii's Node banner."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from platform_config.loader import CONFIGURATION_FOLDERS

ROOT = Path(__file__).resolve().parents[1]

# Runs an entry point the way `python <file>` / `python -m <module>` does (runpy), then reports which
# top-level modules it imported, so a test can tell that --help stopped before the work started.
PROBE = """
import json, os, runpy, sys
target, *args = sys.argv[1:]
sys.argv = [target, *args]
code = 0
try:
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
with open(os.environ["PROBE_REPORT"], "w") as report:
    json.dump({"code": code, "modules": sorted(sys.modules)}, report)
"""

# Importing any of these means the work began: the jsii runtime (synth), cfn-lint, AWS SDKs.
HEAVY = {"aws_cdk", "jsii", "cdk_nag", "cfnlint", "boto3", "botocore", "moto"}

ENTRY_POINTS = {
    # target, usage prefix, modules that --help must not import besides HEAVY
    "app": (str(ROOT / "app.py"), "usage: python app.py", {"stacks", "platform_config"}),
    "demo": (
        str(ROOT / "scripts" / "demo.py"),
        "usage: python scripts/demo.py",
        {"tests", "lambdas", "platform_config", "bedrock_platform_devtools"},
    ),
    "review pack": ("compliance.report", "usage: python -m compliance.report", set()),
    "compliance gate": ("compliance.check", "usage: python -m compliance.check", set()),
    "benchmarks": ("benchmarks.run", "usage: python -m benchmarks.run", set()),
    "new use case check": (
        str(ROOT / "scripts" / "check_new_use_case.py"),
        "usage: python scripts/check_new_use_case.py",
        {"tests"},
    ),
    "retired use case check": (
        str(ROOT / "scripts" / "check_retired_use_case.py"),
        "usage: python scripts/check_retired_use_case.py",
        {"tests"},
    ),
    "uv bootstrap": (str(ROOT / "scripts" / "locked_uv.py"), "usage: python3 scripts/locked_uv.py", set()),
    "evaluation": (
        "evaluation",
        "usage: python -m evaluation",
        {"inspect_ai", "tests", "lambdas", "platform_config"},
    ),
    "human review exercise": (
        "human_review",
        "usage: python -m human_review",
        {"tests", "lambdas", "platform_config", "evaluation", "bedrock_platform_devtools"},
    ),
}


def _digest(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "" for p in paths}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_help_answers_without_doing_the_work(name: str, tmp_path: Path) -> None:
    target, usage, not_imported = ENTRY_POINTS[name]
    # GIVEN an empty working directory and an output directory the CDK would write to
    cwd, outdir, report = tmp_path / "cwd", tmp_path / "cdk.out", tmp_path / "probe.json"
    cwd.mkdir()
    written_by_the_bench = [ROOT / "benchmarks" / "results.md", ROOT / "benchmarks" / "results.json"]
    before = _digest(written_by_the_bench)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JSII_", "CDK_"))}
    env.update(PYTHONPATH=str(ROOT), CDK_OUTDIR=str(outdir), PROBE_REPORT=str(report))

    # WHEN it is asked for --help
    result = subprocess.run(
        [sys.executable, "-c", PROBE, target, "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # THEN it prints its usage, exits 0, imports nothing that does the work and writes nothing
    probe = json.loads(report.read_text())
    assert probe["code"] in (0, None), result.stderr
    assert result.stdout.startswith(usage), result.stdout[:300]
    assert result.stderr == ""
    imported = {m.split(".")[0] for m in probe["modules"]}
    assert not imported & (HEAVY | not_imported)
    assert list(cwd.iterdir()) == []
    assert not outdir.exists()
    assert _digest(written_by_the_bench) == before


def _node_major() -> int | None:
    node = shutil.which("node")
    if node is None:
        return None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    return int(version.strip().lstrip("v").split(".")[0]) if version.startswith("v") else None


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """app.py, cdk.json and the configuration, with a prod environment the loader refuses: the app starts
    the jsii runtime (``import aws_cdk``), then stops at the configuration error, before synthesis."""
    copy = tmp_path_factory.mktemp("project")
    for folder in CONFIGURATION_FOLDERS:
        shutil.copytree(ROOT / folder, copy / folder)
    for file in ("app.py", "cdk.json"):
        shutil.copy2(ROOT / file, copy / file)
    for package in ("stacks", "compliance"):  # the app's own packages, not installed
        (copy / package).symlink_to(ROOT / package, target_is_directory=True)
    (copy / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    prod = copy / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("removal_policy: retain", "removal_policy: destroy"))
    return copy


def _run_as_the_cli_does(project: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """cdk.json's "app" command, in a shell, with what the CLI sets: CDK_OUTDIR and CDK_CONTEXT_JSON."""
    cdk_json = json.loads((project / "cdk.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JSII_", "CDK_"))}
    env.update(
        CDK_OUTDIR=str(project / "cdk.out"), CDK_CONTEXT_JSON=json.dumps(cdk_json["context"]), **extra_env
    )
    return subprocess.run(
        cdk_json["app"], shell=True, cwd=project, env=env, capture_output=True, text=True, check=False
    )


BANNER = "is end-of-life and not supported anymore"


@pytest.mark.slow
@pytest.mark.skipif(_node_major() != 20, reason="jsii prints its end-of-life banner on Node 20 only")
def test_the_app_started_as_the_cli_does_prints_no_node_banner(project_copy: Path) -> None:
    # GIVEN a caller that silences nothing (a direct `npx cdk synth` without make's environment)
    # WHEN the CLI's app command runs up to the configuration error, after the jsii runtime started
    result = _run_as_the_cli_does(project_copy, {})
    # THEN the app's own message is there and the 11-line banner is not
    assert result.returncode == 1
    assert "removal_policy: must be retain in a production environment" in result.stderr
    assert BANNER not in result.stderr + result.stdout


@pytest.mark.slow
@pytest.mark.skipif(_node_major() != 20, reason="jsii prints its end-of-life banner on Node 20 only")
def test_the_banner_check_can_fail(project_copy: Path) -> None:
    # A caller's own setting wins (setdefault): one that silences another Node version gets the banner,
    # which shows that the run above did start the jsii runtime on a Node that prints it.
    result = _run_as_the_cli_does(project_copy, {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18"})
    assert result.returncode == 1
    assert BANNER in result.stderr
