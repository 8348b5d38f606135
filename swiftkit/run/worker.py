"""One rank of a multi-process run (`torch.distributed.run ... -m swiftkit.run.worker RUN_DIR`).

Reads the swift argv that swiftkit recorded in RUN_DIR and calls swift's sft entrypoint, so every
rank trains with exactly the arguments in the run's provenance.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from swiftkit.recipe.secrets import restore_secrets
from swiftkit.run import preempt
from swiftkit.run.launch import SECRETS_ENV, resume_argv, run_in_process
from swiftkit.run.rundir import read_provenance


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m swiftkit.run.worker RUN_DIR [CHECKPOINT]", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    recorded = read_provenance(run_dir)
    checkpoint = Path(argv[1]) if len(argv) == 2 else None
    secrets = json.loads(os.environ.get(SECRETS_ENV) or "{}")
    argv = restore_secrets(recorded["argv"], secrets)
    try:
        run_in_process(resume_argv(argv, checkpoint))
    except preempt.Preempted as e:
        return preempt.exit_code_for(e.signum)
    except Exception as e:
        from swiftkit.run import oom

        if not oom.is_cuda_oom(e):
            raise
        # Every rank that runs out records it; the launcher reads it (exit code 4).
        oom.record_oom(run_dir, e, rank=int(os.environ.get("RANK", "0")))
        return 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
