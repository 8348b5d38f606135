"""Where a model's tokenizer lives on this machine: its own folder, or a hub cache copy.

Owns finding tokenizer.json for a `--model` value: a local model folder, or the copy of a hub id
that ModelScope or Hugging Face downloaded (their cache layouts and environment variables), in
the order swift downloads from them. Pure apart from looking at files; never imports torch,
swift or transformers.
"""

from __future__ import annotations

import os
from pathlib import Path

TOKENIZER_FILE = "tokenizer.json"


def find_local_tokenizer(model: str, base_dir: Path) -> Path | None:
    """A folder holding tokenizer.json for `model`: the model folder itself, or the ModelScope or
    Hugging Face cache copy of a hub id (MODELSCOPE_CACHE, HF_HUB_CACHE, HF_HOME honoured;
    ModelScope first unless USE_HF is set, as swift downloads). None when there is none."""
    if not model:
        return None
    path = Path(model).expanduser()
    local = path if path.is_absolute() else Path(base_dir) / path
    if local.is_dir():
        return local if (local / TOKENIZER_FILE).is_file() else None
    if model.count("/") != 1 or model.startswith((".", "/", "~")):
        return None
    ms, hf = _modelscope_dirs(model), _hf_dirs(model)
    use_hf = os.environ.get("USE_HF", "0").lower() in ("1", "true", "yes")
    for candidate in (hf + ms) if use_hf else (ms + hf):
        if (candidate / TOKENIZER_FILE).is_file():
            return candidate
    return None


def _modelscope_dirs(model: str) -> list[Path]:
    """modelscope/hub/utils/utils.py:182-260: models/Org/Name (dots written as ___), the
    models/Org--Name/snapshots layout, and the older flat Org/Name layouts."""
    env = os.environ.get("MODELSCOPE_CACHE")
    roots = [Path(env).expanduser()] if env else [Path.home() / ".cache" / "modelscope" / "hub"]
    roots.append(roots[0].parent if not env else roots[0] / "hub")
    org, name = model.split("/", 1)
    safe = name.replace(".", "___")
    out = []
    for root in roots:
        for n in dict.fromkeys([safe, name]):
            out += [root / "models" / org / n, root / org / n]
        out += _snapshots(root / "models" / f"{org}--{name}")
    return out


def _hf_dirs(model: str) -> list[Path]:
    hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if not hub:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        hub = str(Path(os.environ.get("HF_HOME") or Path(xdg) / "huggingface") / "hub")
    return _snapshots(Path(hub).expanduser() / f"models--{model.replace('/', '--')}")


def _snapshots(repo: Path) -> list[Path]:
    """snapshots/<revision>: the one refs/main names first, then newest first."""
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return []
    found = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    try:
        main = snapshots / (repo / "refs" / "main").read_text().strip()
    except OSError:
        return found
    return [main, *(p for p in found if p != main)]
