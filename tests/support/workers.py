"""How many cores the test session may use (``tests/conftest.py``'s ``-n auto``)."""

from __future__ import annotations

import math
import os
from pathlib import Path


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity, capped by the container's CPU quota where cgroups
    set one (v2 ``cpu.max``, v1 ``cpu/cpu.cfs_quota_us`` over ``cpu.cfs_period_us``). A container limited to
    4 vCPUs on a larger host (a CodeBuild build, https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-compute-types.html)
    may see every host CPU in its affinity, and a worker per host CPU (~0.5 GB each) would exhaust the
    build's memory; a quota is what the scheduler enforces
    (https://docs.kernel.org/admin-guide/cgroup-v2.html#cpu-interface-files)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota: float | None = None
    try:
        fields = (cgroup / "cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            quota = int(fields[0]) / int(fields[1])
    except (OSError, ValueError, ZeroDivisionError):
        try:
            limit = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
            period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
            quota = limit / period if limit > 0 else None
        except (OSError, ValueError, ZeroDivisionError):
            quota = None
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return cores
