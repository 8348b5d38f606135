"""GPU memory: model shapes, the peak-memory estimate of a training step, the cards, fit
verdicts with ranked fixes, and GPU detection (nvidia-smi; torch never imported)."""

from swiftkit.memory.estimate import MemoryEstimate, estimate_memory

__all__ = ["MemoryEstimate", "estimate_memory"]
