"""Trace the widest moment of generation under FakeTensorMode and compare it with swiftkit's
inference estimate (swiftkit/memory/inference.py).

What is traced is what transformers' generate() does first in ms-swift's transformers engine:
the prefill forward of a prompt of s tokens into an empty DynamicCache, with logits_to_keep=1,
then the float32 copy of the last row of logits. The model is built from its config on the meta
device (random weights, nothing downloaded) in the dtype it is served in, SDPA attention.
MemTracker counts live tensor storages: it matches torch.cuda.max_memory_allocated, not the
caching allocator's reserve or the CUDA context (those are modelled in the estimate).

    python tests/bench/trace_inference.py            # the table (7B takes about a minute)
    python tests/bench/trace_inference.py --quick    # one small model (a test runs it)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from trace_memory import TINY, _materialize, hf_config, peak_summary, shape_for

from swiftkit.memory.inference import InferenceConfig, estimate_inference_memory
from swiftkit.memory.models import ModelShape

GIB = 1024**3
# (name, model, prompt tokens)
CASES = [
    ("tiny s1024", TINY.model_id, 1024),
    ("0.5B s2048", "Qwen/Qwen2.5-0.5B-Instruct", 2048),
    ("1.5B s4096", "Qwen/Qwen2.5-1.5B-Instruct", 4096),
    ("llama 1B s2048", "meta-llama/Llama-3.2-1B-Instruct", 2048),
    ("7B s2048", "Qwen/Qwen2.5-7B-Instruct", 2048),
    ("7B s8192", "Qwen/Qwen2.5-7B-Instruct", 8192),
]
QUICK = ("tiny s512", TINY.model_id, 512)


def trace_prefill(shape: ModelShape, tokens: int, dtype: str = "bfloat16") -> dict:
    """Peak live bytes of the prefill of `tokens` tokens, batch 1, and its split by kind."""
    import torch
    import transformers
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    class Tracker(MemTracker):
        # Nothing is trained: no parameter takes a gradient hook.
        def _track_module_params_and_buffers(self, module, install_grad_hooks=True):
            return super()._track_module_params_and_buffers(module, install_grad_hooks=False)

    config = hf_config(shape)
    config.use_cache = True
    with FakeTensorMode(allow_non_fake_inputs=True):
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(
                config, dtype=getattr(torch, dtype)
            )
        _materialize(model)
        model.eval()
        model.requires_grad_(False)
        ids = torch.randint(0, shape.vocab_size, (1, tokens))
        tracker = Tracker()
        tracker.track_external(model, ids)
        t0 = time.perf_counter()
        with tracker, torch.no_grad():
            cache = transformers.DynamicCache(config=config)
            out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            last = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
            del last
        seconds = time.perf_counter() - t0
    return peak_summary(tracker, seconds)


def compare(name: str, model: str, tokens: int) -> dict:
    shape = shape_for(model)
    traced = trace_prefill(shape, tokens)
    est = estimate_inference_memory(shape, InferenceConfig(context_tokens=tokens))
    return {
        "name": name,
        "trace_peak_allocated_bytes": traced["peak_allocated_bytes"],
        "estimate_peak_allocated_bytes": est.peak_allocated_bytes,
        "estimate_device_bytes": est.device_bytes,
        "ratio": round(est.peak_allocated_bytes / traced["peak_allocated_bytes"], 4),
        "trace": traced,
        "breakdown": dict(est.breakdown),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small model only")
    args = parser.parse_args()
    cases = [QUICK] if args.quick else CASES
    print(f"{'configuration':<16} {'trace GiB':>10} {'estimate GiB':>13} {'ratio':>6} "
          f"{'device GiB':>11} {'seconds':>8}")  # fmt: skip
    for case in cases:
        row = compare(*case)
        print(
            f"{row['name']:<16} {row['trace_peak_allocated_bytes'] / GIB:>10.3f} "
            f"{row['estimate_peak_allocated_bytes'] / GIB:>13.3f} {row['ratio']:>6.3f} "
            f"{row['estimate_device_bytes'] / GIB:>11.2f} {row['trace']['trace_seconds']:>8}",
            flush=True,
        )


if __name__ == "__main__":
    main()
