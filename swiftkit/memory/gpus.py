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


# Dense (no sparsity) tensor-core throughput in TFLOP/s for bf16 (fp16 on cards without bf16)
# with fp32 accumulation, as PyTorch runs it; plain fp32 (no TF32) TFLOP/s; and memory bandwidth
# in GB/s. From NVIDIA's datasheets and architecture whitepapers (Ampere GA102, Ada AD102,
# Blackwell GB202, A100, H100/H200, L4/L20/L40S, A10, T4, V100). GeForce cards run fp16/bf16 with
# fp32 accumulation at half their fp16-accumulate rate. The 4090 D (14,592 of the 4090's 16,384
# CUDA cores, same clocks) is the 4090 scaled by its core count; the H20/H800 are NVIDIA's
# China-market H100 variants (H800: H100 compute, H20: 148 TFLOP/s bf16).
@dataclass(frozen=True)
class Throughput:
    bf16_tflops: float  # fp16 on cards without bf16 (V100, T4)
    fp32_tflops: float
    memory_gbps: float


THROUGHPUT: dict[str, Throughput] = {
    "NVIDIA GeForce RTX 3090": Throughput(71.0, 35.6, 936),
    "NVIDIA GeForce RTX 3090 Ti": Throughput(80.0, 40.0, 1008),
    "NVIDIA GeForce RTX 4090": Throughput(165.2, 82.6, 1008),
    "NVIDIA GeForce RTX 4090 D": Throughput(147.1, 73.5, 1008),
    "NVIDIA GeForce RTX 5090": Throughput(209.5, 104.8, 1792),
    "NVIDIA RTX A6000": Throughput(154.8, 38.7, 768),
    "NVIDIA RTX 6000 Ada Generation": Throughput(364.2, 91.1, 960),
    "NVIDIA A10": Throughput(125.0, 31.2, 600),
    "NVIDIA L4": Throughput(121.0, 30.3, 300),
    "NVIDIA L20": Throughput(119.5, 59.8, 864),
    "NVIDIA L40S": Throughput(362.1, 91.6, 864),
    "NVIDIA A100-SXM4-40GB": Throughput(312.0, 19.5, 1555),
    "NVIDIA A100-SXM4-80GB": Throughput(312.0, 19.5, 2039),
    "NVIDIA A800 80GB PCIe": Throughput(312.0, 19.5, 1935),
    "NVIDIA H100 80GB HBM3": Throughput(989.4, 66.9, 3350),
    "NVIDIA H800": Throughput(989.4, 66.9, 3350),
    "NVIDIA H20": Throughput(148.0, 44.0, 4000),
    "NVIDIA H200": Throughput(989.4, 66.9, 4800),
    "Tesla V100-SXM2-32GB": Throughput(125.0, 15.7, 900),
    "Tesla V100-SXM2-16GB": Throughput(125.0, 15.7, 900),
    "Tesla T4": Throughput(65.0, 8.1, 320),
}


def card_throughput(card: GpuCard) -> Throughput | None:
    """The card's dense throughput and bandwidth (None for a card not in the table)."""
    known = find_card(card.name)
    return THROUGHPUT.get(known.name) if known else None
