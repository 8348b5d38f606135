"""The host's memory as a "card" for runs on the CPU (use_cpu): what auto-fit judges them against.

Linux reports it in /proc/meminfo (MemTotal, MemAvailable, in kB); elsewhere there is none.
"""

from __future__ import annotations

from pathlib import Path

from swiftkit.memory.gpus import GpuCard

MEMINFO = Path("/proc/meminfo")


def host_memory_card(meminfo: Path = MEMINFO) -> GpuCard | None:
    """A GpuCard named "CPU memory" with the host's total and available memory, or None."""
    try:
        text = meminfo.read_text(encoding="ascii")
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * 1024
    total = values.get("MemTotal")
    if not total:
        return None
    return GpuCard("CPU memory", total, False, (), values.get("MemAvailable"))
