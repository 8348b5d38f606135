"""Datasets as ms-swift 4.6 reads them: files and folders, row formats, `--dataset` specs, and
token lengths from a local tokenizer. Standard library only at import; no torch, no swift."""
