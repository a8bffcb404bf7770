"""``python -m benchmarks.run --only``: a partial run keeps the other items' rows and names, for each, the run
that measured it (benchmarks/README.md), never the last partial run's date for rows it did not measure."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmarks import run as bench


def _row(item: int) -> dict[str, str]:
    return asdict(bench.Row(str(item), f"measure {item}", "1 s", "", "", "", "PASS"))


def _previous(folder: Path, document: dict[str, object]) -> None:
    (folder / "results.json").write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize("recorded", [True, False])
def test_a_partial_run_names_the_run_that_measured_each_kept_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: bool
) -> None:
    # GIVEN the last results.json, written by a run of item 3 alone, with rows of items 1, 2 and 3
    monkeypatch.setattr(bench, "BENCH_DIR", tmp_path)
    previous: dict[str, object] = {
        "header": ["- date: 2026-12-03 10:07 UTC; bench wall time 0.1 min"],
        "command": "bench --only 3",
        "items": [3],
        "rows": [_row(1), _row(2), _row(3)],
    }
    if recorded:  # the runs that measured each item, as results.json keeps them
        previous["measured"] = {
            "1": "2026-11-30 13:42 UTC, `bench`",
            "3": "2026-12-03 10:07 UTC, `bench --only 3`",
        }
    _previous(tmp_path, previous)
    # WHEN item 2 is measured again
    report = bench.Report()
    kept = bench._keep_rows_not_rerun(report, {2})
    # THEN items 1 and 3 are kept, each with the run that measured it; a row whose run was not recorded says so
    assert sorted(r.item for r in report.rows) == ["1", "3"]
    assert kept["3"] == "2026-12-03 10:07 UTC, `bench --only 3`"
    assert kept["1"] == ("2026-11-30 13:42 UTC, `bench`" if recorded else "an earlier run (not recorded)")
    (note,) = [n for n in report.notes if n.startswith("Items not re-run")]
    assert f"item 1 measured {kept['1']}" in note and f"item 3 measured {kept['3']}" in note
    assert "10:07" not in note.split("item 3")[0]  # item 1 is never given the last partial run's date


def test_items_that_measure_the_example_stop_with_the_fix_where_a_fork_retired_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a checkout whose contracts/ no longer has the example the request benchmarks send to
    (tmp_path / "contracts").mkdir()
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    ran: list[str] = []
    monkeypatch.setattr(bench, "StubProcess", lambda: ran.append("stub"))  # nothing may start
    # WHEN those items are asked for
    code = bench.main(["--only", "4,11", "--no-write"])
    # THEN nothing runs: exit 2, naming the use case, the items and the fix
    assert (code, ran) == (2, [])
    error = capsys.readouterr().err
    assert f"contracts/{bench.EXAMPLE_USE_CASE}.yaml" in error and "items 4, 11" in error and "Fix:" in error
