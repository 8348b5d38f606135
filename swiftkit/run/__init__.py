"""Launching runs: a fresh run directory with provenance, ms-swift's sft entrypoint in-process or
under torchrun, checkpoint-on-SIGTERM, and resuming. torch and swift are imported lazily."""
