"""How one plan measures the rows of its datasets: the tokenizer (loaded on first use), the
bounds, --system, max_length and the work limits of a scan (swiftkit.data.lengthscan)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swiftkit.data.bounds import RowBounds


@dataclass(frozen=True)
class LengthContext:
    """How one plan measures rows: `load` gives the encoder (swiftkit.data.tokens.RowEncoder)
    and the bounds, loaded on first use so that a plan answered from the cache never reads the
    tokenizer (None: no local tokenizer); --system, max_length (None: nothing is dropped) and the
    work limits."""

    load: Callable[[], tuple[Any, RowBounds]] | None
    system: str | None
    max_length: int | None
    sample_rows: int = 1000
    heap_rows: int = 4096
    batch_bytes: int = 1 << 20  # text per encode_batch: its encodings hold ~100 B a token
    # Work limits, in bytes of upper bound tokenized per file (the tokenizer runs at roughly
    # 1-3 MB/s on two cores): the longest kept row, the most labelled tokens, the rows surely
    # over max_length (for the longest row of all and the sample). A file up to exact_profile_bytes
    # is tokenized whole.
    longest_budget_bytes: int = 4 << 20
    label_budget_bytes: int = 1 << 20
    long_budget_bytes: int = 512 << 10
    exact_profile_bytes: int = 2 << 20
    progress: Callable[[str, int, int | None], None] | None = None
    _loaded: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def encoder(self) -> Any:
        return self._get()[0]

    @property
    def bounds(self) -> RowBounds | None:
        return self._get()[1]

    def _get(self) -> tuple[Any, RowBounds | None]:
        if self.load is None:
            return None, None
        if "value" not in self._loaded:
            self._loaded["value"] = self.load()
        return self._loaded["value"]
