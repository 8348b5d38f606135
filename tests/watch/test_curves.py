"""swiftkit.watch.curves: smoothing, the stability measure, warmup checks and the drawn curves."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from swiftkit.watch import charts, curves
from swiftkit.watch.runlog import TrainPoint
from swiftkit.watch.runs import read_run

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs"
GA4 = FIXTURES / "tiny_ga4" / "v0-20261128-081005"
GA1 = FIXTURES / "tiny_ga1" / "v0-20261128-081118"
NOISY = FIXTURES / "tiny_full_noisy" / "v0-20261128-082156"
DEMO = FIXTURES / "tiny_demo_user" / "v0-20261130-092826"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def logged_losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r and "global_step/max_steps" in r]


def test_smooth_is_debiased_and_tracks_a_constant():
    assert curves.smooth([2.0] * 5, 0.9) == pytest.approx([2.0] * 5)
    assert curves.smooth([1.0, 3.0], 0.5) == pytest.approx([1.0, (0.25 + 1.5) / 0.75])
    assert curves.smooth([1.0, float("nan"), 1.0], 0.5)[1] == 1.0


def test_smoothing_weight_grows_with_the_run():
    assert curves.smoothing_weight(10) == 0.0
    assert curves.smoothing_weight(30) == pytest.approx(0.5)
    assert curves.smoothing_weight(10_000) == curves.MAX_SMOOTHING


def test_roughness_ignores_a_steady_trend():
    assert curves.roughness([10 - 0.1 * i for i in range(20)]) == pytest.approx(0.0, abs=1e-12)


def test_roughness_of_alternating_noise():
    # 19 second differences of +-0.4: rms 0.4; level 23 / 21 -> 0.4 / (sqrt(6) * 23 / 21)
    losses = [1.0, 1.2] * 10 + [1.0]
    assert curves.roughness(losses) == pytest.approx(0.4 / (math.sqrt(6) * 23 / 21))
    assert curves.roughness(losses[:4]) is None  # too few to judge


def test_roughness_measures_gaussian_noise_around_a_bending_trend():
    """The noise of one log as a fraction of the loss, on a curve that falls fast then
    flattens (as a fine-tune's does): first differences would count the bend as noise."""
    import random

    rng = random.Random(3)
    trend = [1.5 + 2.5 * math.exp(-i / 8) for i in range(400)]
    noisy = [t * (1 + 0.05 * rng.gauss(0, 1)) for t in trend]
    assert curves.roughness(noisy) == pytest.approx(0.05, rel=0.15)
    assert curves.roughness(trend) < 0.01


def test_the_shipped_demo_is_not_called_noisy():
    """The run a new user reported: `status` said HIGH (0.102, first differences, with the
    logging_first_step log of one update). Its loss falls 4.03 -> 2.82 between the logs at
    steps 10 and 20 and then flattens; the noise around that trend is a few percent."""
    run = read_run(DEMO)
    assert [p.step for p in curves.whole_interval_logs(run.train)][:2] == [10, 20]
    s = curves.measure_stability(run.train)
    assert s.worst == pytest.approx(0.0786, abs=5e-4) and s.worst_step == 60
    assert not s.high
    assert curves.check_curves(run) == ()


def test_digits_apart_from_the_threshold():
    assert curves.digits_apart(0.102, 0.10) == "0.102"
    assert curves.digits_apart(0.1004, 0.10) == "0.1004"
    assert curves.digits_apart(0.0976, 0.10) == "0.098"


def test_stability_of_the_real_runs():
    """Two steady LoRA runs and a full fine-tune without clipping at effective batch 1."""
    for run_dir in (GA1, GA4):
        s = curves.measure_stability(read_run(run_dir).train)
        assert s.worst < 0.01
        assert not s.high
    losses = logged_losses(NOISY)
    s = curves.measure_stability(read_run(NOISY).train)
    assert s.high
    assert s.worst_step == 60
    assert s.worst == pytest.approx(curves.roughness(losses[60 - 20 : 60]))
    assert s.roughness == pytest.approx(curves.roughness(losses[-20:]))


def test_check_curves_messages():
    assert curves.check_curves(read_run(NOISY)) == (
        "loss swings: roughness 0.160 in the 20 logs up to step 60 (above 0.10; 0.065 now). "
        "To steady it, raise gradient_accumulation_steps from 1 to 4 (4x the batch halves "
        "the noise) or set max_grad_norm: 1.0 (clipping is off).",
        "warmup is 27 of 90 steps (30%, over 20%): much of the run trains below the peak "
        "learning rate. Set warmup_ratio: 0.05 to 0.1.",
    )
    assert curves.check_curves(read_run(GA4)) == (
        "warmup is 0 steps: the first update already runs at the peak learning rate 0.005, "
        "before Adam's running averages mean anything. Set warmup_ratio: 0.05.",
    )


@pytest.mark.parametrize(
    ("warmup", "max_steps", "flagged"),
    [(0, 36, True), (1, 36, False), (7, 36, False), (8, 36, True), (None, 36, False)],
)
def test_check_warmup_bounds(warmup, max_steps, flagged):
    assert bool(curves.check_warmup(warmup, max_steps, 1e-4)) is flagged


def test_diverged_loss_is_flagged():
    run = read_run(GA4)
    bad = (*run.train[:5], TrainPoint(6, None, float("nan"), None, None))
    found = curves.check_curves(replace(run, train=bad))
    assert found[0] == (
        "loss is nan at step 6: training diverged. Lower learning_rate, or set "
        "max_grad_norm: 1.0 if it is off."
    )


def test_text_chart_shape_and_marks():
    run = read_run(GA4)
    lines = charts.text_chart(run, width=40, height=8)
    assert len(lines) == 8 + 2
    assert lines[0].startswith(f"{max(logged_losses(GA4)):>9.4g} │")
    assert all(len(line) == len(lines[0]) for line in lines[:8])
    assert sum(line.count("E") for line in lines) == len(run.evals)
    assert lines[-1].strip().startswith("step 1") and lines[-1].endswith("36")


def _capture_figures(monkeypatch) -> list:
    figures = []
    real_save = charts._save

    def save(plt, fig, path):
        figures.append(fig)
        return real_save(plt, fig, path)

    monkeypatch.setattr(charts, "_save", save)
    return figures


def test_plot_run_draws_what_was_logged(tmp_path, monkeypatch):
    figures = _capture_figures(monkeypatch)
    path = charts.plot_run(read_run(GA4), tmp_path / "loss.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    loss_ax, lr_ax = figures[0].axes
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    rows = [json.loads(x) for x in (GA4 / "logging.jsonl").read_text().splitlines()]
    train = [r for r in rows if "loss" in r and "global_step/max_steps" in r]
    evals = [r for r in rows if "eval_loss" in r]
    assert list(lines["train loss"].get_ydata()) == [r["loss"] for r in train]
    assert list(lines["eval loss"].get_ydata()) == [r["eval_loss"] for r in evals]
    assert list(lr_ax.get_lines()[0].get_ydata()) == [r["learning_rate"] for r in train]
    assert lines["smoothed (EMA 0.58)"].get_ydata()[-1] == pytest.approx(
        curves.smooth([r["loss"] for r in train])[-1]
    )


def test_plot_runs_puts_runs_on_rows_seen(tmp_path, monkeypatch):
    figures = _capture_figures(monkeypatch)
    path = charts.plot_runs([read_run(GA1), read_run(GA4)], tmp_path / "compare.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    loss_ax = figures[0].axes[0]
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert "tiny_ga1 (batch 1)" in labels and "tiny_ga4 (batch 4)" in labels
    ga4 = next(line for line in loss_ax.get_lines() if line.get_label() == "tiny_ga4 (batch 4)")
    assert list(ga4.get_xdata()) == [4 * step for step in range(1, 37)]
    assert loss_ax.get_xlabel() == "" and figures[0].axes[1].get_xlabel() == (
        "rows seen (step x effective batch)"
    )
