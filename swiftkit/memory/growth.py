"""The caching allocator's growth the plan reads: tables from allocator.py's replays.

The replays (allocator.simulate_growth) take tenths of a second each and are random in the
order of rows, so the plan does not replay: it reads the growth, as a multiple of the longest
micro-step's dynamic bytes, from these tables by the rows' spread (mean row / longest row).
Regenerate: python tests/bench/memory_reference.py --growth-table [--liger]. Pure Python.
"""

from __future__ import annotations

import bisect

# Median and 90th percentile over 10 row orders of 96 micro-steps, for Qwen2.5-0.5B,
# Qwen2.5-7B and Qwen3-8B LoRA at 512 and 2048 tokens (the three agree within 0.3). Rows all of
# one length (--packing) reuse the same blocks every step: no growth.
SPREADS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
GROWTH_MEDIAN = (1.07, 2.03, 2.02, 1.06, 0.78, 0.54)
GROWTH_HIGH = (1.40, 2.65, 3.05, 2.45, 1.47, 1.15)
# The same replays' pinned growth: all but this is cached in segments with no live block, which
# the allocator frees and retries with before it raises out-of-memory, so on a card that is
# short of room the run needs only the pinned part.
PINNED_MEDIAN = (0.04, 0.05, 0.07, 0.04, 0.04, 0.05)
PINNED_HIGH = (0.07, 0.10, 0.16, 0.09, 0.11, 0.12)
# The same replay of a micro-step with liger-kernel's layer ops and fused linear cross-entropy
# (micro_step_blocks liger=True; --growth-table --liger): without the full-vocabulary logits
# blocks, whose size follows each row, far less is left stranded. The models disagree more here
# (0.07-0.93 at spread 0.5): the layer blocks of 7-8B models at 2048 tokens are large segments.
GROWTH_MEDIAN_LIGER = (0.19, 0.36, 0.32, 0.21, 0.13, 0.13)
GROWTH_HIGH_LIGER = (0.24, 0.47, 0.54, 0.33, 0.30, 0.24)
PINNED_MEDIAN_LIGER = (0.07, 0.08, 0.08, 0.07, 0.07, 0.06)
PINNED_HIGH_LIGER = (0.08, 0.09, 0.10, 0.09, 0.09, 0.09)
_TABLES = {
    (False, False, False): GROWTH_MEDIAN,
    (True, False, False): GROWTH_HIGH,
    (False, True, False): PINNED_MEDIAN,
    (True, True, False): PINNED_HIGH,
    (False, False, True): GROWTH_MEDIAN_LIGER,
    (True, False, True): GROWTH_HIGH_LIGER,
    (False, True, True): PINNED_MEDIAN_LIGER,
    (True, True, True): PINNED_HIGH_LIGER,
}


def growth_ratio(
    mean_over_longest: float, *, high: bool = False, pinned: bool = False, liger: bool = False
) -> float:
    """The allocator's growth as a multiple of the dynamic bytes, interpolated in SPREADS:
    what max_memory_reserved shows on a card with room to spare, or with `pinned` what stays
    when memory runs short (segments holding a live block); liger: the tables of a micro-step
    with liger-kernel's fused cross-entropy."""
    table = _TABLES[(high, pinned, liger)]
    x = min(max(mean_over_longest, SPREADS[0]), SPREADS[-1])
    i = bisect.bisect_left(SPREADS, x)
    if SPREADS[i] == x:
        return table[i]
    x0, x1, y0, y1 = SPREADS[i - 1], SPREADS[i], table[i - 1], table[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
