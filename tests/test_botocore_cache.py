"""The test suite's shared botocore data loader (bedrock_platform_devtools/botocore_cache.py)."""

from __future__ import annotations

import boto3

from bedrock_platform_devtools.botocore_cache import share_data_loader


def test_every_new_session_parses_the_model_files_once_and_keeps_each_search_path_once() -> None:
    share_data_loader()  # tests/conftest.py did already; calling it again changes nothing
    first, second = boto3.Session(region_name="us-east-1"), boto3.Session(region_name="eu-west-1")
    loader = first._session.get_component("data_loader")
    assert second._session.get_component("data_loader") is loader
    assert len(loader.search_paths) == len(set(loader.search_paths))  # boto3 appended its data folder once
    # a model loaded for one session is the very object the other session's clients get
    one = first.client("dynamodb")._service_model._service_description
    other = second.client("dynamodb")._service_model._service_description
    assert one is other
    assert second.client("dynamodb").meta.region_name == "eu-west-1"  # each client keeps its own settings
