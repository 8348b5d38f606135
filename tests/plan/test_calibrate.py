"""The efficiency factor: the user's own finished runs read from run directories, then the
public logs, then a default."""

import json
import statistics
from pathlib import Path

from swiftkit.plan import calibrate, publiclogs


def _run(root: Path, name: str, *, ideal: float, runtime: float, evals=(), device="cpu/1",
         family="qwen2", model="m (10 parameters)", resumed=False) -> Path:  # fmt: skip
    run = root / name
    (run / "swiftkit").mkdir(parents=True)
    ideal_times = {"train_seconds": ideal, "eval_seconds": 0.5}
    time = {"device_key": device, "model_family": family, "model_id": model,
            "save_seconds": 1.0, "ideal": ideal_times}  # fmt: skip
    (run / "swiftkit" / "plan.json").write_text(json.dumps({"time": time}))
    rows = [{"loss": 1.0, "global_step/max_steps": "1/2", "train_speed(s/it)": 1.0}]
    rows += [{"eval_loss": 1.0, "eval_runtime": e, "global_step/max_steps": "2/2"} for e in evals]
    rows += [{"train_runtime": runtime, "global_step/max_steps": "2/2"}]
    if resumed:
        rows += [{"train_runtime": runtime, "global_step/max_steps": "2/2"}]
    (run / "logging.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return run


def test_own_runs_give_the_median_factor_of_the_newest_matching_runs(tmp_path):
    # measured training = runtime - evaluations - modelled saves (1 s)
    _run(tmp_path, "v0-20250101-000000", ideal=2.0, runtime=5.0, evals=[1.0])  # 2/3
    _run(tmp_path, "v1-20250102-000000", ideal=2.0, runtime=9.0, evals=[2.0, 2.0])  # 2/4
    _run(tmp_path, "v2-20250103-000000", ideal=2.0, runtime=3.0)  # 2/2
    _run(tmp_path, "v3-20250104-000000", ideal=2.0, runtime=3.0, device="cpu/2")  # other device
    _run(tmp_path, "v4-20250105-000000", ideal=2.0, runtime=3.0, resumed=True)  # runtime restarts
    cal = calibrate.calibrate([tmp_path], device_key="cpu/1", on_gpu=False, model_family="qwen2",
                              model_id="m (10 parameters)", tuner="lora")  # fmt: skip
    assert cal.basis == calibrate.OWN_RUNS
    assert cal.train_efficiency == 2.0 / 3.0  # median of 2/3, 2/4, 2/2
    assert cal.eval_efficiency == statistics.median([0.5 / 1.0, 0.5 / 4.0])
    assert len(cal.runs) == 3 and cal.detail == "your 3 finished runs of this model on cpu/1"


def test_same_family_when_no_run_of_this_model_then_public_logs_then_default(tmp_path):
    _run(tmp_path / "out" / "sweep-x" / "a=1", "v0-20250101-000000", ideal=1.0, runtime=3.0)
    kwargs = {"device_key": "cpu/1", "on_gpu": False, "model_family": "qwen2", "tuner": "lora"}
    family = calibrate.calibrate([tmp_path / "out"], model_id="other", **kwargs)
    assert family.basis == calibrate.OWN_RUNS and "the qwen2 family" in family.detail
    none = calibrate.calibrate([tmp_path / "missing"], model_id="other", **kwargs)
    assert none.basis == calibrate.UNCALIBRATED and none.train_efficiency == 1.0
    gpu = calibrate.calibrate([tmp_path / "missing"], model_id="x", **{**kwargs, "on_gpu": True})
    assert gpu.basis == calibrate.PUBLIC_LOGS
    assert gpu.train_efficiency == publiclogs.public_efficiency("lora")[0]
