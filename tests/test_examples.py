"""The tests' own copy of the shipped examples (tests/support/examples/): the same files as the repository
ships while it ships them, and what a copy of the configuration gets once a fork retires one."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_config import load_platform
from tests.support.contracts import EXAMPLES, ROOT, copy_configuration, example_files, example_ids


@pytest.mark.parametrize("use_case", example_ids())
def test_the_tests_copy_of_a_shipped_example_is_the_shipped_file(use_case: str) -> None:
    if not (ROOT / "contracts" / f"{use_case}.yaml").exists():
        pytest.skip(f"{use_case} is retired here: the tests' copy is all that is left of it, by design")
    shipped = {p.relative_to(ROOT) for p in (ROOT / "evals" / use_case).glob("*.yaml")}
    copied = {p for p in example_files(use_case) if p.parts[0] == "evals"}
    assert copied == shipped, (
        f"tests/support/examples/evals/{use_case}/ holds other files than evals/{use_case}/"
    )
    for relative in example_files(use_case):
        assert (EXAMPLES / relative).read_bytes() == (ROOT / relative).read_bytes(), (
            f"tests/support/examples/{relative} differs from {relative}: the tests run on the copy once a "
            f"fork retires {use_case}. Fix: cp {relative} tests/support/examples/{relative}"
        )


def test_a_copy_of_a_configuration_that_retired_an_example_has_the_example_again(tmp_path: Path) -> None:
    # GIVEN a fork's configuration with every example (this repository's, plus the tests' copy of any it
    # retired already) that then retires the first example (contract, prompt and suites deleted)
    retired = example_ids()[0]
    fork = copy_configuration(tmp_path / "fork")
    every = set(load_platform(fork).evaluations)
    for relative in example_files(retired):
        (fork / relative).unlink()
    assert retired not in load_platform(fork).evaluations

    # WHEN the tests copy it to break it
    copy = copy_configuration(tmp_path / "copy", root=fork)

    # THEN the copy has the retired example again, from the tests' own copy, and loads
    assert set(load_platform(copy).evaluations) == every
    for relative in example_files(retired):
        assert (copy / relative).read_bytes() == (EXAMPLES / relative).read_bytes()
