"""`make demo` works as a newcomer runs it: real contracts, the local Bedrock stub, exit code 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_answers_with_the_repository_contracts_and_falls_back_when_throttled() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # the short sample ticket is routed by the contract's "light" tier, and its system prompt is the repo's
    assert '"route": "light"' in result.stdout
    assert '"promptVersion":"v1"' in result.stdout
    assert "Bedrock calls: ['supporligh', 'supporligh', 'supporligh', 'supporfall']" in result.stdout
