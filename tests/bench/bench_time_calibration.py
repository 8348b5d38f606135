"""How far the public-log calibration of the time estimate is from the logs it did not see.

    python tests/bench/bench_time_calibration.py

For each public ms-swift log in swiftkit/plan/public_speeds.json: the seconds per optimizer
update swiftkit predicts with the efficiency factor fitted on all the other logs of the same
tuner (leave-one-out), next to the logged figure. Prints each, then the median and worst
relative error, per tuner and overall. Pure arithmetic: under a second.
"""

from __future__ import annotations

import json
import statistics

from swiftkit.plan.publiclogs import PUBLIC_FILE, public_efficiency, public_leave_one_out


def main() -> int:
    data = json.loads(PUBLIC_FILE.read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in data["records"]}
    print(f"source: {data['source']}")
    print(f"{'log':20} {'model':18} {'tuner':5} {'len':>5} {'batch':>5} {'ckpt':>5} "
          f"{'logged s/it':>11} {'predicted':>9} {'error':>7}")  # fmt: skip
    errors: dict[str, list[float]] = {"lora": [], "full": []}
    for rid, predicted, measured in public_leave_one_out():
        r = by_id[rid]
        error = (predicted - measured) / measured
        errors[r["tuner"]].append(abs(error))
        print(f"{rid:20} {r['model']:18} {r['tuner']:5} {r['max_length']:>5} "
              f"{r['per_device_train_batch_size']:>5} {r['gradient_checkpointing']!s:>5} "
              f"{measured:>11.2f} {predicted:>9.2f} {error:>+7.1%}")  # fmt: skip
    every = errors["lora"] + errors["full"]
    for name, values in (*errors.items(), ("all", every)):
        factor = public_efficiency(name)[0] if name != "all" else None
        fitted = f", efficiency {factor:.3f}" if factor else ""
        print(f"{name}: {len(values)} logs{fitted}: leave-one-out error median "
              f"{statistics.median(values):.1%}, worst {max(values):.1%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
