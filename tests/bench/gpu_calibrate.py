"""Measure real ms-swift training steps on a GPU and write them next to swiftkit's estimate.

For a lent GPU that reaches no model hub: each configuration gets a model folder built from
the built-in table's config with random bf16 weights, the byte-level BPE tokenizer swiftkit
builds locally (swiftkit.tiny), and rows longer than max_length that `truncation_strategy
right` cuts to exactly max_length tokens. Each run is `sft_main` in a fresh child process;
after a few steps the child reports torch.cuda.max_memory_allocated / max_memory_reserved and
the memory nvidia-smi sees (total - free), i.e. the three figures swiftkit estimates.

    python tests/bench/gpu_calibrate.py --dry-run        # CPU: plan, estimates, swift argv
    python tests/bench/gpu_calibrate.py --cpu-smoke      # CPU: one real swift step, tiny model
    python tests/bench/gpu_calibrate.py                  # GPU: all cases -> results/
    python tests/bench/gpu_calibrate.py --only 0.5B      # a subset
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from swiftkit.memory.estimate import GIB, estimate_memory, memory_config_from_args
from swiftkit.memory.models import ModelShape, resolve_model_shape

RESULTS = Path(__file__).with_name("results")
BASE_FLAGS = {
    "tuner_type": "lora", "torch_dtype": "bfloat16", "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 2, "learning_rate": 1e-4, "lora_rank": 8,
    "target_modules": "all-linear", "gradient_checkpointing": True, "max_length": 2048,
    "truncation_strategy": "right", "check_model": False, "report_to": "none",
    "save_strategy": "no", "logging_steps": 1, "dataloader_num_workers": 0,
    "split_dataset_ratio": 0.0, "template": "qwen2_5",
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    model: str  # a built-in table id
    flags: dict = field(default_factory=dict)


CASES = [
    Case("0.5B lora s2048", "Qwen/Qwen2.5-0.5B-Instruct"),
    Case("0.5B full s1024", "Qwen/Qwen2.5-0.5B-Instruct",
         {"tuner_type": "full", "max_length": 1024}),
    Case("1.5B lora nogc s2048", "Qwen/Qwen2.5-1.5B-Instruct", {"gradient_checkpointing": False}),
    Case("1.5B lora b4 s512", "Qwen/Qwen2.5-1.5B-Instruct",
         {"per_device_train_batch_size": 4, "max_length": 512}),
    Case("3B lora s4096", "Qwen/Qwen2.5-3B-Instruct", {"max_length": 4096}),
    Case("7B lora s2048 (reference)", "Qwen/Qwen2.5-7B-Instruct"),
    Case("7B lora s64", "Qwen/Qwen2.5-7B-Instruct", {"max_length": 64}),
]  # fmt: skip


# --cpu-smoke: a few-layer Qwen2 with the local tokenizer, one float32 step on the CPU, to check
# the model folder, the dataset and swift's argv before spending GPU time.
SMOKE_SHAPE = ModelShape(
    model_id="smoke-qwen2", source="bench", hidden_size=64, intermediate_size=128, num_layers=2,
    num_heads=4, num_kv_heads=2, head_dim=16, vocab_size=4096, tie_word_embeddings=True,
    qkv_bias=True, max_position_embeddings=2048,
)  # fmt: skip
SMOKE = Case("cpu smoke", SMOKE_SHAPE.model_id,
             {"torch_dtype": "float32", "use_cpu": True, "max_length": 128})  # fmt: skip


def swift_flags(case: Case) -> dict:
    return {**BASE_FLAGS, **case.flags}


def swift_argv(flags: dict, model_dir: Path, dataset: Path, out_dir: Path, steps: int) -> list:
    argv = ["--model", str(model_dir), "--dataset", str(dataset), "--output_dir", str(out_dir)]
    argv += ["--max_steps", str(steps)]
    for key, value in flags.items():
        argv += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return argv


def estimate_for(case: Case) -> dict:
    shape = SMOKE_SHAPE if case.model == SMOKE_SHAPE.model_id else resolve_model_shape(case.model)
    flags = swift_flags(case)
    # Every row is cut to exactly max_length (truncation_strategy right); the answer is all of
    # the row but the prompt's few tokens.
    length = flags["max_length"]
    cfg = memory_config_from_args(flags, world_size=1, seq_len_tokens=length,
                                  label_tokens=length - 24, typical_tokens=length)  # fmt: skip
    est = estimate_memory(shape, cfg)
    return {k: v for k, v in asdict(est).items() if k != "notes"}


def build_model_dir(shape: ModelShape, root: Path, tokenizer_dir: Path) -> Path:
    """A local model folder: config from the shape, random bf16 weights, the local tokenizer."""
    import torch
    import transformers
    from trace_memory import hf_config

    out = root / shape.model_id.replace("/", "--")
    if (out / "model.safetensors.index.json").exists() or (out / "model.safetensors").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    config = hf_config(shape)
    config.use_cache = True
    config.architectures = [type(config).__name__.replace("Config", "ForCausalLM")]
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.save_pretrained(out, safe_serialization=True)
    del model
    torch.cuda.empty_cache()
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(tokenizer_dir / name, out / name)
    model_type = "qwen3" if shape.model_type == "qwen3" else shape.model_type
    args = {"model_type": model_type, "template": "qwen2_5", "swift_version": "4.6.0"}
    (out / "args.json").write_text(json.dumps(args))
    return out


def write_dataset(path: Path, rows: int = 64) -> Path:
    """Rows far longer than any max_length here; truncation_strategy right cuts them exactly."""
    text = " ".join(f"The number {i} follows {i - 1} and comes before {i + 1}." for i in range(900))
    with path.open("w", encoding="utf-8") as f:
        for _ in range(rows):
            msgs = [{"role": "user", "content": "Count."}, {"role": "assistant", "content": text}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return path


def child(spec_path: str) -> int:
    """Run sft_main for a few steps and print the CUDA memory figures as one JSON line."""
    import torch
    from swift import sft_main

    spec = json.loads(Path(spec_path).read_text())
    if not torch.cuda.is_available():  # --cpu-smoke: the same path, no memory figures
        result = sft_main(spec["argv"])
        steps = result.get("global_step")
        print("CALIBRATION " + json.dumps({"cpu_smoke_steps": steps}), flush=True)
        return 0
    torch.cuda.reset_peak_memory_stats()
    at_train_start = {}
    import transformers

    original_train = transformers.Trainer.train

    def train(self, *args, **kwargs):  # the model is loaded, nothing trained yet
        at_train_start.update(
            allocated=torch.cuda.memory_allocated(), reserved=torch.cuda.memory_reserved(),
            peak_reserved=torch.cuda.max_memory_reserved(),
        )  # fmt: skip
        return original_train(self, *args, **kwargs)

    transformers.Trainer.train = train
    t0 = time.time()
    result = sft_main(spec["argv"])
    free, total = torch.cuda.mem_get_info()
    stats = torch.cuda.memory_stats()
    out = {
        "max_memory_allocated": torch.cuda.max_memory_allocated(),
        "max_memory_reserved": torch.cuda.max_memory_reserved(),
        "device_used_at_end": total - free,
        "reserved_at_end": torch.cuda.memory_reserved(),
        "gpu": torch.cuda.get_device_name(),
        "swift_memory_log": [h.get("memory(GiB)") for h in result.get("log_history", [])],
        # What separates the estimate's reserved lines: the state after loading, and the
        # allocator's fragmentation (inactive split blocks) and segment count at its peak.
        "at_train_start": at_train_start,
        "allocator": {
            k: stats.get(k)
            for k in (
                "inactive_split_bytes.all.peak",
                "segment.all.peak",
                "num_alloc_retries",
                "reserved_bytes.large_pool.peak",
                "reserved_bytes.small_pool.peak",
            )
        },
        "seconds": round(time.time() - t0, 1),
    }
    print("CALIBRATION " + json.dumps(out), flush=True)
    return 0


def run_case(case: Case, work: Path, tokenizer_dir: Path, steps: int) -> dict:
    shape = SMOKE_SHAPE if case.model == SMOKE_SHAPE.model_id else resolve_model_shape(case.model)
    model_dir = build_model_dir(shape, work / "models", tokenizer_dir)
    dataset = write_dataset(work / "rows.jsonl")
    flags = swift_flags(case)
    argv = swift_argv(flags, model_dir, dataset, work / "out", steps)
    spec = work / "spec.json"
    spec.write_text(json.dumps({"argv": argv}))
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("CALIBRATION ")]
    row = {"name": case.name, "model": case.model, "flags": flags, "estimate": estimate_for(case)}
    if done.returncode != 0 or not lines:
        row["error"] = (done.stderr or done.stdout)[-3000:]
        return row
    measured = json.loads(lines[-1].removeprefix("CALIBRATION "))
    if "cpu_smoke_steps" in measured:
        return {**row, "cpu_smoke": measured}
    measured["context_bytes"] = measured["device_used_at_end"] - measured["reserved_at_end"]
    row["measured"] = measured
    est = row["estimate"]
    row["ratio_allocated"] = round(
        est["peak_allocated_bytes"] / measured["max_memory_allocated"], 4
    )
    row["ratio_reserved"] = round(est["peak_reserved_bytes"] / measured["max_memory_reserved"], 4)
    return row


def print_rows(rows: list[dict]) -> None:
    print(f"{'configuration':<28} {'alloc est/meas GiB':>20} {'reserved est/meas GiB':>22} ratios")
    for r in rows:
        e, m = r["estimate"], r.get("measured")
        alloc, resv = e["peak_allocated_bytes"] / GIB, e["peak_reserved_bytes"] / GIB
        if m is None:
            error = r.get("error", "").strip().splitlines() or ["not run"]
            print(
                f"{r['name']:<28} {alloc:>9.2f} / {'-':<8} {resv:>10.2f} / {'-':<9} "
                f"{error[-1][:60]}"
            )
            continue
        m_alloc, m_resv = m["max_memory_allocated"] / GIB, m["max_memory_reserved"] / GIB
        print(
            f"{r['name']:<28} {alloc:>9.2f} / {m_alloc:<8.2f} {resv:>10.2f} / {m_resv:<9.2f} "
            f"{r['ratio_allocated']:.3f} {r['ratio_reserved']:.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="plan and estimates only (CPU)")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument("--steps", type=int, default=4, help="training steps per case")
    parser.add_argument("--work", type=Path, default=Path("/tmp/swiftkit-calibrate"))
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu_calibrate.json")
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="one real swift step of a tiny model on the CPU"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    cases = [c for c in CASES if not args.only or args.only in c.name]
    if args.dry_run:
        for case in cases:
            est = estimate_for(case)
            flags = swift_flags(case)
            argv_ = swift_argv(flags, Path("<model>"), Path("<rows>"), Path("<out>"), args.steps)
            print(f"{case.name}: estimate allocated {est['peak_allocated_bytes'] / GIB:.2f} GiB, "
                  f"reserved {est['peak_reserved_bytes'] / GIB:.2f} GiB, "
                  f"device {est['device_bytes'] / GIB:.2f} GiB")  # fmt: skip
            print("  swift sft " + " ".join(argv_))
        return 0
    import torch

    from swiftkit.tiny import build_tiny_model

    args.work.mkdir(parents=True, exist_ok=True)
    tokenizer_dir = build_tiny_model(args.work / "tiny")
    if args.cpu_smoke:
        row = run_case(SMOKE, args.work, tokenizer_dir, 1)
        print(json.dumps({k: v for k, v in row.items() if k != "flags"}, indent=1)[-3000:])
        return 0 if "cpu_smoke" in row else 1
    if not torch.cuda.is_available():
        print("no CUDA GPU: use --dry-run or --cpu-smoke on a CPU machine")
        return 1
    rows = []
    for case in cases:
        rows.append(run_case(case, args.work, tokenizer_dir, args.steps))
        print_rows(rows[-1:])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print_rows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
