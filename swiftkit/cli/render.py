"""Plans as text for people. Returns strings; cli.py decides where they go."""

from __future__ import annotations

from swiftkit.cli.common import count
from swiftkit.cli.disk import render_disk, render_kept
from swiftkit.cli.nodes import render_launch
from swiftkit.plan.plan import Plan
from swiftkit.plan.schedule import abbreviate

GIB = 1024**3
NOT_WORKED_OUT = "  not worked out: the recipe has errors (listed at the end); fix them first"


def gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.1f} GiB"


def _rows(plan: Plan) -> list[str]:
    out = []
    for d in plan.datasets:
        if d.rows_in_file is None:
            out.append(f"  {d.spec}: rows unknown (hub dataset, not read offline)")
            continue
        sampled = f" -> {d.rows_sampled} after #N" if d.rows_sampled != d.rows_in_file else ""
        dropped = (
            f", {d.rows_over_max_length} over max_length dropped" if d.rows_over_max_length else ""
        )
        role = "validation" if d.role == "val" else f"{d.train_rows} train / {d.val_rows} val"
        out.append(f"  {d.spec}: {count(d.rows_in_file, 'row')}{sampled} -> {role}{dropped}")
    if plan.train_rows is None or plan.val_rows is None:
        unread = sum(d.rows_in_file is None for d in plan.datasets)
        why = f" ({unread} of {count(len(plan.datasets), 'dataset')} not read)" if unread else ""
        out.append(f"  total: unknown{why}")
        return out
    qualifier = "" if plan.rows_exact else " (upper bound)"
    out.append(f"  total: {plan.train_rows} train, {plan.val_rows} validation{qualifier}")
    return out


def _schedule(plan: Plan) -> list[str]:
    s = plan.schedule
    if s is None and plan.errors:  # not because of the datasets: the errors below stop it
        return [NOT_WORKED_OUT]
    if s is None:
        return ["  unknown until every dataset can be counted"]
    w, dp = s.world_size, s.data_parallel_size
    ranks = f"{w} process{'es' if w != 1 else ''}"
    if s.sequence_parallel > 1:
        sp = s.sequence_parallel
        ranks = f"{dp} data-parallel rank{'s' if dp != 1 else ''} ({w} processes / SP {sp})"
    eff = (
        f"  effective batch: {s.per_device_batch} per device x {s.accumulation_steps} accumulation "
        f"x {ranks} = {s.effective_batch_size}"
    )
    if s.sequence_parallel > 1:
        per_process = (
            f"ceil({plan.train_rows} / {dp}) = {count(s.rows_per_process, 'row')} per SP group"
        )
    elif w > 1:
        per_process = (
            f"{plan.train_rows} // {w} = {count(s.rows_per_process, 'row')} per process, the "
            "remainder dropped"
        )
    else:
        per_process = count(plan.train_rows, "row")
    lines = [
        eff,
        f"  batches per epoch: {s.batches_per_epoch} ({per_process}, batch {s.per_device_batch})",
        f"  updates per epoch: ceil({s.batches_per_epoch} / {s.accumulation_steps}) = "
        f"{s.updates_per_epoch}",
        f"  optimizer updates (max_steps): {s.max_steps} "
        f"(ceil({s.epochs:g} epochs x {s.updates_per_epoch}))",
        *(
            [f"  stops at step {s.last_step}: the end of epoch {s.max_epochs} (max_epochs)"]
            if s.last_step < s.max_steps
            else []
        ),
        f"  warmup: {s.warmup_steps} step{'s' if s.warmup_steps != 1 else ''}",
        f"  logs at: {abbreviate(s.log_steps_at)}",
        f"  evaluates at: {abbreviate(s.eval_steps_at)}",
        f"  saves at: {abbreviate(s.save_steps_at)}",
    ]
    lines += render_kept(s)
    return lines


def _seq_source(plan: Plan) -> str:
    m = plan.memory
    if not m.at_max_length:
        return " (max_length)"
    if plan.longest_row_exact:
        return " (the longest row, tokenized)"
    t = plan.token_lengths
    if t is not None and t.source == "tokenizer":
        return " (the longest row the tokenizer saw; not proved, see token lengths)"
    return " (the longest row, an upper bound from its bytes: the tokenizer is not local)"


