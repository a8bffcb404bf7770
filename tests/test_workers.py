"""``-n auto`` counts the cores a container's CPU quota allows, not every CPU of the host it runs on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.workers import usable_cores

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, AFFINITY),  # no cgroup files: the affinity
        ({"cpu.max": "max 100000\n"}, AFFINITY),  # v2, no quota
        ({"cpu.max": "100000 100000\n"}, 1),  # v2, one CPU
        ({"cpu.max": "50000 100000\n"}, 1),  # half a CPU is still one worker's core
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1, one CPU
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, AFFINITY),  # v1, no quota
        ({"cpu.max": "garbage\n"}, AFFINITY),  # unreadable: the affinity, never a crash
    ],
)
def test_a_cpu_quota_caps_the_cores_and_no_quota_leaves_the_affinity(
    tmp_path: Path, files: dict[str, str], expected: int
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert usable_cores(tmp_path) == expected


def test_a_quota_above_the_affinity_does_not_add_cores(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text(f"{(AFFINITY + 8) * 100000} 100000\n")
    assert usable_cores(tmp_path) == AFFINITY
