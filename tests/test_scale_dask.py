"""--engine dask: a LocalCluster with two worker processes gives the local report, byte for byte."""

from __future__ import annotations

import json
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


STARS = ('program "t" {\n  currency NOK\n  timezone "Europe/Oslo"\n}\n'
         'points "stars" { }\nrule "stars" { earn 1 star per 1 NOK }\n')


def test_a_purchase_reusing_an_order_id_of_another_file_is_refused_as_within_one_file(scheduler, tmp_path):
    program = tmp_path / "p.loyalty"
    program.write_text(STARS)
    parts = tmp_path / "parts"
    parts.mkdir()
    header = "member,time,type,order,item,amount,event\n"
    (parts / "a.csv").write_text(header + "m,2025-03-01T10:00,purchase,O1,tea,80,e1\n"
                                          "k,2025-03-01T10:00,purchase,O9,tea,5,e9\n")
    (parts / "b.csv").write_text(header + "m,2025-03-01T11:00,purchase,O1,tea,10,e2\n"
                                          "m,2025-03-02T10:00,return,O1,,80,r1\n")
    args = [str(program), str(parts / "*.csv"), "--engine", "dask", "--scheduler", scheduler]
    stop = CliRunner().invoke(cli, ["simulate", *args])
    assert stop.exit_code == 1
    assert f"{parts / 'b.csv'}:2: column \"order\": order id 'O1' is already used by event 'e1'" in stop.output
    assert "Traceback" not in stop.output
    skip = json.loads(simulate_json(*args, "--on-bad-row", "skip"))
    # as the API and the one-file reader: the first purchase stands, the return claws back all of it
    assert (skip["points"][0]["issued"], skip["points"][0]["clawed_back"]) == (85, 80)
    assert skip["history"]["skipped_by_reason"] == {"order: already used by another event": 1}
    assert skip["history"]["rows"] == 3
    assert skip["history"]["skipped_examples"][0].startswith(f"{parts / 'b.csv'}:2: column \"order\"")


def test_the_fall_back_night_is_ordered_by_instant_across_files(scheduler, tmp_path):
    program = tmp_path / "p.loyalty"
    program.write_text(STARS)
    parts = tmp_path / "parts"
    parts.mkdir()
    header = "member,time,type,order,item,amount\n"
    (parts / "a.csv").write_text(header + "m,2025-10-26T02:35:00+01:00,return,O1,,80\n")
    (parts / "b.csv").write_text(header + "m,2025-10-26T02:50:00+02:00,purchase,O1,tea,80\n")
    report = json.loads(simulate_json(str(program), str(parts / "*.csv"), "--engine", "dask",
                                      "--scheduler", scheduler))
    assert (report["points"][0]["issued"], report["points"][0]["clawed_back"]) == (80, 80)
