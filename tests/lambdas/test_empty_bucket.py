"""The bucket-emptying custom resource against moto's S3, and its response to CloudFormation's URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any, ClassVar

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bedrock_platform_devtools.serving import serving_in_background
from lambdas.empty_bucket import EMPTY_ON_DELETE_TAG, handler

BUCKET = "invocation-logs-dev"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        existing = {
            "Sid": "AllowBedrockInvocationLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/invocation-logs/*",
        }
        for key in ("invocation-logs/a.json", "invocation-logs/b.json", "large-data/c.json"):
            client.put_object(Bucket=BUCKET, Key=key, Body=b"1")
            client.put_object(Bucket=BUCKET, Key=key, Body=b"2")  # a second version
        client.delete_object(Bucket=BUCKET, Key="large-data/c.json")  # a delete marker
        client.put_bucket_policy(
            Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [existing]})
        )
        yield client


def _tag(client: Any, value: str = "true") -> None:
    client.put_bucket_tagging(
        Bucket=BUCKET, Tagging={"TagSet": [{"Key": EMPTY_ON_DELETE_TAG, "Value": value}]}
    )


def _left(client: Any) -> int:
    listing = client.list_object_versions(Bucket=BUCKET)
    return len(listing.get("Versions", [])) + len(listing.get("DeleteMarkers", []))


def _event(
    kind: str, bucket: str = BUCKET, old: str | None = None, url: str = "http://127.0.0.1:9/"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/Dev-Platform/1",
        "RequestId": "req-1",
        "LogicalResourceId": "InvocationLoggingEmptyBucketsOnDeleteBucket0",
        "ResourceType": "Custom::EmptyBucketOnDelete",
        "ResourceProperties": {"BucketName": bucket},
    }
    if kind != "Create":
        event["PhysicalResourceId"] = f"empty-on-delete-{old or bucket}"
    if old is not None:
        event["OldResourceProperties"] = {"BucketName": old}
    return event


def test_delete_empties_every_version_and_marker_and_refuses_new_objects(s3: Any) -> None:
    # GIVEN a tagged bucket with 6 object versions and 1 delete marker
    _tag(s3)
    assert _left(s3) == 7
    # WHEN CloudFormation deletes it
    handler.handle(_event("Delete"), s3)
    # THEN nothing is left, and the bucket policy keeps its statements and now refuses new objects
    assert _left(s3) == 0
    statements = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["AllowBedrockInvocationLogDelivery", handler.DENY_WRITES_SID]
    assert statements[1] == {
        "Sid": handler.DENY_WRITES_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }


def test_deletes_in_batches(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _tag(s3)
    monkeypatch.setattr(handler, "BATCH", 2)
    calls = []
    original = s3.delete_objects

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Delete"]["Objects"]))
        return original(**kwargs)

    monkeypatch.setattr(s3, "delete_objects", counting)
    assert handler.empty(s3, BUCKET) == 7
    assert calls == [2, 2, 2, 1] and _left(s3) == 0


@pytest.mark.parametrize("tag", [None, "false"])
def test_a_bucket_not_tagged_for_it_is_left_alone(s3: Any, tag: str | None) -> None:
    # A retained bucket: its removal policy changed to RETAIN, which removed the tag before this ran.
    if tag is not None:
        _tag(s3, tag)
    handler.handle(_event("Delete"), s3)
    assert _left(s3) == 7
    assert "DenyWritesWhileEmptying" not in s3.get_bucket_policy(Bucket=BUCKET)["Policy"]


def test_a_bucket_that_is_already_gone_is_not_an_error(s3: Any) -> None:
    handler.handle(_event("Delete", bucket="no-such-bucket"), s3)


def test_create_does_nothing_and_update_empties_only_a_replaced_bucket(s3: Any) -> None:
    _tag(s3)
    handler.handle(_event("Create"), s3)
    handler.handle(_event("Update", old=BUCKET), s3)  # same name: nothing is replaced
    assert _left(s3) == 7
    handler.handle(_event("Update", bucket="invocation-logs-dev-2", old=BUCKET), s3)
    assert _left(s3) == 0


class _CloudFormation(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _CloudFormation.received = []
    with serving_in_background(HTTPServer(("127.0.0.1", 0), _CloudFormation)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/signed", _CloudFormation.received


CONTEXT = SimpleNamespace(
    invoked_function_arn="arn:aws:lambda:us-east-1:111111111111:function:emptier",
    log_stream_name="2026/11/30/x",
)


def test_the_handler_reports_success_to_cloudformation(
    s3: Any, response_url: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = response_url
    _tag(s3)
    monkeypatch.setattr(handler, "s3", s3)
    handler.lambda_handler(_event("Delete", url=url), CONTEXT)
    assert _left(s3) == 0
    (response,) = received
    assert response["Status"] == "SUCCESS"
    assert (response["RequestId"], response["PhysicalResourceId"]) == ("req-1", f"empty-on-delete-{BUCKET}")


def test_the_handler_reports_a_failure_with_its_reason(
    s3: Any, response_url: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = response_url

    class Denied:
        def get_bucket_tagging(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetBucketTagging")

    monkeypatch.setattr(handler, "s3", Denied())
    handler.lambda_handler(_event("Delete", url=url), CONTEXT)
    (response,) = received
    assert response["Status"] == "FAILED"
    assert "AccessDenied" in response["Reason"]
