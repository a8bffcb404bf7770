"""Empty an S3 bucket (every object version and delete marker) when CloudFormation deletes it.

A CloudFormation custom resource (``Custom::EmptyBucketOnDelete``, property ``BucketName``):

- ``Create``: nothing to do;
- ``Update`` that changes ``BucketName``: CloudFormation is replacing the bucket and will delete the old
  one, so the old bucket is emptied;
- ``Delete``: the bucket is emptied, so CloudFormation can delete it.

A bucket is emptied only while it carries the tag ``bedrock-platform:empty-on-delete=true``. The
construct tags only buckets whose removal policy is DESTROY; when a bucket's removal policy changes to
RETAIN, CloudFormation removes the tag in the same update before it deletes this custom resource, so a
retained bucket is never emptied. Before emptying, a bucket policy statement denies new objects, so log
deliveries that arrive meanwhile cannot leave the bucket non-empty again.

Every outcome is reported to CloudFormation's pre-signed response URL; a failure reports FAILED with the
error, so the stack event names it instead of waiting for a timeout.

Runs on the Lambda runtime's boto3 (no dependencies to package). Nothing runs at import but creating
the client.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

from . import EMPTY_ON_DELETE_TAG

DENY_WRITES_SID = "DenyWritesWhileEmptyingForDelete"
#: ``DeleteObjects`` takes at most 1,000 keys per request.
BATCH = 1000

logger = logging.getLogger()
logger.setLevel(logging.INFO)
s3 = boto3.client("s3")


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    status, reason = "SUCCESS", ""
    try:
        handle(event, s3, partition=_partition(getattr(context, "invoked_function_arn", "")))
    except Exception as error:  # reported to CloudFormation, which records it as the stack event
        logger.exception("request %s failed", event.get("RequestId"))
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    respond(event, context, status, reason)


def handle(event: dict[str, Any], client: Any, *, partition: str = "aws") -> None:
    """Do what ``event`` asks of the bucket named in its ``ResourceProperties``."""
    bucket = event["ResourceProperties"]["BucketName"]
    kind = event["RequestType"]
    if kind == "Delete":
        empty_if_tagged(client, bucket, partition)
    elif kind == "Update":
        old = (event.get("OldResourceProperties") or {}).get("BucketName")
        if old and old != bucket:
            empty_if_tagged(client, old, partition)


def empty_if_tagged(client: Any, bucket: str, partition: str = "aws") -> bool:
    """Empty ``bucket`` if it carries the empty-on-delete tag; ``False`` if it does not (or is gone)."""
    try:
        tags = client.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("NoSuchBucket", "NoSuchTagSet"):
            logger.info("bucket %s: %s, nothing to empty", bucket, code)
            return False
        raise
    if not any(t.get("Key") == EMPTY_ON_DELETE_TAG and t.get("Value") == "true" for t in tags):
        logger.info("bucket %s is not tagged %s=true, left as it is", bucket, EMPTY_ON_DELETE_TAG)
        return False
    deny_new_objects(client, bucket, partition)
    deleted = empty(client, bucket)
    logger.info("bucket %s: deleted %d object versions and delete markers", bucket, deleted)
    return True


def deny_new_objects(client: Any, bucket: str, partition: str = "aws") -> None:
    """Add a statement to the bucket policy that refuses every new object."""
    try:
        policy = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
            raise
        policy = {"Version": "2012-10-17", "Statement": []}
    statements = [s for s in policy.get("Statement", []) if s.get("Sid") != DENY_WRITES_SID]
    statements.append(
        {
            "Sid": DENY_WRITES_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:{partition}:s3:::{bucket}/*",
        }
    )
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**policy, "Statement": statements}))


def _versions(client: Any, bucket: str) -> Iterator[dict[str, str]]:
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            yield {"Key": entry["Key"], "VersionId": entry["VersionId"]}


def empty(client: Any, bucket: str) -> int:
    """Delete every object version and delete marker of ``bucket``; the number deleted."""
    deleted = 0
    batch: list[dict[str, str]] = []

    def flush() -> None:
        nonlocal deleted
        if not batch:
            return
        result = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        errors = result.get("Errors", [])
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"could not delete {len(errors)} objects from {bucket}, e.g. {first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message')}"
            )
        deleted += len(batch)
        batch.clear()

    # Listing and deleting interleave: collect a page's worth, delete it, go on with the listing.
    for entry in _versions(client, bucket):
        batch.append(entry)
        if len(batch) == BATCH:
            flush()
    flush()
    return deleted


def respond(event: dict[str, Any], context: Any, status: str, reason: str = "") -> None:
    """Send the result to CloudFormation's pre-signed response URL."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": (reason or f"See CloudWatch Logs stream {getattr(context, 'log_stream_name', '?')}")[
                :1000
            ],
            "PhysicalResourceId": event.get("PhysicalResourceId")
            or f"empty-on-delete-{event['ResourceProperties']['BucketName']}",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        logger.info("CloudFormation response: %s %s", response.status, status)


def _partition(function_arn: str) -> str:
    parts = function_arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"
