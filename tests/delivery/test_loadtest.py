"""``python -m delivery.loadtest``: open loop, bounded in time and in count, p50/p95/p99 and the success
rate, every request signed with SigV4. The arithmetic runs on a fake clock; the command runs once against
the local stand-in, which refuses unsigned or wrongly signed requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from delivery.loadtest import InlineExecutor, LoadPlan, LoadResult, main, percentile, run_load, verdict
from tests.support.contracts import contract_files
from tests.support.delivery import FakeClock


def _run(
    plan: LoadPlan, outcomes: dict[int, tuple[int, float]] | None = None
) -> tuple[list[float], LoadResult]:
    clock = FakeClock()
    started: list[float] = []

    def send(i: int) -> tuple[int, float]:
        started.append(clock())
        return (outcomes or {}).get(i, (200, 10.0 + i))

    result = run_load(plan, send, clock=clock, sleep=clock.sleep, executor=InlineExecutor())
    return started, result


def test_requests_start_at_the_rate_until_the_duration_ends() -> None:
    started, result = _run(LoadPlan(rate_rps=4, duration_s=3, max_requests=1000))
    assert started == [i / 4 for i in range(12)]  # open loop: every 0.25 s, 3 s long
    assert result.sent == 12


def test_the_request_count_bounds_the_run_whatever_the_duration() -> None:
    started, result = _run(LoadPlan(rate_rps=100, duration_s=3600, max_requests=50))
    assert len(started) == 50 and result.sent == 50
    assert started[-1] == pytest.approx(0.49)


def test_percentiles_and_success_rate() -> None:
    outcomes = {i: (502, 5.0) for i in range(0, 100, 20)} | {99: (0, float("nan"))}
    _, result = _run(LoadPlan(rate_rps=10, duration_s=10, max_requests=1000), outcomes)
    summary = result.summary()
    assert summary["sent"] == 100 and summary["succeeded"] == 94
    assert summary["success_rate"] == pytest.approx(0.94)
    assert summary["statuses"] == {"0": 1, "200": 94, "502": 5}
    # nearest rank over the 99 answered requests (the unanswered one has no latency)
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert summary["p50_ms"] is not None and summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]
    held = verdict(result, min_success_rate=0.99, max_p95_ms=None)
    assert held and "success rate 94.00% is below 99.00%" in held[0] and "502" in held[0]


def test_a_bad_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="rate must be above 0"):
        run_load(LoadPlan(rate_rps=0, duration_s=1, max_requests=1), lambda i: (200, 1.0))
    assert main(["--offline", "--use-case", "policy-qa", "--rps", "1", "--duration", "0"]) == 2


def test_the_command_against_the_local_stand_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a use case of the repository that answers at once (a held answer is a 202, not the 200 expected here)
    answering = sorted(
        uc for uc, data in contract_files().items() if not data.get("review", {}).get("hold_for_review")
    )
    assert answering, "no contract in contracts/ answers without holding it for review"
    summary = tmp_path / "load.json"
    code = main(
        [
            "--offline",
            "--use-case",
            answering[0],
            "--rps",
            "10",
            "--duration",
            "1",
            "--max-requests",
            "5",
            "--min-success-rate",
            "1",
            "--json",
            str(summary),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(summary.read_text())
    # bounded by the count (5), not the duration (10 requests); every signed request answered 200
    assert result["sent"] == 5 and result["statuses"] == {"200": 5}
    assert "p50" in out and "p95" in out and "p99" in out


def test_the_load_tests_request_comes_from_the_golden_suite_whatever_its_file_is_called(
    tmp_path: Path,
) -> None:
    # GIVEN a use case whose golden suite (kind: golden) is evals/<use case>/tasks.yaml, gated as `tasks`
    from delivery.loadtest import request_body
    from tests.support.contracts import copy_configuration

    root = copy_configuration(tmp_path / "repo")
    use_case = "support-ticket-summary"
    (root / f"evals/{use_case}/golden.yaml").rename(root / f"evals/{use_case}/tasks.yaml")
    contract_path = root / f"contracts/{use_case}.yaml"
    contract = yaml.safe_load(contract_path.read_text(encoding="utf-8"))
    contract["evaluation"]["gates"]["tasks"] = contract["evaluation"]["gates"].pop("golden")
    contract_path.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    first = yaml.safe_load((root / f"evals/{use_case}/tasks.yaml").read_text(encoding="utf-8"))["cases"][0]
    # WHEN the load test takes its request, THEN it is that suite's first case
    assert request_body(root, use_case)["messages"] == [{"role": "user", "content": first["input"]}]
