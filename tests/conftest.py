"""Session-wide test set-up: no AWS credentials or endpoints leak in from the machine.

cfn-lint results are cached by content (compliance/lint.py: the key is the template's bytes, its region, the
cfn-lint release and the source of the module that reads cfn-lint's matches, so an entry is exactly what
linting that template again would give). The tests use the cache `make synth` uses (or the one
BEDROCK_PLATFORM_CACHE_DIR names; `off` lints every template every time): a template the last synth or test
run linted is not linted again, and the pytest-xdist workers share it, a template both synthesize at once
being linted by one of them while the other waits for its result (compliance/lint.py, _claim). Tests of the
cache itself point it at a folder of their own.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import tempfile
from pathlib import Path

import pytest

# The Makefile exports an empty PYTHONDONTWRITEBYTECODE (why: its comment); a bare `python -m pytest` on a
# machine that sets it (this one) compiled every project module and rewrote every test module from source
# in the controller, in each worker and in every Python process a test starts (app.py, the CLIs, cfn-lint's
# workers), each run: collecting the suite took 10.5 CPU-seconds per process without those files and 6.0
# with them (`pytest --collect-only -n 0`, 2 cores). The suite lets them be written as make does: this
# process from here on (pytest's assertion rewriter reads the flag when it imports a test module), and
# every process started later, pytest-xdist's workers included (they start after this file is loaded,
# tests/support/synth.py), inherits the environment without it.
if os.environ.get("PYTHONDONTWRITEBYTECODE"):
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    sys.dont_write_bytecode = False


def _no_real_aws() -> None:
    """No AWS_* variable from the machine, and no instance metadata, in this process and every process it
    starts. Done here, when pytest loads this file, not in a fixture: pytest imports the test modules while
    it collects them, before any fixture runs, and a module that imports a Lambda handler creates its
    clients then, which is when botocore resolves credentials. In the delivery pipeline's Build step those
    were the step role's (CodeBuild's AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:
    https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


_no_real_aws()

from app import node_environment  # noqa: E402


