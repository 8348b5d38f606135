"""Token-length profiles: what is known about the lengths of a dataset's rows, and the figures a
user chooses max_length from (p50/p90/p99/max, rows kept and dropped at max_length, the
max_length that keeps 99% and 100% of rows).

A LengthSummary holds, compactly enough to cache, every row's length as far as it is known: exact
for the rows the tokenizer saw, an interval [lower, upper] for the others (swiftkit.data.bounds),
and the exact lengths of a uniform random sample. A percentile is exact when the intervals leave
one value possible; otherwise it is the sample's, kept inside the possible range, and labelled.
Percentiles are nearest-rank: p99 is the smallest length that at least 99% of rows do not exceed,
which is also the smallest max_length keeping 99% of rows.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from typing import Any


@dataclass
class LengthSummary:
    """Token lengths of the rows of one file (or, merged, of several)."""

    rows: int
    source: str  # "tokenizer" (exact where tokenized) or "bytes" (upper bounds only)
    rows_tokenized: int = 0
    over_max_length: int | None = None  # rows longer than max_length (exact with a tokenizer)
    longest_kept: int | None = None  # longest row not over max_length (of those tokenized)
    longest_kept_exact: bool = False  # proved: no row left can be longer
    longest_kept_bound: int | None = None  # an upper bound on it, when not exact
    longest_label: int | None = None  # most labelled tokens in one kept row
    longest_label_exact: bool = False
    max_tokens: int | None = None  # longest row (an upper bound when not max_exact)
    max_exact: bool = False
    exact: dict[int, int] = field(default_factory=dict)  # length -> rows, tokenized rows
    unknown_lower: dict[int, int] = field(default_factory=dict)  # the others: lower bound -> rows
    unknown_upper: dict[int, int] = field(default_factory=dict)  # and upper bound -> rows
    samples: list[tuple[list[int], int]] = field(default_factory=list)  # (lengths, drawn from)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in _HISTOGRAMS:
            out[key] = {str(k): v for k, v in out[key].items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LengthSummary:
        data = dict(data)
        for key in _HISTOGRAMS:
            data[key] = {int(k): int(v) for k, v in data[key].items()}
        data["samples"] = [(list(map(int, s)), int(n)) for s, n in data["samples"]]
        return cls(**data)

    @classmethod
    def merge(cls, parts: list[LengthSummary]) -> LengthSummary | None:
        if not parts:
            return None
        out = cls(
            rows=0,
            source=parts[0].source,
            longest_kept_exact=True,
            longest_label_exact=True,
            max_exact=True,
        )
        for p in parts:
            out.rows += p.rows
            out.rows_tokenized += p.rows_tokenized
            out.source = p.source if p.source != "tokenizer" else out.source
            out.over_max_length = _add(out.over_max_length, p.over_max_length, p is parts[0])
            out.longest_kept = _max(out.longest_kept, p.longest_kept)
            out.longest_kept_exact = out.longest_kept_exact and p.longest_kept_exact
            out.longest_kept_bound = _max(out.longest_kept_bound, p.longest_kept_bound)
            out.longest_label = _max(out.longest_label, p.longest_label)
            out.longest_label_exact = out.longest_label_exact and p.longest_label_exact
            out.max_tokens = _max(out.max_tokens, p.max_tokens)
            out.max_exact = out.max_exact and p.max_exact
            for mine, theirs in (
                (out.exact, p.exact),
                (out.unknown_lower, p.unknown_lower),
                (out.unknown_upper, p.unknown_upper),
            ):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
            out.samples += p.samples
        return out


_HISTOGRAMS = ("exact", "unknown_lower", "unknown_upper")
_M64 = (1 << 64) - 1


def sample_hash(where: int) -> int:
    """splitmix64's finalizer of a row's position: a bijection of 64-bit integers that looks
    uniformly random, so the rows of smallest hash are a uniform random sample (fixed, as with a
    seed), and the same rows whichever process reads which part of the file."""
    z = (where + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _add(a: int | None, b: int | None, first: bool) -> int | None:
    if first:
        return b
    return None if a is None or b is None else a + b


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass(frozen=True)
class LengthProfile:
    """The length profile of a plan's local datasets (rows after swift's row checks, before
    `#N` sampling and the split). Percentiles are exact when `exact`, else from a uniform random
    sample of `sample_rows` rows."""

    source: str
    rows: int
    rows_tokenized: int
    exact: bool
    sample_rows: int | None
    p50_tokens: int | None
    p90_tokens: int | None
    p99_tokens: int | None
    mean_tokens: int | None  # exact when `exact`, else the sample's, within what bounds allow
    max_tokens: int | None
    max_exact: bool
    max_length_tokens: int | None
    kept_at_max_length: int | None
    dropped_at_max_length: int | None
    longest_kept_tokens: int | None
    longest_label_tokens: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "rows_tokenized": self.rows_tokenized,
            "exact": self.exact,
            "sample_rows": self.sample_rows,
            "p50": self.p50_tokens,
            "p90": self.p90_tokens,
            "p99": self.p99_tokens,
            "mean": self.mean_tokens,
            "max": self.max_tokens,
            "max_exact": self.max_exact,
            "max_length": self.max_length_tokens,
            "kept_at_max_length": self.kept_at_max_length,
            "dropped_at_max_length": self.dropped_at_max_length,
            "max_length_for_99": self.p99_tokens,
            "max_length_for_100": self.max_tokens,
            "longest_kept": self.longest_kept_tokens,
            "longest_label": self.longest_label_tokens,
        }


def make_profile(summary: LengthSummary, max_length: int | None) -> LengthProfile:
    """Percentiles and the max_length figures from a (merged) summary."""
    tokenized = summary.source == "tokenizer"
    quantiles, exact = [], tokenized and summary.rows > 0
    for q in (0.5, 0.9, 0.99):
        value, is_exact = _quantile(summary, q) if tokenized else (None, False)
        quantiles.append(value)
        exact = exact and is_exact
    over = summary.over_max_length if tokenized and max_length else None
    sampled = sum(len(s) for s, _n in summary.samples)
    return LengthProfile(
        source=summary.source,
        rows=summary.rows,
        rows_tokenized=summary.rows_tokenized,
        exact=exact,
        sample_rows=None if exact else sampled or None,
        p50_tokens=quantiles[0],
        p90_tokens=quantiles[1],
        p99_tokens=quantiles[2],
        mean_tokens=_mean(summary) if tokenized else None,
        max_tokens=summary.max_tokens,
        max_exact=summary.max_exact and tokenized,
        max_length_tokens=max_length,
        kept_at_max_length=None if over is None else summary.rows - over,
        dropped_at_max_length=over,
        longest_kept_tokens=summary.longest_kept,
        longest_label_tokens=summary.longest_label,
    )


def _quantile(s: LengthSummary, q: float) -> tuple[int | None, bool]:
    """(nearest-rank quantile, exact?): exact when the known lengths and intervals allow one
    value; else the weighted sample's, clamped to the possible range."""
    if s.rows <= 0:
        return None, False
    k = math.ceil(q * s.rows)
    # The smallest v that surely has k rows at or below it (their upper bounds), and the
    # smallest v that possibly has (their lower bounds): the quantile lies in [lo, hi].
    hi = _first_reaching(_steps(s.exact, s.unknown_upper), k)
    lo = _first_reaching(_steps(s.exact, s.unknown_lower), k)
    if lo is not None and lo == hi:
        return hi, True
    estimate = _sample_quantile(s.samples, q)
    if estimate is None:
        return hi, False
    if lo is not None:
        estimate = max(estimate, lo)
    if hi is not None:
        estimate = min(estimate, hi)
    return estimate, False


