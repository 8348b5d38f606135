"""After training: which checkpoint to load, talking to it through ms-swift's inference
entrypoint, merging and exporting it, and checking that a self-cognition run learned its name.

target  a run directory (or a recipe, or a model folder) -> the checkpoint and how to load it
infer   swift.infer_main on queries, answers read from what it returns
export  swift.export_main (merge_lora) into a new folder, with the run's provenance
identity  the identity questions, the check and RUN/swiftkit/check.json
"""
