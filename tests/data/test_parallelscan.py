"""A big JSON Lines file read by two processes gives exactly what one process gives (rows,
problems with their line numbers and order, the token-length summary, the plan's JSON and the
cache entry); workers print nothing, report progress, stop on Ctrl-C, and any failure of theirs
ends in the one-process read and its error.

Files of a few hundred rows are split (splitscan.BIG_BYTES made small).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from functools import partial

import pytest

from swiftkit.data import parallelscan, splitscan, tokens
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.scan import scan_path
from swiftkit.errors import DatasetError
from tests.conftest import run_cli
from tests.data.test_splitscan import SMALL, context, mixed_lines, write


@pytest.fixture(scope="module")
def tiny_tok(tmp_path_factory):
    from swiftkit.tiny.tokenizer import save_tokenizer, train_tokenizer

    folder = tmp_path_factory.mktemp("tiny-tok")
    save_tokenizer(train_tokenizer(), folder)
    return folder


@pytest.fixture
def split(monkeypatch):
    """Any file big, and the parts each parallel read merged (none: read by one process)."""

    def use(_path) -> list[list[dict]]:
        return merged

    merged: list[list[dict]] = []
    merge = parallelscan.merge_parts
    monkeypatch.setattr(splitscan, "BIG_BYTES", 1)
    monkeypatch.setattr(parallelscan, "merge_parts", lambda lab, parts, checker: merged.append(
        parts) or merge(lab, parts, checker))  # fmt: skip
    return use


def scan(monkeypatch, workers: int, path, ctx=None):
    monkeypatch.setenv("SWIFTKIT_WORKERS", str(workers))
    problems: list[str] = []
    return scan_path(path, path.name, problems, ctx), problems


def test_two_processes_find_what_one_finds(tmp_path, tiny_tok, monkeypatch, split):
    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(700, seed=7))
    merged = split(path)
    from swiftkit.data import rowcheck

    monkeypatch.setattr(rowcheck, "MAX_ROW_PROBLEMS", 1000)  # every row problem listed
    ctx = context(tiny_tok, 60, **SMALL)
    one = scan(monkeypatch, 1, path, ctx)
    assert not merged
    two = scan(monkeypatch, 2, path, ctx)
    assert [len(parts) for parts in merged] == [2]
    assert two == one
    assert two[0].lengths.to_json() == one[0].lengths.to_json()
    found, problems = one
    lines = [int(p.split(":")[1]) for p in problems if p.split(":")[1].isdigit()]
    half = len(path.read_bytes().split(b"\n")) // 2
    assert min(lines) < half < max(lines) and lines == sorted(lines)
    assert found.placeholder_rows > 0 and found.lengths.over_max_length > 0
    fresh = context(tiny_tok, 60, **SMALL)  # no tokenizer loaded before the fork
    assert scan(monkeypatch, 2, path, fresh) == one and len(merged) == 2


def test_lines_swift_cannot_load_in_both_halves(tmp_path, monkeypatch, split):
    path = tmp_path / "bad.jsonl"
    write(path, mixed_lines(400, seed=8, bad_every=90))
    merged = split(path)
    one = scan(monkeypatch, 1, path)
    two = scan(monkeypatch, 2, path)
    assert len(merged) == 1 and two == one and one[0].rows is None
    assert [p.split(":")[1] for p in one[1] if "JSON" in p] == ["90", "180", "270", "360"]


def test_a_range_holding_no_line_start(tmp_path, tiny_tok, monkeypatch, split):
    path = tmp_path / "tail.jsonl"
    long = {"messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": "data " * 4000}]}  # fmt: skip
    write(path, [*mixed_lines(30, seed=9), json.dumps(long)])
    merged = split(path)
    ctx = context(tiny_tok, None, **SMALL)
    assert scan(monkeypatch, 2, path, ctx) == scan(monkeypatch, 1, path, ctx)
    assert [part["lines"] for part in merged[0]] == [31, 0]


def test_a_failing_worker_leaves_the_read_to_one_process(tmp_path, tiny_tok, monkeypatch, split):
    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(300, seed=10))
    merged = split(path)
    ctx = context(tiny_tok, 60, **SMALL)
    one = scan(monkeypatch, 1, path, ctx)
    read = parallelscan.read_range

    def dies(path, label, bounds, *args):
        if bounds[0]:
            os._exit(3)  # killed, out of memory, a crash
        return read(path, label, bounds, *args)

    monkeypatch.setattr(parallelscan, "read_range", dies)
    assert scan(monkeypatch, 2, path, ctx) == one and not merged
    monkeypatch.setattr(parallelscan, "read_range", partial(_raises, MemoryError))
    assert scan(monkeypatch, 2, path, ctx) == one and not merged


def _raises(kind, *args):
    msg = "in a worker"
    raise kind(msg)


def test_an_unreadable_tokenizer_gives_the_one_process_error(tmp_path, monkeypatch, split):
    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(300, seed=11))
    split(path)
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{", "utf-8")

    def errors(workers):
        ctx = LengthContext(partial(tokens.RowEncoder.load, tmp_path / "tok"), None, 60)
        with pytest.raises(DatasetError) as e:
            scan(monkeypatch, workers, path, ctx)
        return str(e.value)

    assert errors(2) == errors(1)
    assert "tokenizer.json: cannot be read as a tokenizer" in errors(2)


def test_workers_print_nothing_and_report_progress(tmp_path, monkeypatch, split, capfd):
    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(300, seed=12))
    split(path)
    read = parallelscan.read_range

    def noisy(*args):
        print("a worker printing", flush=True)
        os.write(2, b"a worker writing to stderr\n")
        return read(*args)

    monkeypatch.setattr(parallelscan, "read_range", noisy)
    monkeypatch.setattr(splitscan, "PROGRESS_EVERY", 16)
    seen: list[tuple] = []
    ctx = LengthContext(None, None, None, progress=lambda *a: seen.append(a))
    found, _problems = scan(monkeypatch, 2, path, ctx)
    assert found.rows and capfd.readouterr() == ("", "")
    size = path.stat().st_size
    assert seen[-1] == ("reading rows.jsonl", size, size)
    done = [d for what, d, _t in seen if what == "reading rows.jsonl"]
    assert done == sorted(done)


def test_ctrl_c_stops_the_workers(tmp_path, monkeypatch, split, capfd):
    import multiprocessing

    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(300, seed=13))
    split(path)
    read = parallelscan.read_range

    def slow(*args):
        time.sleep(60)
        return read(*args)

    monkeypatch.setattr(parallelscan, "read_range", slow)

    def ctrl_c():  # as a terminal sends it: to the parent and every worker
        time.sleep(1.0)
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        scan(monkeypatch, 2, path)
    assert time.monotonic() - start < 10
    assert multiprocessing.active_children() == []
    assert capfd.readouterr() == ("", "")


def test_the_plan_json_and_cache_are_the_same_with_one_or_two_workers(
    tmp_path, tiny_model, monkeypatch, split, capsys
):
    data = tmp_path / "rows.jsonl"
    write(data, mixed_lines(700, seed=14, clean=True))
    merged = split(data)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model: {tiny_model}\ndataset: {data}\nmax_length: 64\n"
                      "split_dataset_ratio: 0.1\noutput_dir: out\n", "utf-8")  # fmt: skip
    limits = {k: v for k, v in SMALL.items() if k != "batch_bytes"}
    monkeypatch.setattr(tokens, "LengthContext", partial(LengthContext, **limits))
    monkeypatch.chdir(tmp_path)
    runs = {}
    for workers in (1, 2):
        cache = tmp_path / f"cache{workers}"
        monkeypatch.setenv("SWIFTKIT_CACHE_DIR", str(cache))
        monkeypatch.setenv("SWIFTKIT_WORKERS", str(workers))
        code, out, _err = run_cli(["plan", str(recipe), "--json", "--gpu", "4090D"], capsys)
        entries = [json.loads(p.read_text("utf-8")) for p in cache.glob("lengths/*.json")]
        runs[workers] = (code, json.loads(out), entries)
    assert len(merged) == 1 and len(runs[1][2]) == 1
    for _code, plan, _entries in runs.values():
        plan["disk"].pop("free_bytes")  # the disk's, changing as others write
    assert runs[2] == runs[1]
    lengths = runs[1][1]["token_lengths"]
    assert lengths["exact"] is False and lengths["dropped_at_max_length"] > 0


def test_no_fork_leaves_the_read_to_one_process(tmp_path, monkeypatch, split):
    import multiprocessing.context

    path = tmp_path / "rows.jsonl"
    write(path, mixed_lines(200, seed=15))
    merged = split(path)
    one = scan(monkeypatch, 1, path)

    def no_fork(_process):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "_Popen", staticmethod(no_fork))
    assert scan(monkeypatch, 2, path) == one and not merged


def test_the_number_of_processes(monkeypatch):
    cpus = min(parallelscan.MAX_WORKERS, len(os.sched_getaffinity(0)))
    for value, expected in (("3", 3), ("1", 1), ("0", cpus), ("two", cpus), ("", cpus)):
        monkeypatch.setenv("SWIFTKIT_WORKERS", value)
        assert parallelscan.worker_count() == expected, value