def _mean(s: LengthSummary) -> int | None:
    """The mean row: exact when every row is known; else the weighted sample's mean, kept
    between the means of the lower and the upper bounds."""
    if s.rows <= 0:
        return None
    known = sum(k * v for k, v in s.exact.items())
    low = (known + sum(k * v for k, v in s.unknown_lower.items())) / s.rows
    high = (known + sum(k * v for k, v in s.unknown_upper.items())) / s.rows
    weights = [(v, drawn / len(values)) for values, drawn in s.samples if values for v in values]
    estimate = low
    if weights and low != high:
        estimate = sum(v * w for v, w in weights) / sum(w for _v, w in weights)
    return round(min(max(estimate, low), high))


def _steps(*hists: dict[int, int]) -> tuple[list[int], list[int]]:
    merged: dict[int, int] = {}
    for h in hists:
        for k, v in h.items():
            merged[k] = merged.get(k, 0) + v
    values = sorted(merged)
    return values, list(accumulate(merged[v] for v in values))


def _first_reaching(steps: tuple[list[int], list[int]], k: int) -> int | None:
    values, cumulative = steps
    i = bisect_right(cumulative, k - 1)
    return values[i] if i < len(values) else None


def _sample_quantile(samples: list[tuple[list[int], int]], q: float) -> int | None:
    weighted = sorted(
        (v, drawn / len(values)) for values, drawn in samples if values for v in values
    )
    if not weighted:
        return None
    target, seen = q * sum(w for _v, w in weighted), 0.0
    for v, w in weighted:
        seen += w
        if seen >= target - 1e-9:
            return v
    return weighted[-1][0]


def length_distribution(s: LengthSummary, limit: int) -> list[int]:
    """At most `limit` row lengths spread like the rows' own (for the time estimate's padding):
    every row's exact length when all are known (evenly spaced ranks past `limit`), else the
    uniform random sample's exact lengths, else (no tokenizer) the rows' upper bounds."""
    if s.rows <= 0:
        return []
    if sum(s.exact.values()) >= s.rows:
        return _ranks(s.exact, limit)
    sampled = [v for values, _drawn in s.samples for v in values]
    if sampled:
        return sampled[:limit] if len(sampled) > limit else sampled
    merged = dict(s.exact)
    for k, v in s.unknown_upper.items():
        merged[k] = merged.get(k, 0) + v
    return _ranks(merged, limit)


def _ranks(hist: dict[int, int], limit: int) -> list[int]:
    """The histogram's values at min(rows, limit) evenly spaced ranks."""
    values, cumulative = _steps(hist)
    total = cumulative[-1] if cumulative else 0
    n = min(total, limit)
    return [values[bisect_right(cumulative, int((i + 0.5) * total / n))] for i in range(n)]


def mean_tokens(s: LengthSummary) -> int | None:
    """The mean row: as the profile gives it with a tokenizer; without one, the mean of the rows'
    byte upper bounds (an upper bound on the mean)."""
    if s.source == "tokenizer" or s.rows <= 0:
        return _mean(s)
    known = sum(k * v for k, v in s.exact.items())
    return round((known + sum(k * v for k, v in s.unknown_upper.items())) / s.rows)
