"""``python -m delivery.release``: the review pack the approver opens (against the last production release
when there is one) and the record of a release, on the artifact bucket (moto's S3); a stale object S3 does
not delete (botocore's Stubber gives DeleteObjects' answer) stops the record with its key and code."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from delivery.release import StaleObjectsNotDeleted, record, review
from delivery.release import main as release_main
from platform_spec.delivery import RELEASES_PREFIX, REVIEW_PREFIX, release_prefix
from platform_spec.evaluation import RunResult
from platform_spec.fields import to_dict
from tests.support.synth import Synthesized

BUCKET = "artifacts"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _keys(s3: Any, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


@pytest.mark.slow
def test_the_review_pack_is_compared_with_the_last_recorded_release(
    s3: Any, synthesized: Synthesized, tmp_path: Path
) -> None:
    assembly = tmp_path / "cdk.out"
    shutil.copytree(synthesized.outdir, assembly)
    # the first release: nothing to compare with, the pack alone
    compared, count = review(
        s3, bucket=BUCKET, environment="prod", assembly=assembly, execution="e1", out=assembly / "review-pack"
    )
    assert not compared and count > 0
    assert f"{REVIEW_PREFIX}/e1/Prod.html" in _keys(s3, f"{REVIEW_PREFIX}/e1/")
    # after its bake, it is recorded as the last production release
    stale = f"{release_prefix('prod')}left-over.json"
    s3.put_object(Bucket=BUCKET, Key=stale, Body=b"{}")
    recorded = record(s3, bucket=BUCKET, environment="prod", assembly=assembly, execution="e1")
    keys = _keys(s3, release_prefix("prod"))
    assert len(keys) == recorded and stale not in keys  # exactly this assembly
    body = s3.get_object(Bucket=BUCKET, Key=f"{RELEASES_PREFIX}/prod/RELEASE")["Body"].read()
    assert body.splitlines()[0] == b"e1"  # the execution first, then the versions of its objects
    # the next candidate's pack is compared with it, and shows the readiness gate's run of the candidate
    readiness_run = _deployed_run(tmp_path / "gate-results" / "eval-staging" / "results.json")
    compared, _ = review(
        s3,
        bucket=BUCKET,
        environment="prod",
        assembly=assembly,
        execution="e2",
        out=assembly / "review-pack-2",
        evaluation_results=readiness_run,
    )
    assert compared
    assert f"{REVIEW_PREFIX}/e2/Prod.html" in _keys(s3, f"{REVIEW_PREFIX}/e2/")
    candidate = (assembly / "review-pack-2" / "Prod.md").read_text(encoding="utf-8")
    first = (assembly / "review-pack" / "Prod.md").read_text(encoding="utf-8")
    assert "Changes against" in candidate and "Changes against" not in first
    # the approver is told which release it is compared with, not where the step downloaded it
    (compared_with,) = [line for line in candidate.splitlines() if "Compared with" in line]
    assert "the last release to prod, recorded by pipeline execution e1" in compared_with, compared_with
    assert "last-release-" not in candidate, "the pack names the step's temporary download folder"
    assert "Latest run: target staging, measured on the deployed environment staging" in candidate
    assert "Latest run: target staging" not in first
    # AND that run, of another commit than the candidate's, is not shown as evidence the gates are met
    (evidence,) = [line for line in candidate.splitlines() if "EVAL-QUALITY-GATE" in line]
    # (the pack's commit is this checkout's: with uncommitted changes, that alone says NOT RUN)
    assert "NOT RUN" in evidence and "measured commit 0123456789ab" in evidence, evidence
    assert "this pack is of commit" in evidence, evidence


@pytest.mark.slow
def test_the_approver_is_given_the_pack_of_the_environment_released_and_nothing_else(
    s3: Any, synthesized: Synthesized, tmp_path: Path
) -> None:
    # GIVEN the pipeline's Build artifact: `make synth` wrote a pack of every environment into
    # cdk.out/review-pack, without the diff against the last release or the readiness gate's run
    assembly = tmp_path / "cdk.out"
    shutil.copytree(synthesized.outdir, assembly)
    (assembly / "review-pack").mkdir(exist_ok=True)
    for env in ("Delivery", "Dev", "Staging", "Prod"):
        for suffix in (".html", ".md"):
            (assembly / "review-pack" / f"{env}{suffix}").write_text("make synth's pack", encoding="utf-8")
    # WHEN the ReleaseDiff step writes the production pack there and uploads it
    _, count = review(
        s3, bucket=BUCKET, environment="prod", assembly=assembly, execution="e1", out=assembly / "review-pack"
    )
    # THEN the approval's folder holds this step's production pack alone
    assert sorted(_keys(s3, f"{REVIEW_PREFIX}/e1/")) == [
        f"{REVIEW_PREFIX}/e1/Prod.html",
        f"{REVIEW_PREFIX}/e1/Prod.md",
    ]
    assert count == 2
    body = s3.get_object(Bucket=BUCKET, Key=f"{REVIEW_PREFIX}/e1/Prod.md")["Body"].read().decode()
    assert "make synth's pack" not in body


def _deployed_run(path: Path) -> Path:
    """A results.json of a run against staging (what the readiness gate writes)."""
    path.parent.mkdir(parents=True)
    run = RunResult(
        target="staging",
        mode="deployed",
        commit="0123456789abcdef",
        dirty=False,
        started_at="2026-12-03T12:00:00Z",
        use_cases={},
        gate_passed=True,
    )
    path.write_text(json.dumps(to_dict(run)), encoding="utf-8")
    return path


def _assembly(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


class _Killed(BaseException):
    """The record step's container stopped (its timeout, a lost host): no Python handler runs after it."""


