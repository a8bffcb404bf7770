"""`make review-demo` (`python -m human_review exercise --target offline`) works as a newcomer runs it, and
the command a staging readiness gate runs refuses bad usage with exit 2 and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from human_review.__main__ import main
from human_review.exercise import choose_use_case
from platform_config import load_platform

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_review_demo_walks_the_path_end_to_end_with_the_repository_contracts() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "human_review", "exercise", "--target", "offline"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    steps = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("  ok ")]
    # the walk a newcomer sees: a use case of dev that holds its answers (every step), else one whose
    # flagged outputs go to people (no hold to fetch, release, give feedback on or correct)
    contracts = {c.id: c for c in load_platform(ROOT).contracts_for("dev")}
    use_case = contracts[choose_use_case(contracts)]
    assert f"human review path of {use_case.id} (offline)" in result.stdout
    if use_case.review.hold_for_review:
        assert steps == [str(i) for i in range(1, 12)], result.stdout
        assert "202 held" in result.stdout and "200 released" in result.stdout
    else:
        assert steps == ["1", "3", "4", "4b", "5", "6", "7", "9"], result.stdout
        assert f"caller asked {use_case.id}: 200 answered" in result.stdout
    assert "works end to end (offline)" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["exercise", "--target", "nowhere"], "no such environment"),
        (["exercise", "--use-case", "no-such-use-case"], "not enabled here"),
        (["exercise", "--target", "prod", "--use-case", "rfp-drafting"], "not enabled here"),
    ],
)
def test_bad_usage_exits_2_with_the_fix(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_deployed_target_without_the_review_outputs_exits_2_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"Staging-Platform": {"ApiUrl": "https://example.invalid/v1/"}}))
    assert main(["exercise", "--target", "staging", "--outputs-file", str(outputs)]) == 2
    err = capsys.readouterr().err
    assert "ReviewerRoleArn" in err and "deploy this commit first" in err
