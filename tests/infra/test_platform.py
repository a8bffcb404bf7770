"""The app: one stage per environment, in its own account and region, with its contracts only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from platform_config import PlatformConfig
from platform_config.naming import pascal
from tests.infra.conftest import ROOT, Synthesized
from tests.support.contracts import enabled_use_cases


def test_one_stage_per_environment_in_its_account_and_region(synthesized: Synthesized) -> None:
    assert {(s.name, s.account, s.region) for s in synthesized.stacks} == {
        ("Dev/Platform", "111111111111", "us-east-1"),
        ("Staging/Platform", "222222222222", "us-east-1"),
        ("Prod/Platform", "333333333333", "us-west-2"),
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_only_contracts_enabled_in_an_environment_are_deployed(synthesized: Synthesized, env: str) -> None:
    # what each contract file's `environments` list says, read without the loader
    use_cases = enabled_use_cases(env)
    assert use_cases  # every shipped environment runs at least one use case
    guardrails = synthesized.platform(env).find_resources("AWS::Bedrock::Guardrail")
    assert {g["Properties"]["Name"] for g in guardrails.values()} == {f"{env}-{u}" for u in use_cases}
    assert set(synthesized.stages[env].platform.use_cases) == use_cases


def test_production_stacks_have_termination_protection(synthesized: Synthesized) -> None:
    assert synthesized.stages["prod"].platform.termination_protection is True
    assert synthesized.stages["dev"].platform.termination_protection is False


def test_environment_tags_reach_resources(synthesized: Synthesized, config: PlatformConfig) -> None:
    for env in config.environments:
        buckets = synthesized.platform(env.name).find_resources("AWS::S3::Bucket")
        for bucket in buckets.values():
            tags = {t["Key"]: t["Value"] for t in bucket["Properties"]["Tags"]}
            assert {k: tags.get(k) for k in env.tags} == env.tags


def test_outputs_name_every_profile_and_guardrail_version(
    synthesized: Synthesized, config: PlatformConfig
) -> None:
    outputs = synthesized.platform_json("prod")["Outputs"]
    for contract in config.contracts_for("prod"):
        name = pascal(contract.id)
        assert {
            f"{name}GuardrailId",
            f"{name}GuardrailVersion",
            *(f"{name}{pascal(route)}ProfileArn" for route in contract.routes),
        } <= set(outputs)
    assert "InvocationLogBucketName" in outputs


def test_a_bad_configuration_stops_app_py_before_synthesis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a copy of the project whose prod environment asks to destroy data
    for folder in ("environments", "contracts", "prompts"):
        (tmp_path / folder).mkdir()
        for file in (ROOT / folder).glob("*.yaml"):
            (tmp_path / folder / file.name).write_text(file.read_text())
    prod = tmp_path / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("removal_policy: retain", "removal_policy: destroy"))
    (tmp_path / "app.py").write_text((ROOT / "app.py").read_text())
    # WHEN app.py runs
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "CDK_OUTDIR": str(tmp_path / "out"),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        },
    )
    # THEN it exits 1 with the file, field, value and fix, and writes no assembly
    assert result.returncode == 1
    assert "environments/prod.yaml:" in result.stderr
    assert "removal_policy: must be retain in a production environment" in result.stderr
    assert "(got 'destroy')" in result.stderr and "Fix: set removal_policy: retain" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
