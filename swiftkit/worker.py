"""One rank of a multi-process run: `python -m torch.distributed.run ... -m swiftkit.worker RUN_DIR`.

Reads the swift argv that swiftkit recorded in RUN_DIR and calls swift's sft entrypoint, so every
rank trains with exactly the arguments in the run's provenance.
"""

from __future__ import annotations

import sys
from pathlib import Path

from swiftkit.launch import run_in_process
from swiftkit.rundir import read_provenance


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m swiftkit.worker RUN_DIR", file=sys.stderr)
        return 2
    recorded = read_provenance(Path(argv[0]))
    run_in_process(recorded["argv"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
