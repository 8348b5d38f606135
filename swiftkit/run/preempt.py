"""Preemption: on SIGTERM or SIGINT, save a checkpoint at the current step, then stop.

Cloud GPU images send SIGTERM shortly before the machine goes away. The first signal asks the
trainer (through a callback registered in swift's own `callbacks_map`) to save and stop at the
end of the current optimizer step; every rank agrees through an all-reduce, as swift's
GracefulExitCallback does. Before the trainer exists, and on a second signal, it stops at once.
"""

from __future__ import annotations

import signal

CALLBACK_NAME = "swiftkit_preempt"
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(KeyboardInterrupt):
    """Raised when a stop signal arrives before training started (nothing to save yet)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _State:
    signum: int | None = None
    trainer_running = False


def requested_signal() -> int | None:
    """The signal that asked this process to stop, if any."""
    return _State.signum


def exit_code_for(signum: int) -> int:
    """128 + the signal number: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signum)


def _handler(signum, frame):
    first = _State.signum is None
    _State.signum = signum
    if not first or not _State.trainer_running:
        raise Preempted(signum)


def install() -> None:
    """Take SIGTERM/SIGINT for this process (the launcher's main thread only)."""
    _State.signum = None
    _State.trainer_running = False
    for s in SIGNALS:
        signal.signal(s, _handler)


def register_callback() -> str:
    """Add the callback to swift's callbacks_map; return the name to pass in `--callbacks`."""
    from swift.callbacks import callbacks_map
    from transformers import TrainerCallback

    class PreemptCallback(TrainerCallback):
        def __init__(self, args=None, trainer=None):
            _State.trainer_running = True

        def on_step_end(self, args, state, control, **kwargs):
            wanted = _State.signum is not None
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                import torch

                device = (
                    "cpu"
                    if dist.get_backend() == "gloo"
                    else torch.accelerator.current_accelerator()
                )
                flag = torch.tensor([int(wanted)], dtype=torch.uint8, device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                wanted = bool(flag.item())
                if wanted and _State.signum is None:
                    _State.signum = signal.SIGTERM
            if wanted:
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_train_end(self, args, state, control, **kwargs):
            _State.trainer_running = False

    callbacks_map[CALLBACK_NAME] = PreemptCallback
    return CALLBACK_NAME
