"""What ms-swift 4.6 accepts for `--deepspeed`, and the ZeRO stage and offload it asks for.

swift/arguments/sft_args.py `_init_deepspeed` replaces a preset name (zero0, zero1, zero2, zero3,
zero2_offload, zero3_offload) with the JSON file swift ships (swift/config/NAME.json); any other
string goes to swift/utils/utils.py `json_parse_to_dict`: an existing file is read as JSON,
anything else is parsed as a JSON string and raises when it is not one. So a 2.x/3.x preset
name such as `default-zero2`, or a typo, fails only after start-up; here it is an error with the
preset it most likely means. Plain json reads: no swift, no deepspeed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Preset -> (ZeRO stage, optimizer states offloaded to CPU, parameters offloaded to CPU), as the
# files in swift/config/ set zero_optimization.stage, offload_optimizer and offload_param.
PRESETS = {
    "zero0": (0, False, False),
    "zero1": (1, False, False),
    "zero2": (2, False, False),
    "zero3": (3, False, False),
    "zero2_offload": (2, True, False),
    "zero3_offload": (3, True, True),
}
# ms-swift 2.x/3.x names (their `prepare_deepspeed` mapping) and the 4.x preset for each.
OLD_PRESETS = {
    "default-zero2": "zero2",
    "default-zero3": "zero3",
    "zero2-offload": "zero2_offload",
    "zero3-offload": "zero3_offload",
}
OFFLOAD_DEVICES = ("cpu", "nvme")
_STAGE = re.compile(r"(?:zero|stage|ds_z|z)[_\-]?([0-3])")


@dataclass(frozen=True)
class DeepSpeedSpec:
    """A `--deepspeed` value swift accepts: its ZeRO stage and what it offloads to CPU RAM."""

    source: str  # "preset" | "file" | "json"
    stage: int  # zero_optimization.stage (0 when the config has none)
    offload_optimizer: bool  # optimizer states (and gradients) in CPU RAM
    offload_param: bool  # parameters in CPU RAM (ZeRO-3 only)
    path: str | None = None  # the JSON file read, for source "file"

    @property
    def memory_name(self) -> str:
        """The preset-style name the memory estimate reads (swiftkit.memory.estimate)."""
        name = f"zero{self.stage}"
        params = self.offload_param and self.stage == 3
        if self.offload_optimizer and (params or self.stage < 3):
            return name + "_offload"
        if self.offload_optimizer:
            return name + "_offload_optimizer"
        if params:
            return name + "_offload_param"
        return name


def _from_config(
    config: Mapping[str, Any], source: str, path: str | None
) -> tuple[DeepSpeedSpec | None, str | None]:
    zero = config.get("zero_optimization") or {}
    zero = zero if isinstance(zero, Mapping) else {}
    stage = zero.get("stage", 0)
    if isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        where = f"file {path}" if path else "config"
        return None, (
            f"deepspeed {where}: zero_optimization.stage must be 0, 1, 2 or 3 (got {stage!r}). "
            "Fix the config, or use a preset such as zero2."
        )

    def offloaded(key: str) -> bool:
        block = zero.get(key) or {}
        return isinstance(block, Mapping) and str(block.get("device", "none")) in OFFLOAD_DEVICES

    spec = DeepSpeedSpec(
        source, int(stage), offloaded("offload_optimizer"), offloaded("offload_param"), path
    )
    return spec, None


def suggest_preset(value: str) -> str | None:
    """The 4.x preset a wrong `--deepspeed` value most likely means, or None."""
    text = value.strip()
    if text in OLD_PRESETS:
        return OLD_PRESETS[text]
    lowered = Path(text).stem.lower() if text.lower().endswith(".json") else text.lower()
    stage = _STAGE.search(lowered)
    if stage:
        preset = f"zero{stage.group(1)}"
        if f"{preset}_offload" in PRESETS:  # zero2/zero3: with offload if it says so, or nearly
            rest = lowered[stage.end() :].strip("_-")
            if "offload" in rest or difflib.get_close_matches(rest, ["offload"], cutoff=0.7):
                preset += "_offload"
        return preset
    near = difflib.get_close_matches(lowered.replace("-", "_"), list(PRESETS), n=1, cutoff=0.6)
    return near[0] if near else None


def parse_deepspeed(value: Any, base_dir: Path) -> tuple[DeepSpeedSpec | None, str | None]:
    """(spec, None) for a value swift 4.6 accepts, (None, problem) otherwise; (None, None) unset.

    `value` is the typed recipe value: None, a mapping (a JSON object given inline) or a string
    (a preset, or a path resolved against `base_dir`, the working directory swift runs in).
    The problem reads `deepspeed <what is wrong> (got ...). <fix>.` without a location.
    """
    if value is None or value == "":
        return None, None
    if isinstance(value, Mapping):
        return _from_config(value, "json", None)
    text = str(value)
    if text in PRESETS:
        stage, opt, param = PRESETS[text]
        return DeepSpeedSpec("preset", stage, opt, param), None
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            return None, (
                f"deepspeed file {path} is not valid JSON ({e}) (got {text!r}). "
                "Fix the file, or use a preset such as zero2."
            )
        if not isinstance(config, Mapping):
            return None, (
                f"deepspeed file {path} must hold a JSON object (got {text!r}). "
                "Fix the file, or use a preset such as zero2."
            )
        return _from_config(config, "file", str(path))
    presets = ", ".join(PRESETS)
    suggestion = suggest_preset(text)
    if text in OLD_PRESETS:
        fix = f"{text!r} is the ms-swift 2.x/3.x name: write deepspeed: {suggestion}."
    elif suggestion:
        fix = f"Did you mean {suggestion}? (presets: {presets})."
    else:
        fix = f"Use a preset ({presets}), a JSON file that exists, or a JSON object."
    return None, (
        f"deepspeed is not a swift 4.6 preset, an existing JSON file or a JSON object "
        f'(got {text!r}); swift would stop after start-up ("Unable to parse json string"). {fix}'
    )
