r"""``python -m delivery.release``: the pipeline's two release-bookkeeping steps, on its artifact bucket.

    python -m delivery.release review --environment prod --assembly cdk.out --bucket B --execution E \
        [--evaluation-results gate-results/eval-staging/results.json]
    python -m delivery.release record --environment prod --assembly cdk.out --bucket B --execution E

``review`` (before the manual approval): downloads the last release to the environment
(``releases/<env>/cdk.out/``, each object at the version ``RELEASE`` lists), writes the candidate's review pack against it (``python -m compliance.report
--env <Env> --against``; without a last release, the pack alone) and uploads that pack (``<Env>.html`` and
``<Env>.md``, not the other environments' packs ``make synth`` left in the assembly) to
``review/<execution>/``, where the approval links; with ``--evaluation-results`` (the pipeline passes the
readiness gate's evaluation run of the candidate) the pack's Evaluation section and its quality-gate evidence
are that run's. ``record`` (after a clean bake): makes this assembly the
last release to the environment (``releases/<env>/cdk.out/``, objects of the previous release removed, the
bucket keeps their versions; one S3 does not delete stops the step with its key and S3's error code) and
writes ``releases/<env>/RELEASE``: the execution on its first line, then the S3 version of each object of
the release (JSON). That one write is what makes the assembly the last release: a record stopped half-way
(its container killed) leaves RELEASE listing the previous release's versions, which the versioned bucket
keeps, so the next review compares with a whole release, never a mix of two. A RELEASE without versions
(written before them, or on an unversioned bucket) is read as the objects under the prefix.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from platform_config.naming import pascal
from platform_spec.delivery import RELEASES_PREFIX, REVIEW_PREFIX, readiness_results_file, release_prefix

#: DeleteObjects takes 1,000 keys per request
#: (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
DELETE_BATCH = 1000


class MissingEvaluationResults(FileNotFoundError):
    """``--evaluation-results`` names no file."""


class StaleObjectsNotDeleted(RuntimeError):
    """S3 refused to delete some objects of the last release (DeleteObjects answers 200 and lists them in
    ``Errors``)."""


def download(s3: Any, bucket: str, prefix: str, into: Path) -> int:
    """Every object under ``prefix`` into ``into`` (keys relative to the prefix); how many."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            target = into / item["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
            count += 1
    return count


def release_marker(environment: str) -> str:
    """The object that names the last release to ``environment`` and lists its objects' versions."""
    return f"{RELEASES_PREFIX}/{environment}/RELEASE"


def current_versions(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """The version ID of each current object under ``prefix`` (ListObjectVersions' latest versions that are
    not delete markers: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html), by
    key; "null" on a bucket that was never versioned."""
    return {
        version["Key"]: version["VersionId"]
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for version in page.get("Versions", [])
        if version.get("IsLatest")
    }


def download_release(s3: Any, bucket: str, environment: str, into: Path) -> tuple[int, str | None]:
    """The last release to ``environment`` into ``into``: each object at the version ``RELEASE`` lists
    (GetObject with VersionId reads a version that is no longer current:
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html), or, for a RELEASE without versions
    or none, every object under the release prefix. How many, and the pipeline execution that recorded it
    (RELEASE's first line; None without one)."""
    prefix = release_prefix(environment)
    try:
        lines = (
            s3.get_object(Bucket=bucket, Key=release_marker(environment))["Body"].read().decode().splitlines()
        )
    except s3.exceptions.NoSuchKey:
        lines = []
    execution = (lines[0].strip() or None) if lines else None
    versions = json.loads(lines[1]).get("versions") if len(lines) > 1 else None
    if not versions:
        return download(s3, bucket, prefix, into), execution
    for key, version in versions.items():
        target = into / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        extra = {"VersionId": version} if version != "null" else None
        s3.download_file(bucket, key, str(target), ExtraArgs=extra)
    return len(versions), execution


def upload(
    s3: Any,
    bucket: str,
    folder: Path,
    prefix: str,
    *,
    replace: bool = False,
    names: Collection[str] | None = None,
) -> int:
    """Every file of ``folder`` (or only those whose path in it is one of ``names``) under ``prefix``; with
    ``replace``, objects under ``prefix`` that the folder no longer has are deleted first. How many files."""
    files = {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (names is None or path.relative_to(folder).as_posix() in names)
    }
    if replace:
        stale = [
            {"Key": item["Key"]}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if item["Key"][len(prefix) :] not in files
        ]
        _delete(s3, bucket, prefix, stale)
    for key, path in files.items():
        s3.upload_file(str(path), bucket, prefix + key)
    return len(files)


def _delete(s3: Any, bucket: str, prefix: str, objects: list[dict[str, str]]) -> None:
    """Delete ``objects``; a key S3 did not delete (it answers 200 and lists it in ``Errors``) raises
    :class:`StaleObjectsNotDeleted` naming every such key and its error code."""
    errors: list[dict[str, str]] = []
    for start in range(0, len(objects), DELETE_BATCH):
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": objects[start : start + DELETE_BATCH], "Quiet": True}
        )
        errors += answer.get("Errors") or []
    if errors:
        by_code: dict[str, list[str]] = {}
        for error in errors:
            code = f"{error.get('Code', '?')} ({error.get('Message', 'no message')})"
            by_code.setdefault(code, []).append(error.get("Key", "?"))
        failed = "; ".join(f"{code}: {', '.join(sorted(keys))}" for code, keys in sorted(by_code.items()))
        raise StaleObjectsNotDeleted(
            f"S3 did not delete {len(errors)} of the {len(objects)} objects of the last release under "
            f"s3://{bucket}/{prefix}: {failed}. Fix: let this step delete under {prefix} (the RecordRelease "
            "step's role is granted s3:DeleteObject* there by constructs/delivery/pipeline.py; AccessDenied "
            "means that grant, or a bucket or key policy, is missing), then retry the step."
        )


