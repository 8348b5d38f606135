"""calibration.py's constants come from the reference set, and the set is complete data."""

import sys
from pathlib import Path

import pytest

from swiftkit.memory import calibration

BENCH = Path(__file__).parents[1] / "bench"


@pytest.fixture(scope="module")
def reference():
    sys.path.insert(0, str(BENCH))
    try:
        import memory_reference
    finally:
        sys.path.remove(str(BENCH))
    return memory_reference


def test_reference_set_is_complete(reference):
    records = reference.load_records()
    assert len(records) >= 15
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        assert r["kind"] in ("max_memory_reserved", "header", "benchmark_table"), r["id"]
        assert r["strength"] in ("strong", "medium", "weak", "old_stack"), r["id"]
        assert r["command"] and r["swift_version"] and r["figure"] > 0, r["id"]
        assert r["lengths"]["longest_tokens"] > 0 and r["lengths"]["source"], r["id"]
        assert r["source"].get("url") or r["source"].get("note"), r["id"]
        assert reference.ratio(r) > 0  # every record can be estimated
    kinds = {r["kind"] for r in records}
    assert kinds == {"max_memory_reserved", "header", "benchmark_table"}
    assert sum(r["kind"] == "max_memory_reserved" for r in records) >= 3


def test_constants_are_the_fit_on_the_reference_set(reference):
    cal = reference.calibrate(reference.load_records())
    assert pytest.approx(cal["static_share"]) == calibration.STATIC_SHARE
    assert pytest.approx(cal["high_margin"]) == calibration.HIGH_MARGIN
    assert set(cal["loo"]) == {r["id"] for r in reference.load_records() if r["fitted"]}
