"""The memory part of the plan: inference memory beside the training peak, in text and JSON."""

from pathlib import Path

import pytest

from swiftkit.cli.render import render_plan
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
GIB = 1024**3


@pytest.fixture
def plan_7b(monkeypatch):
    monkeypatch.chdir(REPO)
    return make_plan(load_recipe("qwen7b_selfcog"), environ={}, gpus=["4090D"])


def test_qwen7b_plan_holds_bf16_inference_memory(plan_7b):
    inf = plan_7b.to_json()["memory"]["inference"]
    assert inf["context_tokens"] == 2048  # the recipe's max_length
    assert inf["breakdown"]["weights"] == 7_615_616_512 * 2  # bfloat16
    assert inf["breakdown"]["adapter"] == 20_185_088 * 4  # the run's LoRA, unmerged, float32
    assert 14.5 < inf["device_bytes"] / GIB < 16.5  # the article: about 15 GB to infer
    assert inf["verdicts"] == [
        {
            "card": "NVIDIA GeForce RTX 4090 D",
            "verdict": "fits",
            "headroom_bytes": plan_7b.memory.verdicts[0].card.total_bytes - inf["device_bytes"],
        }
    ]


def test_rendered_plan_shows_inference_beside_the_training_peak(plan_7b):
    text = render_plan(plan_7b)
    inf, train = plan_7b.memory.inference, plan_7b.memory.estimate
    line = (
        "  inference (swiftkit infer, batch 1, 2048 tokens of context): "
        f"{inf.device_bytes / GIB:.1f} GiB on the device "
        f"(training: {train.device_bytes / GIB:.1f} GiB)"
    )
    assert line in text.splitlines()
    assert "    weights 14.2 GiB, LoRA unmerged 0.1 GiB, KV cache 0.1 GiB, activations " in text
    assert "    to serve: fits on NVIDIA GeForce RTX 4090 D" in text
    # Beside the training peak: right after its breakdown, before the verdicts.
    assert text.index("cuda_context") < text.index("  inference (") < text.index("4090 D (24.0")


def test_full_fine_tuning_serves_without_an_adapter(monkeypatch):
    monkeypatch.chdir(REPO)
    plan = make_plan(load_recipe("qwen7b_selfcog", ["tuner_type=full"]), environ={})
    assert plan.memory.inference.breakdown["adapter"] == 0
