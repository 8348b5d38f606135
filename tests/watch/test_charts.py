"""The terminal loss chart with an evaluation before the first step (eval_on_start)."""

from dataclasses import replace
from pathlib import Path

from swiftkit.watch import charts
from swiftkit.watch.runlog import EvalPoint
from swiftkit.watch.runs import read_run

GA4 = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "tiny_ga4" / "v0-20261128-081005"


def test_an_evaluation_at_step_0_is_drawn_at_the_left_edge():
    run = read_run(GA4)
    top = max(p.loss for p in run.train) + 1  # the base model's held-out loss, above the rest
    run = replace(run, evals=(EvalPoint(0, None, top), *run.evals))
    lines = charts.text_chart(run, width=40, height=8)
    assert lines[0].startswith(f"{top:>9.4g} │E")  # first column, not wrapped to the last
    assert lines[-1].strip().startswith("step 0") and lines[-1].endswith("36")
