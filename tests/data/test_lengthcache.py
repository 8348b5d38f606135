"""The length cache: where it lives, what invalidates an entry, damaged and half-written entries,
concurrent writers, the size cap."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from swiftkit.data import lengthcache
from swiftkit.data.scan import scan_path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SWIFTKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "lengths"


def test_location_honours_swiftkit_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SWIFTKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert lengthcache.cache_dir() == tmp_path / "xdg" / "swiftkit" / "lengths"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert lengthcache.cache_dir() == tmp_path / "home" / ".cache" / "swiftkit" / "lengths"
    monkeypatch.setenv("SWIFTKIT_CACHE_DIR", str(tmp_path / "own"))
    assert lengthcache.cache_dir() == tmp_path / "own" / "lengths"


def test_store_then_load_and_other_keys_miss(cache):
    key = {"file": {"size": 1}, "max_length": 512}
    lengthcache.store(key, {"rows": 3})
    assert lengthcache.load(key) == {"rows": 3}
    assert lengthcache.load({**key, "max_length": 1024}) is None
    assert [p.name for p in cache.iterdir() if p.name.endswith(".tmp")] == []


def test_file_fingerprint_changes_with_size_mtime_and_content(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"a" * 100)
    first = lengthcache.file_fingerprint(path)
    os.utime(path, ns=(1, 1))
    assert lengthcache.file_fingerprint(path) != first
    same_time = lengthcache.file_fingerprint(path)
    path.write_bytes(b"b" * 100)
    os.utime(path, ns=(1, 1))  # same size and mtime, other bytes
    assert lengthcache.file_fingerprint(path) != same_time


def test_big_files_hash_spread_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(lengthcache, "_WHOLE_FILE_BYTES", 1000)
    monkeypatch.setattr(lengthcache, "_BLOCK_BYTES", 10)
    path = tmp_path / "big.jsonl"
    data = bytearray(b"x" * 5000)
    path.write_bytes(data)
    before = lengthcache.file_fingerprint(path)
    data[2540] = ord("y")  # inside the 33rd of 64 blocks: (5000 - 10) * 32 // 63 = 2534
    path.write_bytes(data)
    os.utime(path, ns=(before["mtime_ns"], before["mtime_ns"]))
    assert lengthcache.file_fingerprint(path)["blake2b"] != before["blake2b"]


def test_a_damaged_entry_is_a_miss_and_is_removed(cache):
    key = {"k": 1}
    lengthcache.store(key, {"rows": 3})
    [entry] = [p for p in cache.iterdir() if p.suffix == ".json"]
    entry.write_text('{"format": 1, "key": {"k": 1}, "val')  # cut short by a crash
    assert lengthcache.load(key) is None
    assert not entry.exists()


def _writer(root: str, n: int) -> None:
    os.environ["SWIFTKIT_CACHE_DIR"] = root
    for i in range(n):
        lengthcache.store({"k": "shared"}, {"rows": i, "pad": "x" * 20000})


def test_concurrent_writers_never_expose_a_half_written_entry(tmp_path, cache):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path / "cache"), 60)) for _ in range(2)]
    for p in procs:
        p.start()
    seen = 0
    while any(p.is_alive() for p in procs):
        value = lengthcache.load({"k": "shared"})
        if value is not None:
            assert len(value["pad"]) == 20000
            seen += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert lengthcache.load({"k": "shared"})["rows"] == 59
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_size_cap_evicts_the_least_recently_used(cache, monkeypatch):
    monkeypatch.setenv("SWIFTKIT_CACHE_MAX_BYTES", "25000")
    for i in range(3):  # the third pushes the total over the cap: the oldest (0) goes
        lengthcache.store({"k": i}, {"pad": "x" * 10000})
        os.utime(lengthcache._entry_path({"k": i}), (1000 + i, 1000 + i))
    assert lengthcache.load({"k": 0}) is None
    assert lengthcache.load({"k": 1}) is not None  # used now: the newest
    lengthcache.store({"k": 3}, {"pad": "x" * 10000})
    assert lengthcache.load({"k": 2}) is None  # least recently used
    assert lengthcache.load({"k": 1}) is not None
    assert sum(p.stat().st_size for p in cache.iterdir()) <= 25000


def test_an_unwritable_cache_only_costs_speed(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SWIFTKIT_CACHE_DIR", str(blocker))  # a file, not a folder
    lengthcache.store({"k": 1}, {"rows": 1})
    assert lengthcache.load({"k": 1}) is None


def test_scan_uses_the_cache_and_sees_an_edited_file(tmp_path, cache):
    path = tmp_path / "d.jsonl"
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path.write_text(json.dumps(row) + "\n", "utf-8")
    key = {"tokenizer": None, "system": None}
    assert scan_path(path, "d.jsonl", [], cache_key=key).cached_files == 0
    assert scan_path(path, "d.jsonl", [], cache_key=key).cached_files == 1
    path.write_text((json.dumps(row) + "\n") * 2, "utf-8")
    again = scan_path(path, "d.jsonl", [], cache_key=key)
    assert (again.rows, again.cached_files) == (2, 0)


def test_files_with_problems_are_not_cached(tmp_path, cache):
    path = tmp_path / "d.jsonl"
    path.write_text('{"messages": []}\n{"messages": [{"role": "user", "content": "q"}]}\n')
    problems: list[str] = []
    scan_path(path, "d.jsonl", problems, cache_key={"k": 1})
    assert problems
    assert not cache.exists() or not any(cache.iterdir())
