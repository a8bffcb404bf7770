"""Init stays cheap: what importing the handler loads, in a fresh interpreter.

How long the import takes depends on the machine, so it is measured by the benchmark (item 3, cold start
against a bare `import boto3` in the same run), not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.lambdas.orchestrator_testkit import PROJECT_ROOT, sample_resources, sample_runtime_config

PROBE = """
import json, sys
import lambdas.orchestrator.handler
print(json.dumps({"modules": sorted(sys.modules)}))
"""


def test_handler_import_loads_no_heavy_modules(tmp_path: Path) -> None:
    config = tmp_path / "runtime_config.json"
    config.write_text(json.dumps(sample_runtime_config()))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT),
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "BEDROCK_RESOURCES": json.dumps(sample_resources()),
        "IDEMPOTENCY_TABLE": "idempotency",
        "POWERTOOLS_SERVICE_NAME": "orchestrator",
        "POWERTOOLS_METRICS_NAMESPACE": "BedrockPlatform",
        "RUNTIME_CONFIG_PATH": str(config),
    }

    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    top_level = {name.split(".")[0] for name in report["modules"]}
    # not at init: pydantic / Powertools Parser, the X-Ray SDK, boto3 (botocore is enough), idempotency
    assert not top_level & {"pydantic", "aws_xray_sdk", "boto3", "moto", "yaml", "jsonschema"}
    assert not [m for m in report["modules"] if m.startswith("aws_lambda_powertools.utilities.parser")]
    assert not [m for m in report["modules"] if m.startswith("aws_lambda_powertools.utilities.idempotency")]
    assert "botocore.session" not in report["modules"]  # clients are created on first use
