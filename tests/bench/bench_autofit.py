"""The auto-fit speed-up on the tiny CPU model: the same effective batch (8) as batch 1 x
accumulation 8 and as the batch `plan --fit` chooses.

    python tests/bench/bench_autofit.py [--runs 3]

Both train the tiny demo (recipes/tiny_demo.yaml, OMP_NUM_THREADS=1) through `swiftkit train`
in fresh processes, alternating so that machine load hits both alike. Prints the fitted
overrides, every run's train_runtime (swift's trainer loop) and process wall time, the medians,
the measured speed-up and the one the plan predicted (its step_seconds before and after).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from demoproject import demo_project, swiftkit

# Three epochs of the demo's 50 rows keep each run short (the demo itself trains 20).
BASE = ("per_device_train_batch_size=1", "gradient_accumulation_steps=8", "num_train_epochs=3")


def train(project: Path, overrides: list[str], out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    # --no-check: the identity check after training is not what is timed.
    swiftkit(project, "train", "tiny_demo", *overrides, f"output_dir={out}", "--no-check")
    wall = time.perf_counter() - start
    log = next(out.glob("v*/logging.jsonl")).read_text().splitlines()
    runtime = next(json.loads(x)["train_runtime"] for x in log if '"train_runtime"' in x)
    return runtime, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    project = demo_project("bench-autofit-")
    fit = json.loads(swiftkit(project, "plan", "tiny_demo", *BASE, "--fit", "--json").stdout)["fit"]
    fitted = [*BASE, *(f"{k}={v}" for k, v in fit["changes"].items())]
    print(f"fit on {fit['card']}: {' '.join(fitted[len(BASE):])} (effective batch "
          f"{fit['before']['effective_batch_size']} -> {fit['effective_batch_size']})")  # fmt: skip
    results: dict[str, list[tuple[float, float]]] = {"1 x 8": [], "fitted": []}
    for i in range(args.runs):
        results["1 x 8"].append(train(project, list(BASE), project / f"out/base{i}"))
        results["fitted"].append(train(project, fitted, project / f"out/fit{i}"))
    medians = {}
    for name, values in results.items():
        runtimes = [r for r, _ in values]
        walls = [w for _, w in values]
        medians[name] = statistics.median(runtimes)
        print(f"{name:7} train_runtime " + " ".join(f"{r:6.1f}" for r in runtimes)
              + f"  median {medians[name]:6.1f} s | wall " + " ".join(f"{w:6.1f}" for w in walls)
              + f"  median {statistics.median(walls):6.1f} s")  # fmt: skip
    print(f"measured speed-up (train_runtime medians): {medians['1 x 8'] / medians['fitted']:.2f}x")
    before, after = fit["before"]["step_seconds"], fit["step_seconds"]
    print(f"planned step_seconds {before:.3f} -> {after:.3f}: predicted {before / after:.2f}x")
    shutil.rmtree(project, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
