"""RUN_DIR/swiftkit/memory.json: started with the estimate, finished with what swift logged."""

import json
import shutil
from pathlib import Path

from swiftkit.watch.memruns import (
    finish_memory_record,
    finished_records,
    read_memory_record,
    start_memory_record,
)

HISTORY = Path(__file__).parents[1] / "fixtures" / "runs" / "memory_history" / "output"


def test_finish_adds_the_logged_peak_and_its_step(tmp_path):
    run = tmp_path / "v0-20261129-101500"
    shutil.copytree(HISTORY / run.name, run)
    started = {k: v for k, v in read_memory_record(run).items() if k not in ("logged", "oom")}
    start_memory_record(run, started)
    assert read_memory_record(run)["logged"] is None
    assert finished_records([tmp_path]) == []  # started, not finished
    record = finish_memory_record(run, exit_code=0)
    assert record["logged"] == {
        "peak_reserved_bytes": int(18.02 * 1024**3), "peak_memory_gib": 18.02, "at_step": 15,
        "last_step": 40,
    }  # fmt: skip
    assert record["estimate"] == started["estimate"] and record["exit_code"] == 0
    assert [r["run_dir"] for r in finished_records([tmp_path])] == [str(run)]


def test_a_run_without_a_record_or_a_log(tmp_path):
    run = tmp_path / "v0-20261129-101500"
    (run / "swiftkit").mkdir(parents=True)
    assert finish_memory_record(run, exit_code=0) is None  # nothing started it
    start_memory_record(run, {"family": "qwen2-h3584-l28", "estimate": {}})
    record = finish_memory_record(run, exit_code=1)
    assert record["logged"] is None and record["exit_code"] == 1  # CPU runs log no memory


def test_sibling_output_folders_are_searched(tmp_path):
    shutil.copytree(HISTORY, tmp_path / "other_recipe")
    (tmp_path / "this_recipe").mkdir()
    found = finished_records([tmp_path / "this_recipe"])
    assert len(found) == 2 and all("other_recipe" in r["run_dir"] for r in found)
    bad = tmp_path / "other_recipe" / "v1-20261129-131200" / "swiftkit" / "memory.json"
    bad.write_text("{not json")
    assert len(finished_records([tmp_path / "this_recipe"])) == 1
    assert (
        json.loads((HISTORY / "v2-20261129-160000" / "swiftkit" / "exit.json").read_text())[
            "exit_code"
        ]
        == 4
    )