def _lengths(plan: Plan) -> list[str]:
    """The length profile: what a user chooses max_length from."""
    t = plan.token_lengths
    if t is None:
        return []
    if t.source != "tokenizer":
        return [
            f"token lengths: unknown without the model's tokenizer on disk (the longest row is at "
            f"most {_n(t.max_tokens)} tokens by its bytes)"
        ]
    how = "exact" if t.exact else f"percentiles from a random sample of {_n(t.sample_rows)} rows"
    lines = [
        f"token lengths ({_n(t.rows)} rows, {_n(t.rows_tokenized)} tokenized; {how}):",
        f"  p50 {_n(t.p50_tokens)}, p90 {_n(t.p90_tokens)}, p99 {_n(t.p99_tokens)}, max "
        + (_n(t.max_tokens) if t.max_exact else f"{_n(t.max_tokens)} at most (an upper bound)"),
    ]
    if t.max_length_tokens:
        if t.dropped_at_max_length is not None:
            lines.append(
                f"  max_length {_n(t.max_length_tokens)}: {_n(t.kept_at_max_length)} rows fit, "
                f"{_n(t.dropped_at_max_length)} are longer"
            )
        lines.append(
            f"  max_length keeping 99% of rows: {_n(t.p99_tokens)}"
            f"{'' if t.exact else ' (sample)'}; 100%: {_n(t.max_tokens)}"
            f"{'' if t.max_exact else ' (upper bound)'}"
        )
    if not plan.longest_row_exact and plan.longest_row_tokens:
        lines.append(
            f"  longest kept row: {_n(plan.longest_row_tokens)} among the rows tokenized (the "
            "ones with the most bytes first); not proved longest within the work limit"
        )
    return lines


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _memory(plan: Plan) -> list[str]:
    m = plan.memory
    if m is None and plan.errors:
        return [NOT_WORKED_OUT]
    if m is None:
        return ["  unknown (see notes)"]
    e = m.estimate
    per_gpu = f" per GPU, 1/{m.sequence_parallel} of each row" if m.sequence_parallel > 1 else ""
    lines = [
        f"  model shape from: {m.model_source}",
        f"  sequence: {e.seq_len_tokens} tokens{per_gpu}" + _seq_source(plan),
        f"  peak allocated {gib(e.peak_allocated_bytes)}, reserved {gib(e.peak_reserved_bytes)} "
        f"(swift's memory(GiB)), on the device (nvidia-smi) {gib(e.device_bytes)}",
        f"  high estimate: reserved {gib(e.peak_reserved_high_bytes)}, on the device "
        f"{gib(e.device_high_bytes)} (expected plus the error seen on public GPU runs)",
    ]
    if e.releasable_high_bytes:
        lines.append(
            f"  needs {gib(e.device_needed_high_bytes)} on the high estimate: of the allocator's "
            f"growth, {gib(e.releasable_high_bytes)} is cache PyTorch frees before it runs out"
        )
    for part, n in e.breakdown.items():
        lines.append(f"    {part:<24} {gib(n):>10}")
    if m.gpus_per_process > 1:
        lines.append(
            f"  per GPU: device_map splits the model over {m.gpus_per_process} GPUs a process"
        )
    if m.cpu_offload_bytes:
        lines.append(f"  CPU RAM for ZeRO offload (this node): {gib(m.cpu_offload_bytes)}")
    lines += _inference(m)
    if m.at_max_length:
        a = m.at_max_length
        lines.append(
            f"  at full max_length ({a.seq_len_tokens} tokens{per_gpu}): {gib(a.device_bytes)} on "
            f"the device (needs {gib(a.device_needed_high_bytes)} high)"
        )
    if m.correction is not None:
        lines.append(f"  {e.notes[-1]}")
    for v in m.verdicts:
        lines.append(
            f"  {v.card.name} ({gib(v.card.total_bytes)}): {v.verdict}, needs "
            f"{gib(v.judged_bytes)} on the high estimate, headroom {gib(v.headroom_bytes)}"
        )
    if not m.cards_detected:
        lines.append("  (no GPU found: pass --gpu NAME for your card and what to change)")
    for i, s in enumerate(m.suggestions, 1):
        changes = " ".join(f"{k}={v}" for k, v in s.changes.items())
        lines.append(
            f"  {i}. {s.description}: {gib(s.estimate.device_bytes)} "
            f"(needs {gib(s.estimate.device_needed_high_bytes)} high), {s.verdict} [{changes}]"
        )
    return lines


