"""Sweeps: several variants of one recipe, planned together, trained one after another.

`key=v1,v2` on the command line sweeps a key (several keys: every combination, in the order
given); `key=v` is an ordinary override for every variant. Each variant trains in its own output
directory, `OUTPUT_ROOT/sweep-YYYYMMDD-HHMMSS/key=v[+key2=v2]/`, so its run directory (swift's
`vN-...` inside) shows which variant it is. `sweep.json` there records the variants, so
`--resume` finds the sweep again: finished variants are skipped, an interrupted one resumes from
its last complete checkpoint (run/resume.py), the rest start.

Nothing here prints; cli/sweep.py shows the plans and the comparison.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.errors import RecipeError
from swiftkit.plan.lrscale import lr_scaled
from swiftkit.recipe.recipe import Recipe, launch_env, load_recipe
from swiftkit.recipe.swiftargs import output_root, resolve_args, world_size_from_env
from swiftkit.run.resume import checkpoint_problem, finished
from swiftkit.watch.runs import list_checkpoints, newest_run

MANIFEST = "sweep.json"
LR_RULES = ("sqrt", "linear", "none")
_OPEN, _CLOSE = "[{(\"'", "]})\"'"


@dataclass(frozen=True)
class Variant:
    name: str  # "gradient_accumulation_steps=4+learning_rate=0.0002": its folder's name
    overrides: tuple[str, ...]  # key=value words for load_recipe, output_dir last
    output_dir: Path


@dataclass(frozen=True)
class Sweep:
    recipe_path: Path
    swept: tuple[tuple[str, tuple[str, ...]], ...]  # key -> its values, as typed
    fixed: tuple[str, ...]  # one-value overrides, as typed
    lr_scale: str
    sweep_dir: Path
    variants: tuple[Variant, ...]

    def manifest(self) -> dict[str, Any]:
        return {
            "recipe_path": str(self.recipe_path),
            "swept": {k: list(v) for k, v in self.swept},
            "fixed": list(self.fixed),
            "lr_scale": self.lr_scale,
            "variants": [
                {"name": v.name, "overrides": list(v.overrides), "output_dir": str(v.output_dir)}
                for v in self.variants
            ],
        }


def split_values(text: str) -> list[str]:
    """Comma-separated values; commas inside [], {}, () or quotes belong to one value, so
    `target_modules=[q_proj,v_proj]` is one override and `lora_rank=8,16` two values."""
    values, depth, quote, current = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            values.append("".join(current))
            current = []
            continue
        current.append(ch)
    values.append("".join(current))
    return values


def parse_sweep_words(words: Sequence[str]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """(swept keys with their values, one-value overrides). Raises RecipeError listing every
    malformed word."""
    swept: list[tuple[str, list[str]]] = []
    fixed: list[str] = []
    problems = []
    for word in words:
        key, sep, raw = word.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"sweep argument {word!r} is not key=value. Write e.g. lora_rank=8,16.")
            continue
        values = split_values(raw)
        if len(values) == 1:
            fixed.append(f"{key}={raw}")
            continue
        if any(not v.strip() for v in values):
            problems.append(
                f"sweep argument {word!r} has an empty value between commas. "
                f"Write {key}=1,2 (no empty values)."
            )
            continue
        if any(k == key for k, _ in swept) or any(f.split("=", 1)[0] == key for f in fixed):
            problems.append(f"sweep argument {word!r}: {key} is given twice. Give it once.")
            continue
        swept.append((key, [v.strip() for v in values]))
    owned = [k for k, _ in swept if k in ("output_dir", "add_version")]
    owned += [f.split("=", 1)[0] for f in fixed if f.startswith("add_version=")]
    for key in owned:
        problems.append(
            f"sweep argument {key}=...: the sweep gives each variant its own folder under "
            "output_dir/sweep-DATE-TIME/. Give one output_dir (or none), and no add_version."
        )
    if problems:
        raise RecipeError("\n".join(problems))
    if not swept:
        msg = (
            "sweep needs at least one key with several comma-separated values (got only "
            "one-value overrides). Write e.g. gradient_accumulation_steps=4,8."
        )
        raise RecipeError(msg)
    return swept, fixed


def _folder_value(value: str) -> str:
    return value.replace("/", "_").replace(" ", "") or "empty"


def variant_name(values: Sequence[tuple[str, str]]) -> str:
    return "+".join(f"{k}={_folder_value(v)}" for k, v in values)


def effective_batch(recipe: Recipe) -> tuple[int, float]:
    """(per_device batch x accumulation x world size, learning_rate) as swift resolves them."""
    world, _ = world_size_from_env(launch_env(recipe))
    resolved = resolve_args(recipe.args, world_size=world)
    batch = int(resolved.get("per_device_train_batch_size") or 1)
    accum = int(resolved.get("gradient_accumulation_steps") or 1)
    return batch * accum * world, float(resolved["learning_rate"])


def build_sweep(
    recipe_ref: str,
    words: Sequence[str],
    *,
    lr_scale: str,
    base_dir: Path,
    now: dt.datetime | None = None,
) -> Sweep:
    """Every variant's overrides: its swept values, the fixed overrides, the scaled learning
    rate (against the recipe's lr_tuned_for_batch, else its own effective batch) unless the
    learning rate is given, and its output directory."""
    if lr_scale not in LR_RULES:
        msg = f"--lr-scale must be one of {', '.join(LR_RULES)} (got {lr_scale!r}). Write sqrt."
        raise RecipeError(msg)
    swept, fixed = parse_sweep_words(words)
    base = load_recipe(recipe_ref, fixed, base_dir=base_dir)
    base_eff, _ = effective_batch(base)
    reference = int(base.settings.get("lr_tuned_for_batch") or base_eff)
    lr_given = any(k == "learning_rate" for k, _ in swept) or any(
        f.startswith("learning_rate=") for f in fixed
    )
    root = output_root(resolve_args(base.args, world_size=1), base_dir)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    sweep_dir = root / f"sweep-{stamp}"
    variants = []
    for combo in itertools.product(*(values for _, values in swept)):
        pairs = list(zip((k for k, _ in swept), combo, strict=True))
        words_ = [*fixed, *(f"{k}={v}" for k, v in pairs)]
        if lr_scale != "none" and not lr_given:
            eff, lr = effective_batch(load_recipe(recipe_ref, words_, base_dir=base_dir))
            if eff != reference:
                words_.append(f"learning_rate={lr_scaled(lr, eff, reference, lr_scale):.6g}")
        name = variant_name(pairs)
        out = sweep_dir / name
        variants.append(Variant(name, (*words_, f"output_dir={out}"), out))
    return Sweep(base.path, tuple((k, tuple(v)) for k, v in swept), tuple(fixed), lr_scale,
                 sweep_dir, tuple(variants))  # fmt: skip


def write_manifest(sweep: Sweep) -> Path:
    """sweep.json in a new sweep folder (never an existing one)."""
    try:
        sweep.sweep_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError as e:
        msg = f"{sweep.sweep_dir} exists already (a sweep started this second). Start it again."
        raise RecipeError(msg) from e
    path = sweep.sweep_dir / MANIFEST
    path.write_text(json.dumps(sweep.manifest(), indent=2), encoding="utf-8")
    return path


def find_sweep_to_resume(fresh: Sweep) -> Sweep:
    """The newest sweep of this recipe with the same keys, values, overrides and lr rule."""
    root = fresh.sweep_dir.parent
    wanted = fresh.manifest()
    keys = ("recipe_path", "swept", "fixed", "lr_scale")
    found = sorted(root.glob(f"sweep-*/{MANIFEST}"), reverse=True) if root.is_dir() else []
    for path in found:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if all(data.get(k) == wanted[k] for k in keys):
            variants = tuple(
                Variant(v["name"], tuple(v["overrides"]), Path(v["output_dir"]))
                for v in data["variants"]
            )
            return Sweep(fresh.recipe_path, fresh.swept, fresh.fixed, fresh.lr_scale,
                         path.parent, variants)  # fmt: skip
    msg = (
        f"{root}: no sweep of {fresh.recipe_path.name} with these values to resume. "
        "Run the same sweep without --resume to start it."
    )
    raise RecipeError(msg)


def variant_state(variant: Variant) -> str:
    """'done' (its newest run finished), 'resume' (interrupted with a complete checkpoint) or
    'start' (no run yet, or nothing to resume from)."""
    run = newest_run(variant.output_dir)
    if run is None:
        return "start"
    if finished(run):
        return "done"
    if any(checkpoint_problem(c.path) is None for c in list_checkpoints(run)):
        return "resume"
    return "start"


def variant_run(variant: Variant) -> Path | None:
    return newest_run(variant.output_dir)


def train_variant(recipe: Recipe, plan, state: str, *, base_dir: Path):
    """Train one variant (start it, or resume it): (exit code, failure or None, run directory)."""
    from swiftkit.run import train

    resolved = train.resolved_args(recipe, plan)
    if state == "resume":
        spec, _ = train.prepare_resume(recipe, plan, resolved, base_dir=base_dir)
    else:
        spec = train.prepare_run(recipe, plan, resolved, base_dir=base_dir)
    code, failure = train.run_and_record(spec)
    return code, failure, spec.run_dir
