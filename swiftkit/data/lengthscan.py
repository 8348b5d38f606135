"""Token lengths of one file's rows in one pass, tokenizing only the rows that can matter.

Every row gets bounds (swiftkit.data.bounds: quick ones from bytes, tight ones where they can
matter). With max_length set, a row whose upper bound is within it is kept and one whose lower
bound is over it dropped, without the tokenizer; the rows in between are batch-encoded as they
stream by, so the count of rows over max_length is exact. The longest kept row (it sizes the
memory estimate) needs only the rows whose upper bound exceeds the longest exact length found:
the rows with the highest bounds are kept aside and tokenized from the top until the next bound
is below the best, reading rows again (`refetch`) if more are needed, within a work limit
(LengthContext.longest_budget_bytes, or 1% of the file): past it the longest found is reported
as not proved, with the bound no row exceeds. Likewise for the most labelled tokens in a row.
A uniform random sample gives the percentiles (a sampled row surely over max_length counts at its
tight lower bound past the budget for such rows); a file of at most exact_profile_bytes has every
row tokenized, and its profile is exact. The sample is the rows of smallest sample_hash(where) and
the rows kept aside are the top by (bound, earliest row), not what the order rows come in makes
them; the rows given tight bounds keep their quick ones (`measured`): so parts of a big file read
apart merge into exactly this scan (swiftkit.data.splitscan says why).
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from operator import itemgetter

from swiftkit.data.boundrules import label_upper_without_tokenizer, upper_without_tokenizer
from swiftkit.data.lengthcontext import LengthContext
from swiftkit.data.profile import LengthSummary, sample_hash

UNKNOWN = 2**32 - 1
_BATCH_ROWS, _RESOLVE_ROWS = 2048, 256
_ROW, _ROW0, _KEY_THEN_EARLIEST = itemgetter(1), itemgetter(0), itemgetter(0, 1)


class LengthScan:
    """Feed it each kept row with `add`, then call `finish`."""

    def __init__(self, ctx: LengthContext, file_bytes: int = 0) -> None:
        self.ctx = ctx
        self.encoder, self.bounds = ctx.encoder, ctx.bounds
        self.whole = file_bytes <= ctx.exact_profile_bytes  # tokenize every row
        self.sample_rows = 2**31 if self.whole else ctx.sample_rows
        # A bigger file may spend more on its longest row: 1% of its bytes, at least the budget.
        self.longest_budget = max(ctx.longest_budget_bytes, file_bytes // 100)
        self.lb, self.ub, self.lub, self.exact = array("I"), array("I"), array("I"), array("I")
        self.where = array("q")  # byte offset (JSON Lines) or record index, for refetch
        self.lower: dict[int, int] = {}  # rows surely over max_length: their lower bound
        self.pending: list[tuple[int, list[dict]]] = []
        self.pending_bytes = 0
        self.heaps: dict[str, list] = {"kept": [], "label": [], "long": []}
        self.outside = {"kept": 0, "label": 0, "long": 0}  # highest key not in the heap
        self.sample: list = []  # (-hash of where, row, messages): a max-heap of the smallest
        self.over = self.tokenized = self.best_kept = self.best_label = self.best_all = 0
        self.done = 0
        self.measured: dict[int, tuple] = {}  # rows measured: quick bounds, lower bounds
        self.floor = self.label_floor = 0  # lower bounds on the longest kept row and label

    def add(self, messages: list[dict], where: int) -> None:
        idx = len(self.ub)
        ctx = self.ctx
        if self.encoder is None:
            self.ub.append(min(upper_without_tokenizer(messages, ctx.system), UNKNOWN - 1))
            self.best_label = max(self.best_label, label_upper_without_tokenizer(messages))
            return
        ml = ctx.max_length
        ub, lub = self.bounds.quick(messages)
        # The tighter (and dearer) bounds only where they can matter: the row might cross
        # max_length, or be the longest kept row (every surely kept row's lower bound is a
        # lower bound on that), or hold the most labelled tokens.
        lb = 0
        crosses = ml is not None and ub > ml
        if crosses or ub > self.floor or lub > self.label_floor:
            lb, tight, label_lb, label_tight = self.bounds.measure(
                messages, stop_above=ml if crosses else None
            )
            if tight is not None:  # None: surely over max_length, found early
                self.measured[idx] = (ub, lub, lb, label_lb)
                ub, lub = tight, label_tight
            if ml is None or ub <= ml:
                self.floor = max(self.floor, lb)
                self.label_floor = max(self.label_floor, label_lb)
        if ub >= UNKNOWN:
            ub, lub = UNKNOWN - 1, min(lub, UNKNOWN - 1)
        self.lb.append(lb)
        self.ub.append(ub)
        self.lub.append(lub)
        self.exact.append(UNKNOWN)
        self.where.append(where)
        if ml is not None and ub > ml:
            if lb > ml:
                self.lower[idx] = lb
                self.over += 1
                self._push("long", ub, -idx, messages, max(ctx.heap_rows // 16, 8))
            else:
                self.pending.append((idx, messages))
                self.pending_bytes += ub
                if self.pending_bytes >= ctx.batch_bytes or len(self.pending) >= _BATCH_ROWS:
                    self._flush()
        else:  # the two heaps, inlined: this runs for nearly every row
            kept, label = self.heaps["kept"], self.heaps["label"]
            if len(kept) < ctx.heap_rows:  # entries (key, -row): ties keep the earliest row
                heapq.heappush(kept, (ub, -idx, messages))
                heapq.heappush(label, (lub, -idx, messages))
            else:
                if ub > kept[0][0]:
                    self._push("kept", ub, -idx, messages, ctx.heap_rows)
                elif ub > self.outside["kept"]:
                    self.outside["kept"] = ub
                if lub > label[0][0]:
                    self._push("label", lub, -idx, messages, ctx.heap_rows)
                elif lub > self.outside["label"]:
                    self.outside["label"] = lub
        key, sample = -sample_hash(where), self.sample  # the sample_rows smallest hashes
        if len(sample) < self.sample_rows:
            heapq.heappush(sample, (key, idx, messages))
        elif key > sample[0][0]:
            heapq.heapreplace(sample, (key, idx, messages))

    def _push(self, name: str, key: int, neg_idx: int, messages, size: int) -> None:
        heap = self.heaps[name]
        if len(heap) < size:
            heapq.heappush(heap, (key, neg_idx, messages))
        elif key > heap[0][0]:
            old = heapq.heapreplace(heap, (key, neg_idx, messages))
            self.outside[name] = max(self.outside[name], old[0])
        elif key > self.outside[name]:
            self.outside[name] = key

    def _flush(self) -> None:
        if self.pending:
            self._tokenize(self.pending, counts_over=True)
        self.pending, self.pending_bytes = [], 0

    def _tokenize(self, rows: list[tuple[int, list[dict]]], counts_over: bool = False) -> None:
        encoder, ml = self.encoder, self.ctx.max_length
        rows = [(i, m) for i, m in rows if self.exact[i] == UNKNOWN]
        if not rows:
            return
        results = encoder.count([encoder.contexts(m) for _i, m in rows])
        for (idx, _m), (length, label) in zip(rows, results, strict=True):
            self.exact[idx] = length
            self.tokenized += 1
            self.best_all = max(self.best_all, length)
            if ml is None or length <= ml:
                self.best_kept = max(self.best_kept, length)
                self.best_label = max(self.best_label, label or 0)
            elif counts_over:
                self.over += 1
        if self.ctx.progress:
            self.done += len(rows)
            self.ctx.progress("tokenizing", self.done, None)

    def finish(
        self, refetch: Callable[[list[int]], Iterator[tuple[int, list[dict]]]]
    ) -> LengthSummary:
        """The summary. `refetch(wheres)` reads rows again: (where, messages) for each `where`
        given to `add` (a byte offset or a record index) of a row it asks for."""
        n = len(self.ub)
        if self.encoder is None:
            top = max(self.ub, default=0) or None
            return LengthSummary(
                rows=n, source="bytes", longest_kept=top, max_tokens=top,
                longest_label=self.best_label or None,  # an upper bound, from bytes
                unknown_lower={0: n} if n else {}, unknown_upper=dict(Counter(self.ub)),
            )  # fmt: skip
        self._flush()
        self.sample = [(i, m) for _k, i, m in sorted(self.sample, key=_ROW)]
        budget = self._tokenize_sample()
        kept_bound = self._resolve(
            "kept", self.ub, lambda: self.best_kept, refetch, self.longest_budget
        )
        label_bound = self._resolve(
            "label", self.lub, lambda: self.best_label, refetch, self.ctx.label_budget_bytes
        )
        max_exact = self._resolve_longest(budget)
        sample_values = [
            self.exact[i] if self.exact[i] != UNKNOWN else self.lower[i] for i, _m in self.sample
        ]
        exact, lower, upper = Counter(), Counter(), Counter()
        for i in range(n):
            if self.exact[i] != UNKNOWN:
                exact[self.exact[i]] += 1
            else:
                lower[self.lb[i]] += 1
                upper[self.ub[i]] += 1
        max_exact = max_exact and kept_bound <= self.best_kept
        longest = self.best_all
        if not max_exact:  # what no row can exceed: the bounds of the rows still unknown
            unknown = (self.ub[i] for i in self.lower if self.exact[i] == UNKNOWN)
            longest = max(longest, kept_bound, *unknown)
        return LengthSummary(
            rows=n,
            source="tokenizer",
            rows_tokenized=self.tokenized,
            over_max_length=self.over if self.ctx.max_length is not None else 0,
            longest_kept=self.best_kept or None,
            longest_kept_exact=kept_bound <= self.best_kept,
            longest_kept_bound=kept_bound or None,
            longest_label=self.best_label if self.best_kept else None,
            longest_label_exact=label_bound <= self.best_label,
            max_tokens=longest or None,
            max_exact=max_exact,
            exact=dict(exact),
            unknown_lower=dict(lower),
            unknown_upper=dict(upper),
            samples=[(sample_values, n)] if sample_values else [],
        )

    def _tokenize_sample(self) -> int:
        """Tokenize the sample; rows surely over max_length only within the budget (measured
        fully first: stopped early, they met few words). Returns the budget left."""
        budget, todo = self.ctx.long_budget_bytes, []
        for idx, messages in self.sample:
            if idx in self.lower and not self.whole:
                self._measure_fully(idx, messages)
                if self.ub[idx] > budget:
                    continue  # counts at its lower bound, which the tight bounds put close
                budget -= self.ub[idx]
            todo.append((idx, messages))
        for start in range(0, len(todo), _BATCH_ROWS):
            self._tokenize(todo[start : start + _BATCH_ROWS])
        return budget

    def _resolve(self, name: str, keys: array, best: Callable[[], int], refetch, budget) -> int:
        """Tokenize rows by descending bound until no row left can beat the best, or until the
        budget (bytes of bound) is spent. Returns an upper bound on the true best: the best
        itself when that is proved, else the highest bound of a row left."""
        candidates = sorted(self.heaps[name], key=_KEY_THEN_EARLIEST, reverse=True)
        i = 0
        while i < len(candidates) and candidates[i][0] > best():
            batch = []
            while i < len(candidates) and len(batch) < _RESOLVE_ROWS:
                key, neg_idx, messages = candidates[i]
                if key <= best():
                    break
                if key > budget:
                    self._tokenize(batch)
                    return max(best(), key)
                budget -= key
                batch.append((-neg_idx, messages))
                i += 1
            self._tokenize(batch)
        if self.outside[name] <= best():
            return best()
        floor = best()
        rest = [
            j
            for j in range(len(keys))
            if keys[j] > floor and self.exact[j] == UNKNOWN and j not in self.lower
        ]
        rest.sort(key=keys.__getitem__, reverse=True)
        for start in range(0, len(rest), _RESOLVE_ROWS):
            chunk: dict[int, int] = {}
            for j in rest[start : start + _RESOLVE_ROWS]:
                if keys[j] <= best():
                    break
                if keys[j] > budget:
                    self._tokenize([(chunk[w], m) for w, m in refetch(list(chunk))])
                    return max(best(), keys[j])
                budget -= keys[j]
                chunk[self.where[j]] = j
            if not chunk:
                break
            self._tokenize([(chunk[where], m) for where, m in refetch(list(chunk))])
        return best()

    def _measure_fully(self, idx: int, messages: list[dict]) -> None:
        """The tight bounds of a row surely over max_length (its first measure stopped early)."""
        lb, ub, _label_lb, _label_ub = self.bounds.measure(messages)
        self.lower[idx] = self.lb[idx] = max(self.lower[idx], lb)
        self.ub[idx] = min(self.ub[idx], ub)

    def _resolve_longest(self, budget: int) -> bool:
        """The longest row of all, when the rows surely over max_length fit the budget."""
        entries = sorted(((-n, m) for _key, n, m in self.heaps["long"]), key=_ROW0)  # row order
        for idx, messages in entries:
            self._measure_fully(idx, messages)
        for idx, messages in sorted(entries, key=lambda e: self.ub[e[0]], reverse=True):
            key = self.ub[idx]
            if key <= self.best_all or self.exact[idx] != UNKNOWN:
                continue
            if key > budget:
                return False
            budget -= key
            self._tokenize([(idx, messages)])
        return self.outside["long"] <= self.best_all
