"""Checkpoints and disk as text: the folders the end leaves (the best counts toward
save_total_limit) and one checkpoint's parts adding up to its total."""

from swiftkit.cli.disk import render_kept, sizes
from swiftkit.plan.schedule import make_schedule
from tests.conftest import run_cli as run

MIB = 2**20


def test_tiny_demo_says_which_two_folders_are_left(in_repo, capsys):
    """The user's demo run kept checkpoint-50 (the best eval_loss) and checkpoint-140: the plan
    had promised checkpoint-125 and checkpoint-140 plus the best (three)."""
    code, out, _ = run(["plan", "tiny_demo"], capsys)
    assert code == 0
    assert (
        "  kept at the end: 2 checkpoint folders: checkpoint-125, checkpoint-140 when the best by "
        "eval_loss is one of them, else that best (one of checkpoint-25, checkpoint-50, "
        "checkpoint-75, checkpoint-100) and checkpoint-140\n"
        "  at most 3 checkpoint folders exist at once\n"
    ) in out


def test_limit_one_leaves_only_the_best_and_grammar_of_one():
    s = make_schedule(40, world_size=1, batch=1, accumulation=1, epochs=1, eval_steps=10,
                      save_steps=10, save_total_limit=1, eval_strategy="steps")  # fmt: skip
    assert render_kept(s)[0] == (
        "  kept at the end: 1 checkpoint folder, the best by eval_loss: checkpoint-40 or one of "
        "checkpoint-10, checkpoint-20, checkpoint-30"
    )
    one = make_schedule(40, world_size=1, batch=1, accumulation=1, epochs=1, save_steps=500,
                        save_total_limit=2)  # fmt: skip
    assert render_kept(one) == [
        "  kept at the end: 1 checkpoint folder: checkpoint-40",
        "  at most 1 checkpoint folder exists at once",
    ]


def test_sizes_add_up_as_shown():
    # 77 MiB + 154 MiB + 16 MiB of a LoRA checkpoint: each part rounded, the total their sum.
    parts = [int(76.6 * MIB), int(153.2 * MIB), 16 * MIB]
    assert sizes(parts) == ["77 MiB", "153 MiB", "16 MiB", "246 MiB"]
    shown = sizes([int(0.14 * 2**30), int(0.14 * 2**30), int(0.74 * 2**30)])
    assert shown[-1] == "1.0 GiB" and sum(float(x.split()[0]) for x in shown[:-1]) == 1.0


def test_disk_parts_and_total_agree(in_repo, capsys):
    code, out, _ = run(["plan", "qwen7b_selfcog", "--gpu", "4090D"], capsys)
    assert code == 0
    disk = out[out.index("disk: ") :].splitlines()[:2]
    per = disk[0].split(" per checkpoint")[0].removeprefix("disk: ")
    assert (
        disk[1]
        == f"  one checkpoint: weights 77 MiB + optimizer 154 MiB + other files 16 MiB = {per}"
    )
    assert per == "247 MiB"
