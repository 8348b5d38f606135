"""Time the tiny demo through `swiftkit train` against the same flags through plain `swift sft`.

    python tests/bench/bench_launch.py [--runs 5]

Both run as fresh processes with OMP_NUM_THREADS=1 on the same filled dataset; runs alternate
so that machine load hits both alike. Prints every wall time, both medians and their ratio
(target: swiftkit adds under 5%).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    python = sys.executable
    build = "from swiftkit.tiny import *; build_tiny_model(DEMO_TINY_DIR, preset=DEMO)"
    subprocess.run([python, "-c", build], cwd=REPO, env=env, check=True)
    out = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    # One swiftkit run to get the exact argv (with the filled dataset) that swift receives.
    subprocess.run(
        [python, "-m", "swiftkit", "train", "tiny_demo", f"output_dir={out}/seed", "--no-check"],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    recorded = json.loads(next(out.glob("seed/v*/swiftkit/swift_args.json")).read_text())
    argv = recorded["argv"]
    at = argv.index("--output_dir") + 1
    swift_bin = str(Path(python).with_name("swift"))
    times: dict[str, list[float]] = {"swiftkit train": [], "swift sft": []}
    for i in range(args.runs):
        plain = [*argv[:at], str(out / f"swift{i}"), *argv[at + 1 :]]
        times["swift sft"].append(timed([swift_bin, "sft", *plain], env))
        # --no-check: the identity check that follows is not part of what swift sft does.
        kit = ["train", "tiny_demo", f"output_dir={out}/kit{i}", "--no-check"]
        times["swiftkit train"].append(timed([python, "-m", "swiftkit", *kit], env))
    for name, values in times.items():
        print(
            f"{name:15} "
            + " ".join(f"{v:6.2f}" for v in values)
            + f"   median {statistics.median(values):6.2f} s"
        )
    ratio = statistics.median(times["swiftkit train"]) / statistics.median(times["swift sft"])
    print(f"ratio swiftkit/swift: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%)")
    shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
