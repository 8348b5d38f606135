"""A cache of what reading a dataset file found, so that planning the same data again (every
plan, train, --resume, sweep variant) does not read it again.

One entry per data file, keyed by the file's content (size, mtime in ns and a BLAKE2b hash: of the
whole file up to 8 MiB, of 64 evenly spaced 64 KiB blocks beyond), the tokenizer's files, the
template, --system, --loss_scale and max_length. Entries live under $SWIFTKIT_CACHE_DIR, else
$XDG_CACHE_HOME/swiftkit, else ~/.cache/swiftkit, in lengths/. An entry is written to a temporary
file and renamed into place (os.replace), so a concurrent plan or a crash never leaves a
half-written entry under its name; an unreadable entry is a miss and is removed. When the entries
pass SWIFTKIT_CACHE_MAX_BYTES (default 256 MiB) the least recently used go first.
Standard library only; failures to write (a read-only home) only cost the speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

FORMAT = 4  # bump when what a scan finds changes for the same inputs (4: sample by hashed position)
DEFAULT_MAX_BYTES = 256 << 20
_WHOLE_FILE_BYTES = 8 << 20
_BLOCKS, _BLOCK_BYTES = 64, 64 << 10
_STALE_TMP_SECONDS = 3600


def cache_dir() -> Path:
    root = os.environ.get("SWIFTKIT_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / "swiftkit")
    return Path(root).expanduser() / "lengths"


def max_bytes() -> int:
    try:
        return int(os.environ.get("SWIFTKIT_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def file_fingerprint(path: Path) -> dict[str, Any]:
    """size, mtime_ns and a content hash (whole file, or evenly spaced blocks of a big one)."""
    st = path.stat()
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        if st.st_size <= _WHOLE_FILE_BYTES:
            h.update(f.read())
        else:
            for k in range(_BLOCKS):
                f.seek((st.st_size - _BLOCK_BYTES) * k // (_BLOCKS - 1))
                h.update(f.read(_BLOCK_BYTES))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "blake2b": h.hexdigest()}


def files_digest(paths: list[Path]) -> str:
    """One hash over several small files (a tokenizer's), missing ones included as absent."""
    h = hashlib.blake2b(digest_size=16)
    for p in paths:
        h.update(p.name.encode())
        with contextlib.suppress(OSError):
            h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _entry_path(key: dict[str, Any]) -> Path:
    text = json.dumps({"format": FORMAT, **key}, sort_keys=True, default=str)
    return cache_dir() / f"{hashlib.blake2b(text.encode(), digest_size=20).hexdigest()}.json"


def load(key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached value for key, or None (no entry, another key's entry, unreadable)."""
    path = _entry_path(key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("key") != json.loads(
            json.dumps(key, default=str)
        ):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used
        return data["value"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, AttributeError):
        with contextlib.suppress(OSError):
            path.unlink()  # half-written by something else, or damaged: rebuild it
        return None


def store(key: dict[str, Any], value: dict[str, Any]) -> None:
    """Write the entry atomically (temporary file, then os.replace), then keep the size cap."""
    path = _entry_path(key)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"format": FORMAT, "key": key, "value": value}
        tmp.write_text(json.dumps(body, default=str), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    evict(max_bytes())


def evict(limit: int) -> None:
    """Remove least recently used entries until they fit in `limit` bytes; also temporary files
    left by crashed plans."""
    now = time.time()
    entries = []
    with contextlib.suppress(OSError):
        for p in cache_dir().iterdir():
            try:
                st = p.stat()
            except OSError:
                continue
            if p.name.endswith(".tmp"):
                if now - st.st_mtime > _STALE_TMP_SECONDS:
                    with contextlib.suppress(OSError):
                        p.unlink()
            elif p.suffix == ".json":
                entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _m, size, _p in entries)
    for _mtime, size, p in sorted(entries):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            p.unlink()
        total -= size
