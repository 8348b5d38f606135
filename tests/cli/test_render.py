"""Plans as text: nothing prints Python's None, and nouns agree with their numbers."""

from pathlib import Path

from tests.conftest import run_cli as run

REPO = Path(__file__).resolve().parents[2]

HUB = "dataset=[AI-ModelScope/alpaca-gpt4-data-zh#500, AI-ModelScope/alpaca-gpt4-data-en#500, swift/self-cognition#500]"  # noqa: E501


def test_hub_datasets_print_no_none(in_repo, capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", HUB], capsys)
    assert code == 0
    assert "  total: unknown (3 of 3 datasets not read)\n" in out
    assert "None" not in out
    code, out, _ = run(["plan", "qwen7b_selfcog", HUB, "--gpu", "4090D"], capsys)
    assert "None" not in out
    mixed = "dataset=[AI-ModelScope/alpaca-gpt4-data-zh#500, datasets/self_cognition.json]"
    code, out, _ = run(["plan", "qwen7b_selfcog", mixed], capsys)
    assert "  total: unknown (1 of 2 datasets not read)\n" in out and "None" not in out


def test_one_of_a_thing_is_singular(in_repo, capsys, tmp_path):
    rows = tmp_path / "one.jsonl"
    rows.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": '
        '"hello"}]}\n',
        encoding="utf-8",
    )
    recipe = tmp_path / "one.yaml"
    text = (REPO / "recipes" / "tiny_demo.yaml").read_text(encoding="utf-8")
    text = text.replace("val_dataset: datasets/self_cognition_heldout.jsonl\n", "")
    recipe.write_text(text.replace("dataset: datasets/self_cognition.json", f"dataset: {rows}"))
    code, out, err = run(["validate", str(recipe), "num_train_epochs=1"], capsys)
    assert code == 0, err
    assert ", 1 training row, 1 optimizer update)" in out
    code, out, _ = run(["plan", str(recipe), "num_train_epochs=1"], capsys)
    assert f"  {rows}: 1 row -> 1 train / 0 val" in out
    assert "batches per epoch: 1 (1 row, batch 8)" in out
