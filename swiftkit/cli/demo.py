"""What `train` prints after a self-cognition run (the identity check) and what `demo` adds: the
loss it started and ended at, and a few of the held-out answers, so a reader sees it learned."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swiftkit.cli.common import err, out
from swiftkit.errors import SwiftkitError

DEMO_ANSWERS_SHOWN = 3


def identity_after_training(run_dir: Path, recipe_args: Mapping[str, Any]):
    """Run and print the identity check when the recipe sets model_name/model_author.

    Returns the IdentityCheck, or None when the recipe is not a self-cognition one or the check
    could not run (a warning says why: the training result and exit code stand either way).
    """
    from swiftkit.after.identity import wants_check, write_check
    from swiftkit.after.target import resolve_target

    if not wants_check(recipe_args):
        return None
    from swiftkit.after.identity import run_check
    from swiftkit.cli.after import render_check

    out("identity check: asking the trained model who it is (skip with --no-check) ...")
    start = time.perf_counter()
    try:
        target = resolve_target(str(run_dir), "best")
        check = run_check(target)
    except SwiftkitError as e:
        err(f"warning: the identity check did not run: {e}")
        return None
    path = write_check(run_dir, check, seconds=time.perf_counter() - start)
    out("\n".join(render_check(check)))
    out(f"  (in {time.perf_counter() - start:.0f}s; written to {path})")
    return check


def demo_report(run_dir: Path, check) -> str:
    """Start and end loss from swift's log, and DEMO_ANSWERS_SHOWN answers of the check."""
    from swiftkit.watch.runs import read_run

    run = read_run(run_dir)
    lines = ["demo:"]
    if run.train:
        first, last = run.train[0], run.train[-1]
        lines.append(
            f"  loss: started at {first.loss:.3f} (step {first.step}), ended at {last.loss:.3f} "
            f"(step {last.step})"
        )
    if run.evals:
        lines.append(
            f"  eval_loss on the held-out questions: {run.evals[0].eval_loss:.3f} (step "
            f"{run.evals[0].step}) -> {run.evals[-1].eval_loss:.3f} (step {run.evals[-1].step})"
        )
    if check is not None:
        n = len(check.answers)
        verdict = "passed" if check.passed else "failed"
        lines.append(
            f"  identity check {verdict}: {check.name_hits} of {n} held-out answers name it"
        )
        for a in _some_of_each_language(check.answers, DEMO_ANSWERS_SHOWN):
            lines.append(f"  > {a.query}\n    {a.response}")
    lines.append(f"  talk to it: python -m swiftkit infer {run_dir} --query 'Who are you?'")
    lines.append(f"  merge it:   python -m swiftkit export {run_dir} --merge-lora")
    return "\n".join(lines)


def _some_of_each_language(answers, n: int) -> list:
    """n answers, English and Chinese interleaved when there are both, in their order."""
    english = [a for a in answers if a.query.isascii()]
    other = [a for a in answers if not a.query.isascii()]
    mixed = [a for pair in zip(english, other, strict=False) for a in pair]
    rest = [a for a in answers if a not in mixed]
    return [*mixed, *rest][:n]
