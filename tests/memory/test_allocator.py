"""The replay of PyTorch's caching allocator: its rules, and the growth table the plan reads."""

import statistics

import pytest

from swiftkit.memory.allocator import CachingAllocator, micro_step_blocks, simulate_growth
from swiftkit.memory.growth import (
    GROWTH_HIGH,
    GROWTH_HIGH_LIGER,
    GROWTH_MEDIAN,
    PINNED_HIGH,
    PINNED_HIGH_LIGER,
    PINNED_MEDIAN,
    PINNED_MEDIAN_LIGER,
    SPREADS,
    growth_ratio,
)

MIB = 1024**2
# Qwen2.5-7B LoRA on all linear layers: (h, q, kv, I, vocab, layers, adapter ins, adapter outs)
QWEN7B = (3584, 3584, 512, 18944, 152064, 28, (3584,) * 5 + (3584, 18944),
          (3584, 512, 512, 3584, 18944, 18944, 3584))  # fmt: skip


def test_segment_sizes_follow_cuda_caching_allocator():
    a = CachingAllocator()
    a.malloc("small", 100_000)  # <= 1 MiB: a 2 MiB small-pool segment
    assert a.reserved == 2 * MIB
    a.malloc("mid", 3 * MIB)  # 1-10 MiB: a 20 MiB segment
    assert a.reserved == 22 * MIB
    a.malloc("mid2", 5 * MIB)  # split from the same 20 MiB segment
    assert a.reserved == 22 * MIB
    a.malloc("big", 12 * MIB + 1)  # >= 10 MiB: its size rounded up to 2 MiB
    assert a.reserved == 22 * MIB + 14 * MIB
    assert a.allocated == 100_352 + 3 * MIB + 5 * MIB + 12 * MIB + 512  # 512-byte rounding


def test_freed_blocks_merge_and_are_reused_best_fit():
    a = CachingAllocator()
    a.malloc("a", 4 * MIB)
    a.malloc("b", 4 * MIB)
    a.free("a")
    a.free("b")  # a, b and the rest of the 20 MiB segment merge back into one free block
    a.malloc("c", 15 * MIB)  # fits the merged block: no new segment
    assert a.reserved == 20 * MIB


def test_a_longer_row_after_shorter_ones_leaves_segments_behind():
    def replay(lengths):
        a = CachingAllocator()
        for n in lengths:
            for kind, name, size in micro_step_blocks(QWEN7B, n, n, checkpointing=True):
                a.malloc(name, size) if kind == "a" else a.free(name)
        return a.peak_reserved - a.peak_allocated

    assert replay([200, 300, 400, 550]) > replay([550, 400, 300, 200]) >= 0


def test_growth_table_matches_a_fresh_replay():
    """GROWTH_MEDIAN was produced by these replays (10 row orders of 96 steps, three models);
    10 orders of 48 steps for 7B at 1024 tokens land near it."""
    for spread in (0.2, 0.5, 1.0):
        runs = [simulate_growth(QWEN7B, 1024, int(1024 * spread), 0.8, steps=48, seed=s)
                for s in range(10)]  # fmt: skip
        expected = GROWTH_MEDIAN[SPREADS.index(spread)]
        assert statistics.median(g for g, _ in runs) == pytest.approx(expected, rel=0.3)
        pinned = statistics.median(p for _, p in runs)
        assert pinned == pytest.approx(PINNED_MEDIAN[SPREADS.index(spread)], abs=0.05)
    assert all(h >= m for h, m in zip(GROWTH_HIGH, GROWTH_MEDIAN, strict=True))
    assert all(h >= m for h, m in zip(PINNED_HIGH, PINNED_MEDIAN, strict=True))
    assert all(p < g for p, g in zip(PINNED_HIGH, GROWTH_HIGH, strict=True))
    for tables in ((PINNED_MEDIAN_LIGER, PINNED_HIGH_LIGER, GROWTH_HIGH_LIGER),):
        assert all(m <= h < g for m, h, g in zip(*tables, strict=True))


def test_only_segments_holding_a_live_block_are_pinned():
    """release_cached_blocks frees whole free segments: a segment with one live block stays."""
    a = CachingAllocator()
    a.malloc("old", 64 * MIB)
    a.malloc("keep", 3 * MIB)  # a 20 MiB segment
    a.free("old")
    assert a.reserved == 84 * MIB and a.pinned == 20 * MIB
    a.malloc("new", 128 * MIB)  # the free 64 MiB segment cannot hold it: a new one
    assert a.peak_reserved == 212 * MIB and a.peak_pinned == 148 * MIB
    a.free("keep")
    assert a.pinned == 128 * MIB


def test_growth_ratio_interpolates_and_clamps():
    assert growth_ratio(0.2) == GROWTH_MEDIAN[1]
    assert growth_ratio(0.25) == pytest.approx((GROWTH_MEDIAN[1] + GROWTH_MEDIAN[2]) / 2)
    assert growth_ratio(0.01) == GROWTH_MEDIAN[0] and growth_ratio(3.0) == GROWTH_MEDIAN[-1]
    assert growth_ratio(0.5, high=True) == GROWTH_HIGH[3]
