"""Training that dies of CUDA out-of-memory: a plain summary (step, estimate, card, ranked fixes)
instead of swift's traceback, exit code 4, and the run directory says so. No GPU: the failure is
torch's own OutOfMemoryError raised where swift's training step would raise it, and the recorded
run directories in tests/fixtures/runs/memory_history."""

import json
from pathlib import Path

import pytest
import torch

from swiftkit.cli.common import EXIT_OUT_OF_MEMORY
from swiftkit.errors import OutOfMemoryError
from swiftkit.run import oom
from tests.conftest import write_tiny_recipe

REPO = Path(__file__).resolve().parents[2]
HISTORY = REPO / "tests" / "fixtures" / "runs" / "memory_history" / "output"
# torch 2.5+ (c10/cuda/CUDACachingAllocator.cpp) and torch 2.4 (ms-swift issue #2364)
MESSAGE = json.loads((HISTORY / "v2-20261129-160000" / "swiftkit" / "oom.json").read_text())[
    "message"
]
OLD = (
    "CUDA out of memory. Tried to allocate 2.07 GiB. GPU 0 has a total capacity of 23.68 GiB of "
    "which 609.81 MiB is free. Process 10405 has 23.08 GiB memory in use. Of the allocated memory "
    "20.90 GiB is allocated by PyTorch, and 1.87 GiB is reserved by PyTorch but unallocated."
)
GIB, MIB = 1024**3, 1024**2
REASON = "training ran out of GPU memory (CUDA out of memory) in optimizer step 3"


class _State:
    global_step = 2


class _Trainer:
    """Stands where transformers' Trainer is on the traceback: state.global_step, optimizer."""

    state, optimizer = _State(), object()

    def training_step(self, message):
        raise torch.OutOfMemoryError(message)


def test_parse_both_message_forms():
    assert oom.parse_oom_message(MESSAGE) == {
        "tried_bytes": int(2.07 * GIB), "total_bytes": int(23.53 * GIB),
        "free_bytes": int(1.61 * GIB), "allocated_bytes": int(19.64 * GIB),
        "unallocated_reserved_bytes": int(1.77 * GIB), "gpu_index": 0,
    }  # fmt: skip
    old = oom.parse_oom_message(OLD)
    assert old["free_bytes"] == int(609.81 * MIB) and old["allocated_bytes"] == int(20.90 * GIB)


def test_recognises_oom_and_the_failing_step(tmp_path):
    try:
        _Trainer().training_step(MESSAGE)
    except torch.OutOfMemoryError as e:
        caught = e
    assert oom.is_cuda_oom(caught) and oom.failing_step(caught) == 3
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = caught
    assert oom.is_cuda_oom(wrapped) and not oom.is_cuda_oom(RuntimeError("shape mismatch"))
    record = oom.record_oom(tmp_path, caught)
    assert record["step"] == 3 and record["allocated_bytes"] == int(19.64 * GIB)
    assert "OutOfMemoryError" in oom.read_oom(tmp_path)["traceback_tail"]


@pytest.fixture
def tiny_project(tmp_path, tiny_model, tiny_dataset, monkeypatch):
    write_tiny_recipe(tmp_path, tiny_model, tiny_dataset)
    monkeypatch.chdir(tmp_path)

    def out_of_memory(argv):  # where swift's sft_main would run the training loop
        _Trainer().training_step(MESSAGE)

    monkeypatch.setattr("swiftkit.run.train.run_in_process", out_of_memory)
    return tmp_path


def test_train_says_it_plainly_with_exit_code_4(tiny_project, capsys):
    from swiftkit.cli.main import main

    code = main(["train", "tiny"])
    captured = capsys.readouterr()
    assert code == EXIT_OUT_OF_MEMORY == OutOfMemoryError.exit_code == 4
    text = captured.err
    assert "Traceback" not in text and "Traceback" not in captured.out
    assert "training ran out of GPU memory (CUDA out of memory) in optimizer step 3 of" in text
    assert "on the GPU (23.5 GiB)" in text
    assert "PyTorch held 21.41 GiB (19.64 in tensors) and asked for 2.07 GiB more" in text
    assert "swiftkit estimated" in text and "changes most likely to fit" in text
    assert "1. " in text and "python -m swiftkit train tiny key=value" in text
    run = next((tiny_project / "output").rglob("v0-*"))
    exit_record = json.loads((run / "swiftkit" / "exit.json").read_text())
    assert exit_record["exit_code"] == 4
    assert exit_record["reason"] == REASON
    memory = json.loads((run / "swiftkit" / "memory.json").read_text())
    assert memory["exit_code"] == 4 and memory["oom"]["step"] == 3
    assert memory["estimate"]["device_high_bytes"] > memory["estimate"]["device_bytes"]


def test_status_of_a_recorded_oom_run(capsys):
    from swiftkit.cli.main import main

    run = HISTORY / "v2-20261129-160000"
    assert main(["status", str(run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "failed" and data["exit_code"] == 4
    assert data["reason"] == REASON
    assert data["peak_memory_gib"] == 21.41
