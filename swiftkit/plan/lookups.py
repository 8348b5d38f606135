"""The recipe's names looked up in the memory stage's tables before anything else is worked out:
the card to judge memory against (swiftkit.gpu, --gpu) and a model that is neither a folder here
nor a hub id swift could download."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

from swiftkit.memory.gpus import CARDS, find_card
from swiftkit.memory.models import BUILTIN_MODELS

_SIZE = re.compile(r"\d(\.\d+)?[BbMm]\b")  # 7B, 0.5B, 135M: a model named by its size
_GPU_FIX = "Use a name such as 4090D, A100-80G or H100 (python -m swiftkit gpus lists them)."


def gpu_problems(recipe, gpus: Sequence[str]) -> list[str]:
    """One message per card name swiftkit does not know: the recipe's swiftkit.gpu (at its own
    line) and each --gpu. Checked first, so they are listed with every other problem."""
    out = []
    named = recipe.settings.get("gpu")
    if named and find_card(named) is None:
        out.append(
            f"{recipe.location('swiftkit.gpu')}: swiftkit.gpu is not a card swiftkit knows "
            f"(got {named!r}).{_near_card(named)} {_GPU_FIX}"
        )
    for name in gpus:
        if find_card(name) is None:
            out.append(f"gpu {name!r} is not a card swiftkit knows.{_near_card(name)} {_GPU_FIX}")
    return out


def _near_card(name: str) -> str:
    keys = {alias: card.name for card in CARDS for alias in card.aliases}
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    near = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.75)
    return f" Did you mean {near[0].upper()} ({keys[near[0]]})?" if near else ""


def model_warning(recipe, model: str | None, base_dir: Path) -> str | None:
    """A warning for a model named without an organisation that is not a folder here.

    swift loads `model` through safe_snapshot_download (swift/utils/hub_utils.py): a path that
    exists (relative to the working directory) is used as it is; anything else is downloaded as
    a hub id. ModelScope (the default hub, USE_HF unset) reads a name without '/' as
    damo/NAME (modelscope/hub/utils/utils.py model_id_to_group_owner_name), so
    `model: Qwen2.5-7B-Instruct` fails to download. Hugging Face still serves a few old bare
    ids (gpt2, t5-small), so this is a warning, not an error, and only for a name that is a
    model in swiftkit's table (swiftkit.memory.models, which gives the suggestion) or carries a
    size such as 7B, as a downloaded repository's folder does.
    """
    if not model or "/" in model or "\\" in model or model.startswith("~"):
        return None
    if (base_dir / model).exists():
        return None
    ids = _ids_named(model)
    if not ids and not _SIZE.search(model):  # not a model's name: gpt2 may be a hub id
        return None
    fix = (
        f"Did you mean {' or '.join(ids)}? Or write the folder's path"
        if ids
        else "Write the hub id as ORG/NAME, or the folder's path"
    )
    return (
        f"{recipe.location('model')}: model has no folder {model} here (looked for "
        f"{base_dir / model}), so swift would download it as a hub id, and a hub id needs its "
        f"organisation (ModelScope reads {model} as damo/{model}). {fix}."
    )


def _ids_named(model: str) -> list[str]:
    """Ids in the model table whose name part is `model` (case and punctuation aside), else the
    closest one."""

    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9.]", "", text.lower())

    by_name: dict[str, list[str]] = {}
    for row in BUILTIN_MODELS.values():
        model_id = row["model_id"]
        by_name.setdefault(norm(model_id.split("/")[-1]), []).append(model_id)
    key = norm(model)
    if key not in by_name:
        near = difflib.get_close_matches(key, list(by_name), n=1, cutoff=0.85)
        if not near:
            return []
        key = near[0]
    ids = by_name[key]
    return sorted(ids, key=lambda i: (not i.startswith("Qwen/"), i))[:2]
