"""Session-wide test set-up: no AWS credentials or endpoints leak in from the machine."""

from __future__ import annotations

import os
import tempfile

# cfn-lint results are cached by content (compliance/lint.py): a test session starts with an empty cache
# of its own, so no result depends on what an earlier run left behind, and later synths of the session
# reuse what the first one linted. The pytest-xdist workers inherit the controller's environment, so
# they share the session's cache: a template both workers synthesize at once is linted by one of them
# while the other waits for its result (compliance/lint.py, _claim).
os.environ["BEDROCK_PLATFORM_TEST_SESSION_CACHE"] = os.environ.get(
    "BEDROCK_PLATFORM_TEST_SESSION_CACHE"
) or tempfile.mkdtemp(prefix="bedrock-platform-test-")  # made by the controller only, not each worker
os.environ["BEDROCK_PLATFORM_CACHE_DIR"] = os.environ["BEDROCK_PLATFORM_TEST_SESSION_CACHE"]

# Before anything imports aws_cdk (tests.support.synth does): the jsii runtime prints its Node 20
# end-of-life banner when it starts, as app.py explains.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest

from bedrock_platform_devtools.botocore_cache import share_data_loader
from tests.support.synth import config, synthesized

# Most tests start fresh boto3 sessions (moto fixtures, handlers imported anew as at a cold start): one
# parsed copy of botocore's model files for all of them (bedrock_platform_devtools/botocore_cache.py).
share_data_loader()

__all__ = ["config", "synthesized"]


@pytest.fixture(autouse=True, scope="session")
def _no_real_aws() -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
