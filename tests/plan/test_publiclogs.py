"""The public ms-swift logs behind the time estimate: data with sources, and how far the fitted
table is from each log it did not see (leave-one-out)."""

import json
import statistics

from swiftkit.plan import publiclogs

PUBLIC = json.loads(publiclogs.PUBLIC_FILE.read_text(encoding="utf-8"))


def test_public_logs_are_at_least_ten_with_model_card_tuner_batch_and_length():
    records = PUBLIC["records"]
    assert len(records) >= 10
    for r in records:
        assert r["model"] in PUBLIC["models"]
        assert r["card"] and r["tuner"] in ("lora", "full")
        assert r["per_device_train_batch_size"] >= 1 and r["max_length"] >= 512
        assert r["seconds_per_update"] == round(
            r["per_device_train_batch_size"] * r["gradient_accumulation_steps"]
            / r["samples_per_second"], 4
        )  # fmt: skip
    assert PUBLIC["source"].startswith("https://github.com/modelscope/ms-swift/blob/")
    assert {r["tuner"] for r in records} == {"lora", "full"}


def test_leave_one_out_error_of_the_public_table():
    rows = publiclogs.public_leave_one_out()
    assert len(rows) == len(PUBLIC["records"])
    errors = [abs(p - m) / m for _, p, m in rows]
    assert statistics.median(errors) < 0.3  # tests/bench/bench_time_calibration.py prints it
