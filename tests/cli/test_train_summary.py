"""The end-of-training summary: finished, differing from the plan, stopped by a signal."""

from pathlib import Path

from swiftkit.cli.train import _render_summary
from swiftkit.run.train import RunSummary

RUN = Path("/runs/v0-20250101-000000")


def summary(step, **more):
    base = dict(
        run_dir=RUN,
        global_step=step,
        max_steps=36,
        planned_max_steps=36,
        last_checkpoint=RUN / f"checkpoint-{step}",
        peak_memory_gib=None,
        train_loss=7.5,
    )
    return RunSummary(**{**base, **more})


def step_lines(text):
    return [x for x in text.splitlines() if x.startswith(("  global_step", "  resume"))]


def test_a_finished_run_matches_the_plan():
    assert step_lines(_render_summary(summary(36))) == ["  global_step: 36 of planned max_steps 36"]


def test_a_run_that_ended_elsewhere_differs_from_the_plan():
    assert step_lines(_render_summary(summary(30))) == [
        "  global_step: 30 of planned max_steps 36 (differs from the plan)"
    ]


def test_a_stopped_run_says_where_and_how_it_resumes():
    s = summary(12, stopped_by="SIGTERM", resume_from=RUN / "checkpoint-12")
    assert step_lines(_render_summary(s, "python -m swiftkit train r --resume")) == [
        "  global_step: 12 of planned max_steps 36: stopped early by SIGTERM at step 12",
        f"  resumes from: {RUN}/checkpoint-12",
        "  resume with: python -m swiftkit train r --resume",
    ]


def test_a_run_stopped_before_any_checkpoint_has_nothing_to_resume():
    s = summary(None, stopped_by="SIGINT", last_checkpoint=None)
    assert step_lines(_render_summary(s, "python -m swiftkit train r --resume")) == [
        "  global_step: ? of planned max_steps 36: stopped early by SIGINT at step ?",
        "  resumes from: nothing (no complete checkpoint was saved)",
    ]
