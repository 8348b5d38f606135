"""GPU detection, lazy: nvidia-smi first, torch only if it is already imported.

Never imports torch itself (plan/validate stay fast); no GPU gives an empty list.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from swiftkit.memory.gpus import MIB, GpuCard, card_from_smi

_QUERY = ["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]


def parse_smi(text: str) -> list[GpuCard]:
    """Cards from `nvidia-smi --query-gpu=name,memory.total,memory.free` CSV output."""
    cards = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.rsplit(",", 2)]
        if len(parts) != 3:
            continue
        try:
            cards.append(card_from_smi(parts[0], int(float(parts[1])), int(float(parts[2]))))
        except ValueError:
            continue
    return cards


def _from_smi() -> list[GpuCard] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, *_QUERY], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return parse_smi(done.stdout)


def _from_torch() -> list[GpuCard]:
    torch = sys.modules.get("torch")  # only when something already paid for the import
    if torch is None:
        return []
    try:
        if not torch.cuda.is_available():
            return []
        cards = []
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            card = card_from_smi(torch.cuda.get_device_name(i), total // MIB, free // MIB)
            bf16 = torch.cuda.get_device_capability(i)[0] >= 8
            cards.append(GpuCard(card.name, card.total_bytes, bf16, card.aliases, card.free_bytes))
        return cards
    except (RuntimeError, AssertionError):
        return []


def detect_gpus() -> list[GpuCard]:
    """The machine's GPUs (name, total and free memory, bf16 support); [] when there are none."""
    found = _from_smi()
    return found if found is not None else _from_torch()