class _KilledAfterUploads:
    """The S3 client, but the step is killed when it starts its ``uploads + 1``-th upload."""

    def __init__(self, inner: Any, uploads: int) -> None:
        self.inner, self.uploads = inner, uploads

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upload_file(self, *args: Any, **kwargs: Any) -> Any:
        if self.uploads == 0:
            raise _Killed()
        self.uploads -= 1
        return self.inner.upload_file(*args, **kwargs)


def test_a_record_stopped_half_way_leaves_the_last_release_whole_for_the_next_review(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the pipeline's artifact bucket (versioned, as ArtifactStore makes it) with release e1 recorded
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    e1 = {"a.template.json": "a of e1", "b.template.json": "b of e1", "gone.template.json": "only e1"}
    record(s3, bucket=BUCKET, environment="prod", assembly=_assembly(tmp_path / "e1", e1), execution="e1")
    # WHEN e2's record is killed after its first upload (the Prod stage then fails and rolls back to e1)
    e2 = {"a.template.json": "a of e2", "b.template.json": "b of e2", "new.template.json": "only e2"}
    with pytest.raises(_Killed):
        record(
            _KilledAfterUploads(s3, 1),
            bucket=BUCKET,
            environment="prod",
            assembly=_assembly(tmp_path / "e2", e2),
            execution="e2",
        )
    # THEN the next candidate's review pack is compared with e1, whole, not a mix of e1 and half of e2
    baselines: list[dict[str, str]] = []

    def report(command: list[str], **_: Any) -> None:
        folder = Path(command[command.index("--against") + 1])
        baselines.append({p.name: p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()})

    monkeypatch.setattr("delivery.release.subprocess.run", report)
    compared, _ = review(
        s3, bucket=BUCKET, environment="prod", assembly=tmp_path / "e3", execution="e3", out=tmp_path / "pack"
    )
    assert compared and baselines == [e1]


def test_a_review_given_evaluation_results_that_are_not_there_stops_before_writing_a_pack(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gate-results" / "eval-staging" / "results.json"
    argv = ["review", "--environment", "prod", "--assembly", str(tmp_path / "cdk.out"), "--bucket", BUCKET]
    code = release_main([*argv, "--execution", "e1", "--evaluation-results", str(missing)])
    assert code == 2
    error = capsys.readouterr().err
    assert f"--evaluation-results {missing}: no such file" in error and "ReadinessResults artifact" in error
    assert _keys(s3, f"{REVIEW_PREFIX}/") == []


def test_a_stale_object_that_s3_does_not_delete_stops_the_record_with_its_key_and_code(
    tmp_path: Path,
) -> None:
    # GIVEN the last release has two objects this assembly no longer has, and S3 refuses one of them
    # (DeleteObjects answers 200 and lists the refused keys in Errors)
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    (assembly / "manifest.json").write_text("{}", encoding="utf-8")
    prefix = release_prefix("prod")
    stale = [f"{prefix}Old.template.json", f"{prefix}asset.zip"]
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(s3) as stubber:
        stubber.add_response(
            "list_objects_v2",
            {
                "Contents": [{"Key": f"{prefix}manifest.json"}, *({"Key": k} for k in stale)],
                "IsTruncated": False,
            },
            {"Bucket": BUCKET, "Prefix": prefix},
        )
        stubber.add_response(
            "delete_objects",
            {
                "Deleted": [{"Key": stale[1]}],
                "Errors": [{"Key": stale[0], "Code": "AccessDenied", "Message": "Access Denied"}],
            },
            {"Bucket": BUCKET, "Delete": {"Objects": [{"Key": k} for k in stale], "Quiet": True}},
        )
        # WHEN the release is recorded, THEN it stops there (nothing uploaded: the stubber has no PutObject)
        with pytest.raises(StaleObjectsNotDeleted) as raised:
            record(s3, bucket=BUCKET, environment="prod", assembly=assembly, execution="e1")
        stubber.assert_no_pending_responses()
    message = str(raised.value)
    assert f"S3 did not delete 1 of the 2 objects of the last release under s3://{BUCKET}/{prefix}" in message
    assert f"AccessDenied (Access Denied): {stale[0]}." in message and stale[1] not in message
    assert f"Fix: let this step delete under {prefix}" in message


def test_the_help_says_what_each_step_does_and_what_environment_takes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a platform engineer following the README's Deploy table, who runs --help first
    with pytest.raises(SystemExit):
        release_main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    # THEN it says what review and record do, not only that there are two steps
    assert "review: write and upload the candidate's review pack" in text
    assert "record: keep this assembly as the environment's last release" in text
    assert "--environment ENVIRONMENT an environment's name, as in environments/<name>.yaml" in text
    assert "releases/<env>/cdk.out/" in text  # the module's whole description


def test_an_environment_that_is_not_declared_is_refused_before_s3(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the stage's name typed for the environment's ("Prod", as the review pack's files are named)
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    (assembly / "manifest.json").write_text("{}")
    argv = [
        "record",
        "--environment",
        "Prod",
        "--assembly",
        str(assembly),
        "--bucket",
        BUCKET,
        "--execution",
        "e1",
    ]
    # THEN nothing is recorded beside the real prod release, and the error names the fix
    with pytest.raises(SystemExit) as exit_:
        release_main(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "--environment 'Prod': there is no environments/Prod.yaml" in error
    assert error.rstrip().endswith("Fix: --environment prod"), error
    assert _keys(s3, f"{RELEASES_PREFIX}/") == []
