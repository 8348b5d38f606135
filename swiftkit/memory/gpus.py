"""A table of common GPUs (memory, bf16 support) and lookup by a loose name like "4090D".

Memory is the usable total as nvidia-smi reports it (memory.total, MiB), not the marketing GB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIB = 1024**2


@dataclass(frozen=True)
class GpuCard:
    name: str
    total_bytes: int
    bf16: bool
    aliases: tuple[str, ...] = ()
    free_bytes: int | None = None  # known only for a detected card


def _card(name: str, total_mib: int, bf16: bool, *aliases: str) -> GpuCard:
    return GpuCard(name=name, total_bytes=total_mib * MIB, bf16=bf16, aliases=aliases)


# nvidia-smi memory.total for each card (MiB).
CARDS: tuple[GpuCard, ...] = (
    _card("NVIDIA GeForce RTX 3090", 24576, True, "3090", "rtx3090"),
    _card("NVIDIA GeForce RTX 3090 Ti", 24564, True, "3090ti"),
    _card("NVIDIA GeForce RTX 4090", 24564, True, "4090", "rtx4090"),
    _card("NVIDIA GeForce RTX 4090 D", 24564, True, "4090d", "rtx4090d"),
    _card("NVIDIA GeForce RTX 5090", 32607, True, "5090", "rtx5090"),
    _card("NVIDIA RTX A6000", 49140, True, "a6000", "rtxa6000"),
    _card("NVIDIA RTX 6000 Ada Generation", 49140, True, "6000ada", "rtx6000ada"),
    _card("NVIDIA A10", 23028, True, "a10", "a10g"),
    _card("NVIDIA L4", 23034, True, "l4"),
    _card("NVIDIA L20", 46068, True, "l20"),
    _card("NVIDIA L40S", 46068, True, "l40s", "l40"),
    _card("NVIDIA A100-SXM4-40GB", 40960, True, "a100", "a10040g", "a10040gb", "a100pcie40gb"),
    _card("NVIDIA A100-SXM4-80GB", 81920, True, "a10080g", "a10080gb", "a100pcie80gb"),
    _card("NVIDIA A800 80GB PCIe", 81920, True, "a800", "a80080g", "a80080gb"),
    _card("NVIDIA H100 80GB HBM3", 81559, True, "h100", "h10080g", "h100sxm", "h100pcie"),
    _card("NVIDIA H800", 81559, True, "h800", "h80080g"),
    _card("NVIDIA H20", 97871, True, "h20", "h2096g"),
    _card("NVIDIA H200", 143771, True, "h200", "h200141g"),
    _card("Tesla V100-SXM2-32GB", 32768, False, "v100", "v10032g", "v10032gb"),
    _card("Tesla V100-SXM2-16GB", 16384, False, "v10016g", "v10016gb"),
    _card("Tesla T4", 15360, False, "t4"),
)

# What to show when no GPU is detected or named.
COMMON_CARDS: tuple[GpuCard, ...] = tuple(
    c for c in CARDS if c.aliases[0] in ("4090d", "a10080g", "h100", "l40s", "t4")
)


def _key(name: str) -> str:
    text = name.lower().replace("geforce", "").replace("nvidia", "").replace("tesla", "")
    return re.sub(r"[^a-z0-9]", "", text)


def find_card(name: str) -> GpuCard | None:
    """The card called `name` ("4090D", "RTX 4090", "a100-80g", "H100", an nvidia-smi name)."""
    key = _key(name)
    if not key:
        return None
    for card in CARDS:
        if key == _key(card.name) or key in card.aliases:
            return card
    stripped = re.sub(r"^(rtx|gtx)", "", key)
    for card in CARDS:
        if stripped in card.aliases:
            return card
    return None


def card_from_smi(name: str, total_mib: int, free_mib: int | None = None) -> GpuCard:
    """A detected card: its table entry's bf16 support with the measured memory."""
    known = find_card(name)
    bf16 = known.bf16 if known else not re.search(r"\b(t4|v100|p100|p40|k80)\b", name.lower())
    return GpuCard(
        name=name.strip(),
        total_bytes=total_mib * MIB,
        bf16=bf16,
        aliases=known.aliases if known else (),
        free_bytes=None if free_mib is None else free_mib * MIB,
    )
