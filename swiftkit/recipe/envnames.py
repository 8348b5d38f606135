"""The environment variables swift, torchrun and the hubs read, to catch a misspelt one in `env:`.

An `env:` block may hold any variable (a run can need its own), so an unknown name is never an
error. A name a few letters away from one of these is almost always a typo, and the typo is
silent: `NPROC_PER_NODES: 2` launches one process. Each name is listed with where it is read.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

READ_BY = {
    # swift/cli/main.py use_torchrun, get_torchrun_args: the launch layout
    "NPROC_PER_NODE": "swift/cli/main.py",
    "NNODES": "swift/cli/main.py",
    "NODE_RANK": "swift/cli/main.py",
    "MASTER_ADDR": "swift/cli/main.py",
    "MASTER_PORT": "swift/cli/main.py",
    # swift/utils/env.py get_dist_setting (set by torchrun for each rank)
    "RANK": "swift/utils/env.py",
    "LOCAL_RANK": "swift/utils/env.py",
    "WORLD_SIZE": "swift/utils/env.py",
    "LOCAL_WORLD_SIZE": "swift/utils/env.py",
    # swift/utils/env.py is_mp_ddp
    "DISABLE_MP_DDP": "swift/utils/env.py",
    # which cards a process sees: swift/utils/env.py select_device, swift/cli/utils.py
    "CUDA_VISIBLE_DEVICES": "swift/cli/utils.py",
    "ASCEND_RT_VISIBLE_DEVICES": "swift/utils/env.py",
    "MUSA_VISIBLE_DEVICES": "swift/cli/utils.py",
    "HIP_VISIBLE_DEVICES": "swift/pipelines/infer/rollout.py",
    "SWIFT_SINGLE_DEVICE_MODE": "swift/cli/utils.py",
    # the hubs: swift/model/register.py, swift/hub/hub.py, swift/utils/env.py
    "USE_HF": "swift/model/register.py",
    "USE_HF_TRANSFER": "swift/hub/hub.py",
    "HF_ENDPOINT": "swift/utils/env.py",
    "MODELSCOPE_API_TOKEN": "swift/hub/hub.py",
    "MODELSCOPE_CACHE": "modelscope/utils/file_utils.py",
    # swift/utils/logger.py, swift/utils/processor_utils.py
    "LOG_LEVEL": "swift/utils/logger.py",
    "TOKENIZERS_PARALLELISM": "swift/utils/processor_utils.py",
    # torch/distributed/run.py sets it per process unless given; torch's caching allocator
    "OMP_NUM_THREADS": "torch/distributed/run.py",
    "PYTORCH_CUDA_ALLOC_CONF": "swift/rlhf_trainers/utils.py",
}
# Read by the libraries under torch, and close to OMP_NUM_THREADS: not typos.
OTHER_KNOWN = frozenset({"MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"})
_CUTOFF = 0.85  # one or two letters off in names this long


def env_name_warnings(names: Mapping[str, str]) -> list[str]:
    """One warning per variable whose name is close to, but not, one swift or torchrun reads.

    names: variable -> `file:line` (or the block's line). A warning, never an error: env may
    hold variables of the run's own.
    """
    out = []
    for name, where in names.items():
        if name in READ_BY or name in OTHER_KNOWN:
            continue
        near = difflib.get_close_matches(name.upper(), list(READ_BY), n=1, cutoff=_CUTOFF)
        if near:
            out.append(
                f"{where}: env {name} is not a variable swift or torchrun reads (names are "
                f"case-sensitive). Did you mean {near[0]} (read in {READ_BY[near[0]]})?"
            )
    return out