def _inference(m) -> list[str]:
    """Serving the trained model (swiftkit infer), beside the training peak above."""
    i = getattr(m, "inference", None)
    if i is None:
        return []
    b = i.breakdown
    parts = [f"weights {gib(b['weights'])}"]
    if b.get("adapter"):
        parts.append(f"LoRA unmerged {gib(b['adapter'])}")
    parts += [f"KV cache {gib(b['kv_cache'])}", f"activations {gib(b['activations'])}"]
    lines = [
        f"  inference (swiftkit infer, batch 1, {i.seq_len_tokens} tokens of context): "
        f"{gib(i.device_bytes)} on the device (training: {gib(m.estimate.device_bytes)})",
        "    " + ", ".join(parts),
    ]
    by_verdict: dict[str, list[str]] = {}
    for v in m.inference_verdicts:
        by_verdict.setdefault(v.verdict, []).append(v.card.name)
    if by_verdict:
        verdicts = "; ".join(f"{k} on {', '.join(c)}" for k, c in by_verdict.items())
        lines.append(f"    to serve: {verdicts}")
    return lines


def render_plan(plan: Plan) -> str:
    lines = [f"plan for {plan.recipe} ({plan.recipe_path})", "rows:"]
    lines += _rows(plan)
    lines += _lengths(plan)
    lines.append("schedule:")
    lines += _schedule(plan)
    lines += render_launch(plan)
    lines.append(f"learning rate: {plan.learning_rate:g}")
    if plan.lr_note:
        lines.append(f"  note: {plan.lr_note}")
    lines.append("memory (per GPU):")
    lines += _memory(plan)
    lines += render_disk(plan)
    lines += render_time(plan)
    if plan.notes:
        lines.append("notes:")
        lines += [f"  - {n}" for n in plan.notes]
    if plan.warnings:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in plan.warnings]
    if plan.errors:
        lines.append("errors:")
        lines += [f"  - {e}" for e in plan.errors]
    return "\n".join(lines)


def render_time(plan: Plan) -> list[str]:
    """The time section: per optimizer update, in total, and where the efficiency came from."""
    from swiftkit.cli.common import duration

    t = plan.time
    if t is None:
        return []
    s = plan.schedule
    evals = len(s.eval_steps_at) if s else 0
    saves = len(s.save_steps_at) if s else 0
    return [
        f"time on {t.device} ({t.basis.replace('_', ' ')}: {t.basis_detail}):",
        f"  per optimizer update: {t.step_seconds:.3g} s; {count(s.max_steps, 'update')}: "
        f"{duration(t.train_seconds)}",
        f"  evaluation: {duration(t.eval_seconds)} ({evals}x); checkpoint saves: "
        f"{duration(t.save_seconds)} ({saves}x)",
        f"  total: {duration(t.total_seconds)} (the trainer's loop; model loading not included)",
        f"  {t.tokens_per_update:,.0f} tokens per update (batches padded to "
        f"{t.padded_length_tokens:.0f} tokens on average), {t.tokens_per_second:,.0f} tokens/s",
        *(f"  note: {n}" for n in t.notes),
    ]


def render_problems(plan: Plan) -> str:
    lines = []
    if plan.warnings:
        lines += [f"warning: {w}" for w in plan.warnings]
    n = len(plan.errors)
    lines.append(f"{n} problem{'s' if n != 1 else ''} found:")
    lines += [f"  - {e}" for e in plan.errors]
    return "\n".join(lines)
