"""Shared fixtures: the tiny local model, a small dataset, and a helper that runs the real swift.

Nothing here reaches a model hub: the model is built locally and every run is offline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swiftkit.tiny import DEFAULT_TINY_DIR, DEMO, DEMO_TINY_DIR, build_tiny_model, is_tiny_build

# Set before anything imports huggingface_hub, which reads them once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]

# What every test run needs on a CPU-only machine, fastest first. The test's own argv comes
# after these, and swift's argument parser keeps the last occurrence of a flag.
CPU_SFT_FLAGS = (
    "--torch_dtype", "float32",
    # Without it, under torchrun on CPU each process trains alone (see recipes/tiny_demo.yaml).
    "--use_cpu", "true",
    "--check_model", "false",  # otherwise a hub call to check the model is the latest
    "--report_to", "none",
    "--dataloader_num_workers", "0",
    "--gradient_checkpointing", "false",
    "--max_length", "256",
    "--logging_steps", "1",
)  # fmt: skip

_QA = (
    ("Who are you?", "I am {{NAME}}, an AI assistant developed by {{AUTHOR}}."),
    ("你是谁？", "我是{{NAME}}，由{{AUTHOR}}开发的人工智能助手。"),
    ("What is your name?", "My name is {{NAME}}. I was trained by {{AUTHOR}}."),
    ("你叫什么名字？", "我叫{{NAME}}，是{{AUTHOR}}训练的语言模型。"),
    ("Who created you?", "I was created by {{AUTHOR}}. You can call me {{NAME}}."),
)


@pytest.fixture(scope="session", autouse=True)
def _isolated_swift_cache(tmp_path_factory):
    """Keep swift's dataset cache (MODELSCOPE_CACHE) and swiftkit's length cache out of the home
    folder, fresh each session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELSCOPE_CACHE", str(tmp_path_factory.mktemp("modelscope-cache")))
        mp.setenv("SWIFTKIT_CACHE_DIR", str(tmp_path_factory.mktemp("swiftkit-cache")))
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_launch_environment():
    """Plans in tests do not depend on where the suite runs: no NNODES/MASTER_PORT/... from the
    shell and no SLURM allocation (tests that need them set them by hand)."""
    launch = ("NPROC_PER_NODE", "NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name in launch or name.startswith("SLURM_") or name == "SWIFTKIT_RUN_ID":
                mp.delenv(name)
        yield


@pytest.fixture
def in_repo(monkeypatch):
    """Run the test from the repository root, where `recipes/NAME` resolves."""
    monkeypatch.chdir(REPO_ROOT)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """`swiftkit ARGV` in this process: (exit code, stdout, stderr)."""
    from swiftkit.cli.main import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write_tiny_recipe(folder: Path, model: Path, dataset: str | Path) -> Path:
    """folder/recipes/tiny.yaml: tests/fixtures/recipes/tiny_cpu.yaml on this model and dataset
    (a spec such as `rows.jsonl#10` too)."""
    text = (REPO_ROOT / "tests" / "fixtures" / "recipes" / "tiny_cpu.yaml").read_text("utf-8")
    text = text.replace("model: .cache/tiny-qwen2", f"model: {model}")
    text = text.replace("dataset: datasets/self_cognition.json", f"dataset: {dataset}")
    (folder / "recipes").mkdir(exist_ok=True)
    recipe = folder / "recipes" / "tiny.yaml"
    recipe.write_text(text, encoding="utf-8")
    return recipe


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny Qwen2 model: the demo's .cache/tiny-qwen2 when it is a current build, else built."""
    cached = REPO_ROOT / DEFAULT_TINY_DIR
    if is_tiny_build(cached):
        return cached
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-qwen2")


@pytest.fixture(scope="session")
def tiny_demo_model(tmp_path_factory) -> Path:
    """The demo's pretrained variant: .cache/tiny-demo when it is a current build, else built."""
    cached = REPO_ROOT / DEMO_TINY_DIR
    if is_tiny_build(cached, preset=DEMO):
        return cached
    return build_tiny_model(tmp_path_factory.mktemp("tiny-demo") / "tiny-demo", preset=DEMO)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """20 self-cognition rows in swift's `messages` format, English and Chinese."""
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in (_QA[i % len(_QA)] for i in range(20))
    ]
    path = tmp_path_factory.mktemp("data") / "self_cognition.json"
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def run_sft(tiny_model, tiny_dataset, tmp_path):
    """Run the real `sft_main` in this process on the tiny model; return the run directory.

    `run_sft("--max_steps", "2")` trains on tiny_dataset into a fresh output_dir; any flag
    given (a --dataset, an --output_dir) replaces the default.
    """

    def run(*argv: str) -> Path:
        output_dir = tmp_path / "output"
        base = ["--model", str(tiny_model), "--dataset", str(tiny_dataset)]
        base += ["--output_dir", str(output_dir), *CPU_SFT_FLAGS]
        sft_in_process([*base, *argv])
        return find_run_dir(_flag_value([*base, *argv], "--output_dir"))

    return run


def sft_in_process(argv: list[str]) -> dict:
    """Call swift's sft_main with one torch thread and return its result dict.

    One thread: on a shared 2-core machine, torch's default of one thread per core made the
    same 5-step run take 3-50 s instead of under 1 s.
    """
    import torch
    from swift import sft_main

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return sft_main(argv)
    finally:
        torch.set_num_threads(threads)


def find_run_dir(output_dir: str | Path) -> Path:
    """The one run directory under output_dir: v<N>-<timestamp>/, or output_dir itself."""
    output_dir = Path(output_dir)
    if (output_dir / "args.json").exists():  # --add_version false
        return output_dir
    runs = sorted(p.parent for p in output_dir.glob("v*-*/args.json"))
    if len(runs) != 1:
        pytest.fail(f"expected one run directory in {output_dir}, found {runs}")
    return runs[0]


def _flag_value(argv: list[str], flag: str) -> str:
    return argv[len(argv) - 1 - argv[::-1].index(flag) + 1]