def _memory_backed_temp(mounts: str = "/proc/mounts", folder: str = "/dev/shm") -> None:
    """Temporary files in memory (``folder``, a tmpfs) where the machine has one and nobody chose a place.

    The suite writes a few hundred MB of temporary files each run (copies of the assembly and of the
    configuration, the wheel's virtual environment, cdk.out folders of the probe apps, cfn-lint's and
    uv's work) and removes most of them again. On this machine's disk (ext4 with ``discard`` on a virtual
    disk) every such write costs the writing process system time: copying the 6 MB assembly took
    0.21-0.24 CPU-seconds of system time in /tmp and 0.013-0.015 in /dev/shm. The whole suite, four
    alternating pairs of runs on 2 cores: system time 21.5-31.6 CPU-seconds with /tmp (mean 28.4), 17.6-18.3
    with /dev/shm (mean 17.9); in all 201-224 CPU-seconds (mean 215) against 197-208 (mean 201), one
    pair the other way round (user time varies more between runs than this saves). TMPDIR is what both
    ``tempfile`` and pytest's base temporary folder read (the controller chooses it; pytest-xdist's
    workers and every process a test starts inherit it). A TMPDIR (or TEMP, TMP, or pytest's own
    PYTEST_DEBUG_TEMPROOT) already set wins, and a machine without a writable tmpfs there, or with less
    than 1 GiB free in it, keeps its default. The files are the same files; only where they are kept
    changes."""
    if any(os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP", "PYTEST_DEBUG_TEMPROOT")):
        return
    try:
        with open(mounts, encoding="utf-8") as table:
            tmpfs = any(
                fields[1:3] == [folder, "tmpfs"]
                for fields in (line.split() for line in table)
                if len(fields) > 2
            )
        space = os.statvfs(folder)
    except OSError:
        return
    if tmpfs and os.access(folder, os.W_OK | os.X_OK) and space.f_bavail * space.f_frsize >= 1 << 30:
        os.environ["TMPDIR"] = folder
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again


_memory_backed_temp()

# CPython's cyclic garbage collector runs a young collection every 700 net allocations and considers a full
# one every 100 of those (run once the objects new to the oldest generation reach a quarter of it), each
# full one walking every object alive. A worker grows to 390-570 MB, mostly long-lived objects
# (aws-cdk-lib's modules, botocore's models, moto's backends, the synthesized app): on 2 cores, 19 of the
# workers' ~100 CPU-seconds went to ~17,000 collections (62 full ones), and the suite took 95 s; with the
# thresholds below, ~110 collections took 3 s and the suite 80 s; the largest worker's peak RSS went from
# 569 to 588 MB (VmHWM). Cyclic garbage is still collected, less often; every process the tests start
# keeps Python's defaults. https://docs.python.org/3/library/gc.html#gc.set_threshold
gc.set_threshold(50_000, 20, 20)


# At exit, CPython collects the whole heap again while it tears the modules down, and a worker's heap is
# the 400-600 MB above: after its last test a worker took ~2.5 s more to exit, and the controller waits for
# every worker's process to end before it reports (pytest-xdist terminates its execnet gateways and joins
# them). Moving every object to the permanent generation at exit (gc.freeze) leaves those collections
# nothing to walk; the operating system reclaims the memory as it does for any ending process. Measured in
# alternating runs on 2 cores, from the last worker's end to the report: 1.3-1.7 s instead of 3.3-4.5 s
# for `make test-quick`, 0.85 s instead of 3.5-4.1 s for the whole suite (whose totals moved less than the
# machine's noise); app.py does the same for its own exit. Objects still have their finalizers run when
# their count reaches zero; only garbage in reference cycles is left to the operating system, in a process
# that is ending.
# https://docs.python.org/3/library/gc.html#gc.freeze
atexit.register(gc.freeze)

# Node started as the app starts it (no end-of-life banner, V8's thread pool sized to the machine), before
# anything imports aws_cdk (tests.support.synth does); every Node process the tests start inherits it.
node_environment()

from bedrock_platform_devtools.botocore_cache import share_builtin_handlers, share_data_loader  # noqa: E402
from platform_config import PlatformConfig, load_platform  # noqa: E402
from tests.support.contracts import examples_root  # noqa: E402
from tests.support.synth import config, example_synthesized, stages, synthesized  # noqa: E402

# Most tests start fresh boto3 sessions (moto fixtures, handlers imported anew as at a cold start): one
# parsed copy of botocore's model files for all of them, and one registration of botocore's built-in event
# handlers, copied into each new session (bedrock_platform_devtools/botocore_cache.py).
share_data_loader()
share_builtin_handlers()

__all__ = ["config", "example_synthesized", "stages", "synthesized"]


@pytest.fixture
def no_aws_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere botocore looks: besides the AWS_* variables the session unsets, no
    shared credentials or config file (a developer's ~/.aws)."""
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the live construct tree of the session synth first, then the others that read
    the synth or synthesize with CDK's own validation (marker ``cdk_validation``), then the rest, each
    group in collection order.

    pytest-xdist's worksteal scheduler hands each worker a contiguous part of this list (and an idle worker
    takes the end of a busy one's queue): one worker starts with the synth, and so holds its construct
    tree for the tests that read it, while the others run the tests that need no synth, instead of all
    starting with a test that waits for the synth or building a tree of their own. The synth's Node
    process has also built CDK's validation engine, once per process (aws-cdk-lib keeps one
    CloudFormationValidatePlugin instance): a first synth with it took ~3 s in a fresh process and a
    second 0.05 s, so a ``cdk_validation`` test that follows the synth there does not build another."""

    def group(item: pytest.Item) -> int:
        fixtures = getattr(item, "fixturenames", ())
        if "stages" in fixtures:
            return 0
        return (
            1
            if "synthesized" in fixtures
            or "example_synthesized" in fixtures
            or item.get_closest_marker("cdk_validation")
            else 2
        )

    items.sort(key=group)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker more than the cores this process may use. The suite waits as well as
    computes (the real-time hang tests sleep ~20 s in all, the CLI tests wait on their subprocesses), and
    an extra worker costs its start and collection (~5 s; the synth and its construct tree are one
    worker's): on 2 cores, 3 workers took 103-109 s where 2 took 111-113 s in alternating runs, later
    96 s where 4 took 105-115 s, and with the thresholds above 86 s where 4 took 98 s and 2 took 95 s.
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still wins (pytest-xdist's own implementation reads it when this
    returns None); ``-n <N>`` is never changed."""
    del config
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from tests.support.workers import usable_cores

    return usable_cores() + 1


@pytest.fixture(scope="session")
def example_config() -> PlatformConfig:
    """Every shipped example's contract (``tests.support.contracts.examples_root``): the input of tests of
    code that takes a contract, which need one with the example's properties whether or not this
    repository still ships it. Tests of the repository's own configuration use ``config``."""
    return load_platform(examples_root())
