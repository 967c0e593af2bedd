"""--engine dask: a LocalCluster with two worker processes gives the local report, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

from scale_helpers import budgeted_inputs, simulate_json

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_examples_on_two_dask_workers_equal_the_local_run(scheduler):
    for name in ("summer_pilot", "monthly_draw", "coffee_stars", "car_wash"):  # car_wash: the vectorised kernel
        args = [str(ROOT / "examples" / "programs" / f"{name}.loyalty"), str(ROOT / "examples" / "histories" / f"{name}.csv")]
        local = simulate_json(*args, "--jobs", "1")
        remote = simulate_json(*args, "--engine", "dask", "--scheduler", scheduler)
        assert remote == local, name


def test_budgets_that_run_out_and_many_parquet_files_by_glob_equal_the_local_run(scheduler, tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    program, history = budgeted_inputs(tmp_path)
    local = simulate_json(program, history, "--jobs", "1")
    assert local.count('"ran_out": "2025-') == 2
    assert simulate_json(program, history, "--engine", "dask", "--scheduler", scheduler) == local
    # the same rows as three Parquet files (a member's rows may be in several): same figures
    table = pacsv.read_csv(history, convert_options=pacsv.ConvertOptions(
        column_types={n: "string" for n in ("member", "time", "amount", "order", "quantity", "item")}))
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, table.num_rows, 1000)):
        pq.write_table(table.slice(start, 1000), parts / f"h{i}.parquet")
    remote = simulate_json(program, str(parts / "*.parquet"), "--engine", "dask", "--scheduler", scheduler)
    # everything but the file name and the row count's source
    assert remote.replace(str(parts / "*.parquet"), history) == local


def test_an_unreachable_scheduler_is_a_clear_error_without_traceback():
    result = CliRunner().invoke(cli, ["simulate", str(ROOT / "examples" / "programs" / "car_wash.loyalty"),
                                      str(ROOT / "examples" / "histories" / "car_wash.csv"), "--engine", "dask",
                                      "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_scheduler_without_the_dask_engine_is_a_usage_error():
    result = CliRunner().invoke(cli, ["simulate", "a.loyalty", "h.csv", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "--engine dask" in result.output