def review(
    s3: Any,
    *,
    bucket: str,
    environment: str,
    assembly: Path,
    execution: str,
    out: Path,
    evaluation_results: Path | None = None,
) -> tuple[bool, int]:
    """Write the review pack of ``assembly``'s environment into ``out`` (inside the assembly), against the
    last release if there is one, its evaluation evidence from ``evaluation_results`` if given, and upload
    it. Returns (compared with a last release, files uploaded)."""
    if evaluation_results is not None and not evaluation_results.is_file():
        raise MissingEvaluationResults(
            f"--evaluation-results {evaluation_results}: no such file. The readiness gate writes it "
            f"(python -m delivery.gates readiness --env <environment>: {readiness_results_file('<environment>')} "
            "with its default --out); "
            "in the pipeline it is the ReadinessResults artifact of the readiness step. Fix: pass the file the "
            "gate wrote, or leave the option out (the pack then shows the evaluation evidence as NOT RUN)"
        )
    with tempfile.TemporaryDirectory(prefix="last-release-") as folder:
        baseline = Path(folder) / "cdk.out"
        count, recorded_by = download_release(s3, bucket, environment, baseline)
        has_baseline = count > 0
        command = [
            sys.executable,
            "-m",
            "compliance.report",
            str(assembly),
            "--env",
            pascal(environment),
            "--out",
            str(out),
        ]
        if has_baseline:
            # named for the approver: the temporary folder it was downloaded to means nothing to them
            by = (
                f"recorded by pipeline execution {recorded_by}"
                if recorded_by
                else "its recording execution unknown"
            )
            command += [
                "--against",
                str(baseline),
                "--against-label",
                f"the last release to {environment}, {by}",
            ]
        if evaluation_results is not None:
            command += ["--evaluation-results", str(evaluation_results.resolve())]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parents[1])
    # The pack of this environment alone (compliance.report writes <Env>.html and <Env>.md): in the pipeline
    # ``out`` already holds the Build step's `make synth` pack of every environment, which has neither the
    # diff against the last release nor the readiness gate's run, and is not what the approver reviews.
    pack = [f"{pascal(environment)}{suffix}" for suffix in (".html", ".md")]
    return has_baseline, upload(s3, bucket, out, f"{REVIEW_PREFIX}/{execution}/", names=pack)


def record(s3: Any, *, bucket: str, environment: str, assembly: Path, execution: str) -> int:
    """``assembly`` as the last release to ``environment`` (module docstring): its objects, then RELEASE
    naming ``execution`` and listing their versions, the one write that makes it the last release."""
    prefix = release_prefix(environment)
    count = upload(s3, bucket, assembly, prefix, replace=True)
    versions = current_versions(s3, bucket, prefix)
    body = f"{execution}\n{json.dumps({'versions': versions}, sort_keys=True)}\n"
    s3.put_object(Bucket=bucket, Key=release_marker(environment), Body=body.encode())
    return count


#: Where the environments are declared: ``--environment`` must name one of them (the pipeline passes
#: ``environment.name``; the release prefix is keyed by it, so "Prod" would record beside "prod").
ENVIRONMENTS_DIR = Path(__file__).resolve().parents[1] / "environments"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m delivery.release",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        choices=("review", "record"),
        help="review: write and upload the candidate's review pack (before the approval); "
        "record: keep this assembly as the environment's last release (after a clean bake)",
    )
    parser.add_argument(
        "--environment",
        required=True,
        help="an environment's name, as in environments/<name>.yaml (e.g. prod)",
    )
    parser.add_argument(
        "--assembly",
        type=Path,
        default=Path("cdk.out"),
        help="the synthesized cloud assembly (default: cdk.out)",
    )
    parser.add_argument("--bucket", required=True, help="the pipeline's artifact bucket")
    parser.add_argument("--execution", required=True, help="the pipeline execution id")
    parser.add_argument(
        "--evaluation-results",
        type=Path,
        help="review: the readiness gate's evaluation run of this candidate (results.json), the pack's evidence",
    )
    args = parser.parse_args(argv)
    known = sorted(path.stem for path in ENVIRONMENTS_DIR.glob("*.yaml"))
    if args.environment not in known:
        near = [name for name in known if name.lower() == args.environment.lower()]
        parser.error(
            f"--environment {args.environment!r}: there is no environments/{args.environment}.yaml "
            f"(environments: {', '.join(known)}). Fix: --environment {near[0] if near else '<one of them>'}"
        )
    import boto3

    s3 = boto3.client("s3")
    if args.command == "review":
        try:
            compared, count = review(
                s3,
                bucket=args.bucket,
                environment=args.environment,
                assembly=args.assembly,
                execution=args.execution,
                out=args.assembly / "review-pack",
                evaluation_results=args.evaluation_results,
            )
        except MissingEvaluationResults as error:
            print(f"delivery.release review: {error}", file=sys.stderr)
            return 2
        against = "against the last release" if compared else "with no earlier release to compare"
        print(
            f"review pack of {args.environment} {against}: {count} files in s3://{args.bucket}/{REVIEW_PREFIX}/{args.execution}/"
        )
    else:
        count = record(
            s3,
            bucket=args.bucket,
            environment=args.environment,
            assembly=args.assembly,
            execution=args.execution,
        )
        print(f"release {args.execution} recorded for {args.environment}: {count} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
