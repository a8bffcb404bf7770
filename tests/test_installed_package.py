"""The libraries work when installed, not only from this checkout.

A wheel is built from the sources (offline, with the locked build backend uv already cached), installed
into a new virtual environment that borrows only the third-party dependencies of ``.venv``, and a tiny CDK
app in a folder outside the repository, with its own configuration files, synthesizes a
``GovernedUseCase`` and an ``OrchestratorFunction`` with the Lambda code the wheel carries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.support.contracts import example_file, example_files

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".venv" / "bin" / "uv"
#: What the wheel is built from (pyproject.toml's packages and their package-dir folders).
SOURCES = ("pyproject.toml", "constructs", "lambdas", "devtools", "platform_config", "platform_spec")

APP = textwrap.dedent(
    """
    import importlib.util, json, sys
    from pathlib import Path

    import aws_cdk as cdk

    from bedrock_constructs.orchestration_api import OrchestratorFunction
    from bedrock_constructs.use_case import GovernedUseCase
    from bedrock_platform_lambdas import ORCHESTRATOR_CODE_DIRECTORY
    from platform_config import load_platform

    config = load_platform(Path.cwd())  # this app's own environments/, contracts/ and prompts/
    env = config.environment("dev")
    (contract,) = config.contracts_for("dev")
    app = cdk.App(outdir=sys.argv[1])
    stack = cdk.Stack(app, "Tiny", env=cdk.Environment(account=env.account, region=env.region))
    use_case = GovernedUseCase(stack, "UseCase", contract=contract, environment=env.name)
    OrchestratorFunction(
        stack,
        "Orchestrator",
        use_cases=[use_case],
        environment=env.name,
        code_directory=ORCHESTRATOR_CODE_DIRECTORY,
        reserved_concurrency=1,
    )
    app.synth()
    names = ("bedrock_constructs.use_case", "bedrock_platform_lambdas", "platform_config", "platform_spec")
    print(json.dumps({
        "files": {name: sys.modules[name].__file__ for name in names},
        "code": str(ORCHESTRATOR_CODE_DIRECTORY),
        "importable": {n: importlib.util.find_spec(n) is not None for n in ("stacks", "compliance", "lambdas", "tests")},
    }))
    """
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists():
        pytest.skip("uv is installed by `make install`")
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(UV), "build", "--wheel", "--offline", "--quiet", "--out-dir", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (built,) = dist.glob("*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_the_code_and_data_the_constructs_need_and_no_generic_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "bedrock_constructs/nag.py",
        "bedrock_constructs/orchestration_api/function.py",
        "bedrock_platform_lambdas/orchestrator/handler.py",
        "bedrock_platform_lambdas/empty_bucket/handler.py",
        "platform_spec/runtime.py",
        "platform_config/data/model_catalog.yaml",
        "platform_config/schemas/contract.schema.json",
        "bedrock_platform_devtools/bedrock_stub.py",
        "bedrock_platform_devtools/events/invoke_support_ticket_summary.json",
    ):
        assert needed in names, needed
    top_level = {name.split("/", 1)[0] for name in names if not name.startswith("bedrock_platform-")}
    assert top_level == {
        "bedrock_constructs",
        "bedrock_platform_devtools",
        "bedrock_platform_lambdas",
        "platform_config",
        "platform_spec",
    }


@pytest.mark.slow
def test_an_app_outside_the_repository_synthesizes_with_the_installed_package(
    wheel: Path, tmp_path: Path
) -> None:
    # GIVEN a virtual environment with the wheel installed, and only the third-party packages of .venv
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # A path line, not a site directory: .venv's own .pth files (the editable install of this checkout)
    # are not run, so nothing of the checkout can be imported.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--offline", "--no-deps", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # and an app of its own, outside the repository, with its own configuration files
    app = tmp_path / "app"
    shutil.copytree(ROOT / "environments", app / "environments")
    # one use case, the policy-qa example (the tests' copy where the repository retired it): its contract,
    # its prompt, and the suites and rubric its evaluation section names, which live beside it
    for relative in example_files("policy-qa"):
        (app / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(example_file(str(relative)), app / relative)
    (app / "app.py").write_text(APP)

    # WHEN it synthesizes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "CDK_", "VIRTUAL_ENV"))}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    result = subprocess.run(
        [str(python), "app.py", str(tmp_path / "cdk.out")],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    # THEN every module and the Lambda code came from the installed package, not from the checkout
    assert all(Path(f).is_relative_to(venv) for f in report["files"].values()), report["files"]
    assert Path(report["code"]).is_relative_to(venv)
    assert report["importable"] == {"stacks": False, "compliance": False, "lambdas": False, "tests": False}
    # and the template and the asset are what the constructs promise
    template = json.loads((tmp_path / "cdk.out" / "Tiny.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    # policy-qa: primary, fallback and its judge (model-graded evaluation)
    assert types.count("AWS::Bedrock::ApplicationInferenceProfile") == 3
    assert {"AWS::Bedrock::Guardrail", "AWS::Bedrock::GuardrailVersion", "AWS::Lambda::Function"} <= set(
        types
    )
    (asset,) = [a for a in (tmp_path / "cdk.out").glob("asset.*") if (a / "orchestrator").is_dir()]
    assert (asset / "orchestrator" / "handler.py").read_bytes() == (
        ROOT / "lambdas" / "orchestrator" / "handler.py"
    ).read_bytes()
    assert (asset / "platform_spec" / "runtime.py").is_file()
    runtime_config = json.loads((asset / "orchestrator" / "runtime_config.json").read_text())
    assert list(runtime_config["use_cases"]) == ["policy-qa"]
