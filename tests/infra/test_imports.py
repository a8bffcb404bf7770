"""The repository's constructs/ folder must never shadow the `constructs` library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import constructs

ROOT = Path(__file__).resolve().parents[2]


def test_constructs_resolves_to_the_library_not_the_repository_folder() -> None:
    from constructs import Construct

    assert Construct.__module__ == "constructs"
    library = Path(constructs.__file__).resolve()
    assert "site-packages" in library.parts
    assert library.parent != ROOT / "constructs"


def test_the_repository_folder_is_importable_as_bedrock_constructs() -> None:
    import bedrock_constructs.nag

    assert Path(bedrock_constructs.nag.__file__).resolve() == ROOT / "constructs" / "nag.py"


@pytest.mark.slow
def test_running_from_the_repository_root_still_gets_the_library() -> None:
    # `python app.py` puts the repository root first on sys.path, where constructs/ lives.
    code = (
        "import sys, constructs; from constructs import Construct; "
        "import bedrock_constructs.guardrail; print(constructs.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(ROOT / "constructs") not in result.stdout
    assert "site-packages" in result.stdout


def test_no_init_file_turns_the_folder_into_a_shadowing_package() -> None:
    assert not (ROOT / "constructs" / "__init__.py").exists()


@pytest.mark.slow
def test_synth_and_the_lambdas_never_import_the_evaluation_harness() -> None:
    # inspect-ai (the `eval` extra) stays out of synth and of every Lambda: the stacks, the configuration and
    # the handler modules import neither it nor the evaluation package.
    code = (
        "import sys; import stacks.platform, platform_config, platform_spec.scoring, platform_spec.evaluation, "
        "lambdas.orchestrator.bedrock, lambdas.orchestrator.validation; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'inspect_ai', 'evaluation'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
        env={"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == "[]", result.stderr
