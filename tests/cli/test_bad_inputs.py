"""The bad input catalogue: broken recipes, datasets and command lines, messages asserted in full.

Each case writes files into a fresh project folder (with recipes/), changes into it and runs the
command line through `swiftkit.cli.main`. Every case must end with exit code 2, print exactly the
expected message (naming the file and line, or the key, and the fix) and never a traceback.
`{T}` in an expected message stands for the project folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from swiftkit.cli.main import main

ROW = json.dumps(
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
)
BASE = "model: m\ndataset: data/train.jsonl\n"  # lines 1-2 of most recipes below
DATA = {"data/train.jsonl": f"{ROW}\n{ROW}\n"}
R = "{T}/recipes/r.yaml"
SEE_LS = "Run python -m swiftkit ls."
SEE_FLAGS = "See python -m swiftkit flags for the list."
# a relative dataset path that does not exist, read from the working directory as swift reads it
NOT_HERE = (
    "swift reads a relative path from the directory it runs in, here {T}). Check the path, or run "
    "from the directory it is relative to."
)
ALIAS_FIX = "Recipes are plain data: write the value out without anchors, aliases or deep nesting."


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes]
    argv: list[str]
    stderr: str
    stdout: str = ""
    marks: tuple = field(default=())


def recipe(text: str | bytes, more: dict[str, str | bytes] | None = None) -> dict:
    """recipes/r.yaml holding `text`, the two-row dataset, then `more` files (path: content)."""
    return {"recipes/r.yaml": text, **DATA, **(more or {})}


def problems(*lines: str) -> str:
    n = len(lines)
    return "\n".join([f"{n} problem{'s' if n != 1 else ''} found:", *(f"  - {x}" for x in lines)])


def one(line: str) -> str:
    return problems(line)


def usage(prog: str, text: str, message: str) -> str:
    return f"usage: {text}\n{prog}: error: {message}. Run {prog} --help."


def _nested_aliases(levels: int, width: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


V = ["validate", "r"]

CASES = [
    # ---------------------------------------------------------------- the YAML itself
    Case(
        "yaml-syntax",
        recipe(BASE + "learning_rate: [1e-4\n"),
        V,
        f"{R}:4: invalid YAML: expected ',' or ']', but got '<stream end>'. "
        "Fix the YAML syntax there.",
    ),
    Case(
        "tab-indent",
        recipe(BASE + "env:\n\tNNODES: 1\n"),
        V,
        f"{R}:4: invalid YAML: found character '\\t' that cannot start any token. "
        "YAML indents with spaces, not tabs: replace the tab with spaces.",
    ),
    Case(
        "duplicate-key",
        recipe(BASE + "lora_rank: 8\nlora_rank: 16\n"),
        V,
        one(f"{R}:4: lora_rank is set twice (first on line 3). Keep one of them."),
    ),
    Case(
        "duplicate-nested-key",
        recipe(BASE + "env:\n  OMP_NUM_THREADS: 1\n  OMP_NUM_THREADS: 2\n"),
        V,
        one(f"{R}:5: OMP_NUM_THREADS is set twice (first on line 4). Keep one of them."),
    ),
    Case(
        "duplicate-key-beside-everything-else",
        recipe(
            "model: m\nlora_rank: 8\nlora_rnak: 16\ndataset: data/missing.jsonl\nlora_rank: 4\n"
        ),
        V,
        problems(
            f"{R}:5: lora_rank is set twice (first on line 2). Keep one of them.",
            f"{R}:3: lora_rnak is not a swift sft flag. Did you mean lora_rank?",
            f"{R}:4: data/missing.jsonl: dataset not found (looked for "
            f"{{T}}/data/missing.jsonl: {NOT_HERE}",
        ),
    ),
    Case(
        "top-level-list",
        recipe("- model\n- dataset\n"),
        V,
        f"{R}:1: the top level must be a mapping of swift sft flags (got a list). "
        "Write one `flag: value` per line.",
    ),
    Case(
        "top-level-scalar",
        recipe("hello\n"),
        V,
        f"{R}:1: the top level must be a mapping of swift sft flags (got a single value). "
        "Write one `flag: value` per line.",
    ),
    Case(
        "empty-file",
        recipe(""),
        V,
        f"{R}: the recipe is empty. Add swift sft flags such as model: and dataset:.",
    ),
    Case(
        "comments-only",
        recipe("# to do\n"),
        V,
        f"{R}: the recipe is empty. Add swift sft flags such as model: and dataset:.",
    ),
    Case(
        "python-tag",
        recipe(BASE + "x: !!python/object/apply:os.system ['echo pwned']\n"),
        V,
        f"{R}:3: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'. "
        "Recipes are plain data: remove the !!python tag.",
    ),
    Case(
        "non-string-key",
        recipe(BASE + "1: 2\n"),
        V,
        one(
            f"{R}:3: key 1 is not a flag name. Keys are swift sft flag names such as learning_rate."
        ),
    ),
    Case(
        "alias-contains-itself",
        recipe(BASE + "lora_rank: &a [1, *a]\n"),
        V,
        one(f"{R}:3: lora_rank contains itself through a YAML alias. {ALIAS_FIX}"),
    ),
    Case(
        "alias-bomb",
        recipe(BASE + _nested_aliases(4, 10)),
        V,
        problems(
            f"{R}:6: a3 expands to 11111 values through YAML aliases (more than 10000). "
            + ALIAS_FIX,
            # Reported beside everything else: the other keys are checked too.
            *(f"{R}:{3 + i}: a{i} is not a swift sft flag. {SEE_FLAGS}" for i in range(3)),
        ),
    ),
    Case(
        "nested-too-deep",
        recipe(BASE + "deepspeed: " + "[" * 40 + "]" * 40 + "\n"),
        V,
        one(f"{R}:3: deepspeed nests values more than 32 levels deep. {ALIAS_FIX}"),
    ),
    Case(
        "nested-beyond-the-parser",
        recipe(BASE + "deepspeed: " + "[" * 3000 + "]" * 3000 + "\n"),
        V,
        f"{R}: nests values too deeply to read. "
        "Recipes are flat: write one `flag: value` per line.",
    ),
    Case(
        "control-character",
        recipe(BASE + "system: a\x1fb\n"),
        V,
        f"{R}:3: column 10 holds a character YAML does not allow (got '\\x1f'). "
        "Delete it: recipes are plain text.",
    ),
    Case(
        "recipe-not-utf8",
        recipe(b"\xff\xfemodel: m\n"),
        V,
        f"{R}: cannot be read ('utf-8' codec can't decode byte 0xff in position 0: invalid start "
        "byte). Check the file's permissions and encoding (UTF-8).",
    ),
    # ---------------------------------------------------------------- keys
    Case(
        "unknown-key-near",
        recipe(BASE + "lora_rnak: 8\n"),
        V,
        one(f"{R}:3: lora_rnak is not a swift sft flag. Did you mean lora_rank?"),
    ),
    Case(
        "unknown-key-far",
        recipe(BASE + "zzqqxx: 8\n"),
        V,
        one(f"{R}:3: zzqqxx is not a swift sft flag. See python -m swiftkit flags for the list."),
    ),
    Case(
        "renamed-and-new-both-set",
        recipe(BASE + "train_type: lora\ntuner_type: lora\n"),
        V,
        one(
            f"{R}:3: train_type and tuner_type are both set (train_type is the old name). "
            "Keep only tuner_type."
        ),
    ),
    Case(
        "removed-key",
        recipe(BASE + "adafactor: true\n"),
        V,
        one(f"{R}:3: adafactor was removed from ms-swift. Write optim: adafactor."),
    ),
    # ---------------------------------------------------------------- types
    Case(
        "int-as-word",
        recipe(BASE + "lora_rank: eight\n"),
        V,
        one(f"{R}:3: lora_rank must be an integer (got 'eight'). Write lora_rank: 8."),
    ),
    Case(
        "float-as-word",
        recipe(BASE + "learning_rate: fast\n"),
        V,
        one(f"{R}:3: learning_rate must be a number (got 'fast'). Write learning_rate: 0.0001."),
    ),
    Case(
        "bool-as-word",
        recipe(BASE + "gradient_checkpointing: maybe\n"),
        V,
        one(
            f"{R}:3: gradient_checkpointing must be true or false (got 'maybe'). "
            "Write gradient_checkpointing: true or gradient_checkpointing: false."
        ),
    ),
    Case(
        "list-for-int",
        recipe(BASE + "lora_rank: [8, 16]\n"),
        V,
        one(f"{R}:3: lora_rank must be an integer (got [8, 16]). Write lora_rank: 8."),
    ),
    Case(
        "null-for-required",
        recipe(BASE + "lora_rank: null\n"),
        V,
        one(f"{R}:3: lora_rank cannot be null (got None). Write lora_rank: 8."),
    ),
    Case(
        "invalid-json-object",
        recipe(BASE + "deepspeed: '{bad'\n"),
        V,
        one(f"{R}:3: deepspeed must be a valid JSON object (got '{{bad'). Fix the value."),
    ),
    Case(
        "empty-dataset-list",
        recipe("model: m\ndataset: []\n"),
        V,
        problems(
            f"{R}: dataset is not set. "
            "Add dataset: FILE_OR_ID (e.g. datasets/self_cognition.json).",
        ),
    ),
    # ---------------------------------------------------------------- ranges
    Case(
        "batch-zero",
        recipe(BASE + "per_device_train_batch_size: 0\n"),
        V,
        one(f"{R}:3: per_device_train_batch_size must be at least 1 (got 0). Use 1 or more."),
    ),
    Case(
        "learning-rate-negative",
        recipe(BASE + "learning_rate: -1e-4\n"),
        V,
        one(
            f"{R}:3: learning_rate must be above 0 (got -0.0001). "
            "Use e.g. 1e-4 for LoRA, 1e-5 for full."
        ),
    ),
    Case(
        "learning-rate-nan",
        recipe(BASE + "learning_rate: .nan\n"),
        V,
        one(
            f"{R}:3: learning_rate must be a finite number (got nan). "
            "Use e.g. 1e-4 for LoRA, 1e-5 for full."
        ),
    ),
    Case(
        "epochs-zero",
        recipe(BASE + "num_train_epochs: 0\n"),
        V,
        one(f"{R}:3: num_train_epochs must be above 0 (got 0.0). Use e.g. 3."),
    ),
    Case(
        "epochs-infinite",
        recipe(BASE + "num_train_epochs: .inf\n"),
        V,
        one(f"{R}:3: num_train_epochs must be a finite number (got inf). Use e.g. 3."),
    ),
    Case(
        "max-steps-zero",
        recipe(BASE + "max_steps: 0\n"),
        V,
        one(
            f"{R}:3: max_steps must be -1 (use epochs) or above 0 (got 0). "
            "Use -1 to train by num_train_epochs."
        ),
    ),
    Case(
        "accumulation-negative",
        recipe(BASE + "gradient_accumulation_steps: -2\n"),
        V,
        one(
            f"{R}:3: gradient_accumulation_steps must be at least 1 (got -2). "
            "Use 1 or more (16 gives an effective batch of 16)."
        ),
    ),
    Case(
        "batch-negative",
        recipe(BASE + "per_device_train_batch_size: -1\n"),
        V,
        one(f"{R}:3: per_device_train_batch_size must be at least 1 (got -1). Use 1 or more."),
    ),
    Case(
        "warmup-ratio-one",
        recipe(BASE + "warmup_ratio: 1.0\n"),
        V,
        one(f"{R}:3: warmup_ratio must be in [0, 1) (got 1.0). Use e.g. 0.05."),
    ),
    Case(
        "lora-dropout-negative",
        recipe(BASE + "lora_dropout: -0.1\n"),
        V,
        one(f"{R}:3: lora_dropout must be in [0, 1) (got -0.1). Use e.g. 0.05."),
    ),
    Case(
        "split-ratio-above-one",
        recipe(BASE + "split_dataset_ratio: 1.5\n"),
        V,
        one(
            f"{R}:3: split_dataset_ratio must be in [0, 1) (got 1.5). "
            "Use e.g. 0.05 to hold out 5% for evaluation."
        ),
    ),
    Case(
        "split-leaves-no-training-rows",
        recipe(BASE + "split_dataset_ratio: 0.5\n", {"data/train.jsonl": f"{ROW}\n"}),
        V,
        one(
            f"{R}:3: split_dataset_ratio 0.5 leaves no training rows out of 1 (1 go to "
            "validation). Lower the ratio or add rows."
        ),
    ),
    # ---------------------------------------------------------------- choices
    Case(
        "tuner-type-typo",
        recipe(BASE + "tuner_type: lorra\n"),
        V,
        one(
            f"{R}:3: tuner_type must be one of: 'adalora', 'adapter', 'boft', 'bone', 'dummy', "
            "'fourierft', 'full', 'ia3', 'llamapro', 'longlora', 'lora', 'lora_llm', 'reft', "
            "'vera' (got 'lorra'). Write tuner_type: lora."
        ),
    ),
    Case(
        "torch-dtype-unknown",
        recipe(BASE + "torch_dtype: float64\n"),
        V,
        one(
            f"{R}:3: torch_dtype must be one of: 'bfloat16', 'float16', 'float32' "
            "(got 'float64'). Write torch_dtype: bfloat16."
        ),
    ),
    # ---------------------------------------------------------------- missing flags
    Case(
        "no-dataset",
        recipe("model: m\n"),
        V,
        one(
            f"{R}: dataset is not set. Add dataset: FILE_OR_ID (e.g. datasets/self_cognition.json)."
        ),
    ),
    Case(
        "no-model",
        recipe("dataset: data/train.jsonl\n"),
        V,
        one(f"{R}: model is not set. Add model: ID_OR_FOLDER (e.g. Qwen/Qwen2.5-7B-Instruct)."),
    ),
    # ---------------------------------------------------------------- datasets
    Case(
        "dataset-missing",
        recipe("model: m\ndataset: data/nope.jsonl\n"),
        V,
        one(
            f"{R}:2: data/nope.jsonl: dataset not found (looked for {{T}}/data/nope.jsonl: "
            + NOT_HERE
        ),
    ),
    Case(
        "val-dataset-missing",
        recipe(BASE + "val_dataset: data/val.jsonl\n"),
        V,
        one(
            f"{R}:3: data/val.jsonl: dataset not found (looked for {{T}}/data/val.jsonl: "
            + NOT_HERE
        ),
    ),
    Case(
        "dataset-empty",
        recipe(BASE, {"data/train.jsonl": ""}),
        V,
        one(
            "data/train.jsonl: is empty, and swift fails on an empty file. Add rows or remove it "
            "from --dataset."
        ),
    ),
    Case(
        "dataset-not-utf8",
        recipe(BASE, {"data/train.jsonl": b"\xff\xfe{}\n"}),
        V,
        one(
            "data/train.jsonl: cannot be read (not UTF-8 text). Check it is a readable UTF-8 file."
        ),
    ),
    Case(
        "dataset-invalid-json",
        recipe("model: m\ndataset: data/x.json\n", {"data/x.json": '[{"messages": []},\n'}),
        V,
        problems(
            "data/x.json:2:1: invalid JSON (Expecting value). Fix it: swift cannot load it.",
            'data/x.json: row 1: "messages" is an empty list; swift drops the row. Add the '
            "conversation or remove the row.",
        ),
    ),
    Case(
        "dataset-invalid-jsonl-line",
        recipe(BASE, {"data/train.jsonl": f"{ROW}\n{{oops\n"}),
        V,
        one(
            "data/train.jsonl:2: invalid JSON Lines row (Expecting property name enclosed in "
            "double quotes at column 2). Fix or delete the line: swift cannot load the file."
        ),
    ),
    Case(
        "dataset-row-not-object",
        recipe(BASE, {"data/train.jsonl": "[1, 2]\n"}),
        V,
        one(
            "data/train.jsonl: row 1: each row must be a JSON object (got a number), and swift "
            'fails on the whole file. Make every row an object such as {"messages": [...]}.'
        ),
    ),
    Case(
        "dataset-rows-in-no-format",
        recipe(BASE, {"data/train.jsonl": '{"foo": 1}\n'}),
        V,
        problems(
            "data/train.jsonl:1: has none of the columns swift reads (got keys ['foo']); swift "
            'drops the row. Use "messages", query/response or instruction/input/output.',
            "data/train.jsonl: no row is in a format swift accepts, so swift fails while loading "
            "it. Fix the rows listed above.",
        ),
    ),
    Case(
        "dataset-empty-messages",
        recipe(BASE, {"data/train.jsonl": f'{ROW}\n{{"messages": []}}\n'}),
        V,
        one(
            'data/train.jsonl:2: "messages" is an empty list; swift drops the row. Add the '
            "conversation or remove the row."
        ),
    ),
    Case(
        "dataset-sample-zero",
        recipe("model: m\ndataset: data/train.jsonl#0\n"),
        V,
        one(
            f"{R}:2: --dataset 'data/train.jsonl#0': the number after # must be a positive "
            "row count (got '0'). Write e.g. data/train.jsonl#500, or drop the #."
        ),
    ),
    Case(
        "dataset-folder-without-train",
        {"recipes/r.yaml": "model: m\ndataset: data/\n", "data/test.jsonl": f"{ROW}\n"},
        V,
        one(
            "data/: has no train files (found only test); swift loads split 'train' and fails. "
            "Rename the data file, e.g. to train.jsonl."
        ),
    ),
    Case(
        "dataset-tilde",
        recipe("model: m\ndataset: ~/x.jsonl\n"),
        V,
        one(
            "--dataset '~/x.jsonl': swift does not expand ~ (got '~/x.jsonl'). Write the full path."
        ),
    ),
    Case(
        "dataset-unknown-suffix",
        recipe("model: m\ndataset: data/x.xlsx\n", {"data/x.xlsx": "x"}),
        V,
        one(
            "data/x.xlsx: swift cannot load a .xlsx file (got 'x.xlsx'). "
            "Use .json, .jsonl, .csv or .txt."
        ),
    ),
    # ---------------------------------------------------------------- extends
    Case(
        "extends-cycle",
        {"recipes/r.yaml": "extends: b\n", "recipes/b.yaml": "extends: r\n"},
        V,
        "{T}/recipes/b.yaml: extends cycle: r.yaml -> b.yaml -> r.yaml. "
        "Remove one of the extends lines.",
    ),
    Case(
        "extends-itself",
        recipe("extends: r\n"),
        V,
        f"{R}: extends cycle: r.yaml -> r.yaml. Remove one of the extends lines.",
    ),
    Case(
        "extends-missing-base",
        recipe("extends: nobase\n" + BASE),
        V,
        f"{R}:1: extends 'nobase', but {{T}}/recipes/nobase.yaml does not exist. Name a recipe "
        "in the same folder (its file name without .yaml) or a path.",
    ),
    Case(
        "extends-a-list",
        recipe("extends: [a, b]\n" + BASE),
        V,
        f"{R}:1: extends must name one recipe (got ['a', 'b']). Write extends: NAME.",
    ),
    Case(
        "base-has-the-error",
        {**DATA, "recipes/r.yaml": "extends: b\n" + BASE, "recipes/b.yaml": "lora_rnak: 8\n"},
        V,
        one("{T}/recipes/b.yaml:1: lora_rnak is not a swift sft flag. Did you mean lora_rank?"),
    ),
    # ---------------------------------------------------------------- overrides
    Case(
        "override-no-value",
        recipe(BASE),
        [*V, "lora_rank="],
        one(
            "override 'lora_rank=' has no value after '='. "
            "Write lora_rank=VALUE (or lora_rank=null to unset it)."
        ),
    ),
    Case(
        "override-no-key",
        recipe(BASE),
        [*V, "=8"],
        one("override '=8' has no key before '='. Write key=value, e.g. num_train_epochs=3."),
    ),
    Case(
        "override-no-equals",
        recipe(BASE),
        [*V, "lora_rank"],
        one("override 'lora_rank' has no '='. Write key=value, e.g. learning_rate=2e-4."),
    ),
    Case(
        "override-unknown-key",
        recipe(BASE),
        [*V, "lora_rnak=8"],
        one(
            "command line (lora_rnak=...): lora_rnak is not a swift sft flag. "
            "Did you mean lora_rank?"
        ),
    ),
    Case(
        "override-wrong-type",
        recipe(BASE),
        [*V, "lora_rank=abc"],
        one(
            "command line (lora_rank=...): lora_rank must be an integer (got 'abc'). "
            "Write lora_rank=8."
        ),
    ),
    Case(
        "override-out-of-range",
        recipe(BASE),
        [*V, "learning_rate=0"],
        one(
            "command line (learning_rate=...): learning_rate must be above 0 (got 0.0). "
            "Use e.g. 1e-4 for LoRA, 1e-5 for full."
        ),
    ),
    Case(
        "override-env-block",
        recipe(BASE),
        [*V, "env=x"],
        one(
            "override 'env=x': env cannot be overridden from the command line. "
            "Edit the recipe file, or set environment variables directly."
        ),
    ),
    Case(
        "override-alias-contains-itself",
        recipe(BASE),
        [*V, "lora_rank=&a [*a]"],
        one(
            "override lora_rank=...: the value contains itself through a YAML alias. "
            "Write a plain value, e.g. lora_rank=8."
        ),
    ),
    Case(
        "override-python-tag-is-a-string",
        recipe(BASE),
        [*V, "lora_rank=!!python/object/apply:os.system [ls]"],
        one(
            "command line (lora_rank=...): lora_rank must be an integer "
            "(got '!!python/object/apply:os.system [ls]'). Write lora_rank=8."
        ),
    ),
    # ---------------------------------------------------------------- env and swiftkit blocks
    Case(
        "env-not-a-mapping",
        recipe(BASE + "env: 3\n"),
        V,
        one(
            f"{R}:3: env must be a mapping of environment variables (got 3). "
            "Write e.g. env: {NPROC_PER_NODE: 2}."
        ),
    ),
    Case(
        "env-bad-name",
        recipe(BASE + "env:\n  1X: 2\n"),
        V,
        one(
            f"{R}:4: env key '1X' is not an environment variable name. Use letters, digits and "
            "_, not starting with a digit (e.g. NPROC_PER_NODE)."
        ),
    ),
    Case(
        "env-list-value",
        recipe(BASE + "env:\n  NNODES: [1]\n"),
        V,
        one(f"{R}:4: env NNODES must be a single value (got [1]). Write NNODES: VALUE."),
    ),
    Case(
        "env-nproc-not-a-number",
        recipe(BASE + "env:\n  NPROC_PER_NODE: two\n"),
        V,
        one(
            f"{R}: env NPROC_PER_NODE must be a positive integer (got 'two'). "
            "Write NPROC_PER_NODE: 2."
        ),
    ),
    Case(
        "env-nproc-zero",
        recipe(BASE + "env:\n  NPROC_PER_NODE: 0\n"),
        V,
        one(
            f"{R}: env NPROC_PER_NODE must be a positive integer (got '0'). "
            "Write NPROC_PER_NODE: 2."
        ),
    ),
    Case(
        "swiftkit-not-a-mapping",
        recipe(BASE + "swiftkit: 3\n"),
        V,
        one(
            f"{R}:3: swiftkit must be a mapping (got 3). "
            "Write e.g. swiftkit: {lr_tuned_for_batch: 16}."
        ),
    ),
    Case(
        "swiftkit-unknown-setting",
        recipe(BASE + "swiftkit:\n  gpux: A100\n"),
        V,
        one(
            f"{R}:4: swiftkit.gpux is not a swiftkit setting. Did you mean gpu? "
            "Use one of: lr_tuned_for_batch, gpu, description."
        ),
    ),
    Case(
        "swiftkit-lr-batch-zero",
        recipe(BASE + "swiftkit:\n  lr_tuned_for_batch: 0\n"),
        V,
        one(
            f"{R}:4: swiftkit.lr_tuned_for_batch must be a positive integer (got 0). "
            "Write e.g. lr_tuned_for_batch: 16 under swiftkit:."
        ),
    ),
    Case(
        "swiftkit-gpu-not-text",
        recipe(BASE + "swiftkit:\n  gpu: 4090\n"),
        V,
        one(f'{R}:4: swiftkit.gpu must be a string (got 4090). Quote it: gpu: "4090".'),
    ),
    Case(
        "swift-env-not-a-mapping",
        recipe(BASE + "ENV: [NPROC_PER_NODE]\n"),
        V,
        one(
            f"{R}:3: ENV must be a mapping of environment variables (got ['NPROC_PER_NODE']). "
            "Write e.g. ENV: {NPROC_PER_NODE: 2}."
        ),
    ),
    Case(
        "swift-env-and-env",
        recipe(BASE + "env:\n  OMP_NUM_THREADS: 1\nENV:\n  NPROC_PER_NODE: 2\n"),
        V,
        one(
            f"{R}:5: ENV and env are both set (ENV is swift's config-file spelling). "
            "Keep one of them."
        ),
    ),
    Case(
        "swift-env-nproc-not-a-number",
        recipe(BASE + "ENV:\n  NPROC_PER_NODE: two\n"),
        V,
        one(
            f"{R}: env NPROC_PER_NODE must be a positive integer (got 'two'). "
            "Write NPROC_PER_NODE: 2."
        ),
    ),
    # ---------------------------------------------------------------- swift config files (JSON)
    Case(
        "json-syntax",
        {"recipes/c.json": '{"model": "m",\n "dataset": ["data/train.jsonl",]\n}', **DATA},
        ["validate", "recipes/c.json"],
        "{T}/recipes/c.json:2: invalid JSON: Expecting value (column 33). Fix the JSON there.",
    ),
    Case(
        "json-top-level-list",
        {"recipes/c.json": '["model", "m"]', **DATA},
        ["plan", "c"],
        "{T}/recipes/c.json:1: the top level must be an object of swift sft flags (got a list). "
        'Write {"flag": value, ...}.',
    ),
    Case(
        "json-every-problem-at-once",
        {
            "recipes/c.json": '{"model": "m", "dataset": "data/nope.jsonl",\n "lora_rank": 8,\n'
            ' "lora_rnak": 8,\n "lora_rank": 16,\n "ENV": {"NPROC_PER_NODE": 0}}\n',
            **DATA,
        },
        ["validate", "c"],
        problems(
            "{T}/recipes/c.json:4: lora_rank is set twice (first on line 2). Keep one of them.",
            "{T}/recipes/c.json:3: lora_rnak is not a swift sft flag. Did you mean lora_rank?",
            "{T}/recipes/c.json: env NPROC_PER_NODE must be a positive integer (got '0'). "
            "Write NPROC_PER_NODE: 2.",
            "{T}/recipes/c.json:1: data/nope.jsonl: dataset not found (looked for "
            f"{{T}}/data/nope.jsonl: {NOT_HERE}",
        ),
    ),
    # ---------------------------------------------------------------- older ms-swift names
    Case(
        "2x-use-flash-attn",
        recipe(BASE + "use_flash_attn: true\n"),
        V,
        one(
            f"{R}:3: use_flash_attn is the ms-swift 2.x flag that became attn_impl (got True). "
            "Write attn_impl: flash_attn."
        ),
    ),
    Case(
        "2x-lora-target-modules-all",
        recipe(BASE + "lora_target_modules: ALL\n"),
        V,
        one(
            f"{R}:3: lora_target_modules is the ms-swift 2.x flag that became target_modules "
            "(got 'ALL'). Write target_modules: all-linear."
        ),
    ),
    Case(
        "2x-target-modules-default",
        recipe(BASE + "target_modules: DEFAULT\n"),
        V,
        one(
            f"{R}:3: target_modules value DEFAULT is ms-swift 2.x's spelling (got ['DEFAULT']). "
            "DEFAULT and AUTO meant the model type's default modules in 2.x (usually the "
            "attention projections): list them, e.g. target_modules: [q_proj, k_proj, v_proj], "
            "or write target_modules: all-linear (every linear layer, the 4.x default)."
        ),
    ),
    Case(
        "2x-quantization-bit",
        recipe(BASE + "quantization_bit: 4\n"),
        V,
        one(
            f"{R}:3: quantization_bit is the ms-swift 2.x flag that became quant_bits (got 4). "
            "Write quant_bits: 4 and quant_method: bnb."
        ),
    ),
    Case(
        "2x-removed-flag",
        recipe(BASE + "gpu_memory_fraction: 0.9\n"),
        V,
        one(
            f"{R}:3: gpu_memory_fraction was removed from ms-swift after 2.6.1. Remove it, or "
            "cap the memory per GPU with max_memory."
        ),
    ),
    Case(
        "2x-names-with-other-problems",
        recipe(BASE + "sft_type: lora\ndtype: bf16\nlora_rank: 0\n"),
        V,
        f"warning: {R}:3: sft_type is the ms-swift 2.x name of tuner_type; using tuner_type.\n"
        + problems(
            f"{R}:4: dtype is the ms-swift 2.x flag that became torch_dtype (got 'bf16'). "
            "Write torch_dtype: bfloat16.",
            f"{R}:5: lora_rank must be at least 1 (got 0). Use e.g. 8.",
        ),
    ),
    # ---------------------------------------------------------------- combinations swift refuses
    Case(
        "quant-bits-without-method",
        recipe(BASE + "quant_bits: 4\n"),
        V,
        one(
            f"{R}:3: quant_bits is ignored without quant_method (got quant_bits 4). "
            "Add quant_method: bnb for QLoRA."
        ),
    ),
    Case(
        "warmup-steps-and-ratio",
        recipe(BASE + "warmup_steps: 5\nwarmup_ratio: 0.1\n"),
        V,
        one(
            f"{R}:3: warmup_steps and warmup_ratio cannot both be set (got 5.0 and 0.1); "
            "swift refuses it. Keep one of them."
        ),
    ),
    Case(
        "packing-without-flash-attention",
        recipe(BASE + "packing: true\n"),
        V,
        one(
            f"{R}:3: packing needs flash attention (got attn_impl None). Set attn_impl: "
            "flash_attn (flash-attn installed) or remove packing."
        ),
    ),
    Case(
        "every-problem-at-once",
        recipe("model: m\ndataset: data/nope.jsonl\nlora_rnak: 8\nlearning_rate: -1\n"),
        [*V, "num_train_epochs=zero"],
        problems(
            f"{R}:3: lora_rnak is not a swift sft flag. Did you mean lora_rank?",
            "command line (num_train_epochs=...): num_train_epochs must be a number "
            "(got 'zero'). Write num_train_epochs=3.",
            f"{R}:4: learning_rate must be above 0 (got -1.0). "
            "Use e.g. 1e-4 for LoRA, 1e-5 for full.",
            f"{R}:2: data/nope.jsonl: dataset not found (looked for {{T}}/data/nope.jsonl: "
            + NOT_HERE,
        ),
    ),
    # ---------------------------------------------------------------- the command line
    Case(
        "recipe-missing",
        recipe(BASE),
        ["validate", "nope"],
        f"recipe 'nope' not found (looked for {{T}}/recipes/nope.yaml). {SEE_LS}",
    ),
    Case(
        "recipe-missing-near-name",
        recipe(BASE),
        ["plan", "rr"],
        f"recipe 'rr' not found (looked for {{T}}/recipes/rr.yaml). Did you mean r? {SEE_LS}",
    ),
    Case(
        "recipe-missing-path",
        recipe(BASE),
        ["train", "elsewhere/x.yaml", "--dry-run"],
        f"recipe 'elsewhere/x.yaml' not found (looked for {{T}}/elsewhere/x.yaml). {SEE_LS}",
    ),
    Case(
        "unknown-subcommand",
        recipe(BASE),
        ["frobnicate"],
        usage(
            "swiftkit",
            "swiftkit [-h] [--version] COMMAND ...",
            "argument COMMAND: invalid choice: 'frobnicate' (choose from 'ls', 'validate', "
            "'plan', 'flags', 'gpus', 'train', 'demo', 'sweep', 'sbatch', 'status', 'compare', "
            "'infer', 'export', 'check')",
        ),
    ),
    Case(
        "no-subcommand",
        recipe(BASE),
        [],
        usage(
            "swiftkit",
            "swiftkit [-h] [--version] COMMAND ...",
            "the following arguments are required: COMMAND",
        ),
    ),
    Case(
        "unknown-option",
        recipe(BASE),
        [*V, "--frob"],
        usage(
            "swiftkit",
            "swiftkit [-h] [--version] COMMAND ...",
            "unrecognized arguments: --frob",
        ),
    ),
    Case(
        "plan-without-recipe",
        recipe(BASE),
        ["plan"],
        usage(
            "swiftkit plan",
            "swiftkit plan [-h] [--json] [--gpu GPU] [--fit] [--headroom GiB]\n"
            "                     recipe [key=value ...]",
            "the following arguments are required: recipe",
        ),
    ),
    Case(
        "swift-config-without-dry-run",
        recipe(BASE),
        ["train", "r", "--swift-config", "out.yaml"],
        "--swift-config out.yaml writes a file only with --dry-run. Add --dry-run.",
    ),
    Case(
        "swift-config-bad-suffix",
        recipe(BASE),
        ["train", "r", "--dry-run", "--swift-config", "out.cfg"],
        "--swift-config out.cfg: swift sft reads a config file only when its name ends in "
        ".yaml, .yml or .json (got '.cfg'). Name it e.g. out.yaml.",
    ),
    Case(
        "swift-config-over-the-recipe",
        recipe(BASE),
        ["train", "r", "--dry-run", "--swift-config", "recipes/r.yaml"],
        "--swift-config recipes/r.yaml is the recipe itself. Write the swift config to a new file.",
    ),
    Case(
        "unknown-gpu",
        # The model must be one swiftkit knows the shape of: see the report on memplan.py.
        recipe("model: Qwen/Qwen2.5-0.5B-Instruct\ndataset: data/train.jsonl\n"),
        [*V, "--gpu", "NOPE9000"],
        one(
            "gpu 'NOPE9000' is not a card swiftkit knows. Use a name such as 4090D, A100-80G or "
            "H100 (python -m swiftkit gpus lists them)."
        ),
    ),
]


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path.resolve()
    (root / "recipes").mkdir()
    monkeypatch.chdir(root)
    for name in ("NPROC_PER_NODE", "NNODES", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    return root


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse exits by itself on usage errors
        return e.code


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case, project, capsys):
    write_files(project, case.files)
    code = run_main(case.argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert (err, out) == (
        case.stderr.replace("{T}", str(project)) + "\n",
        case.stdout.replace("{T}", str(project)),
    )
    assert code == 2


def test_plan_json_lists_the_errors(project, capsys):
    write_files(project, recipe(BASE + "lora_rank: 0\n"))
    assert run_main(["plan", "r", "--json"]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out)["errors"] == [
        f"{project}/recipes/r.yaml:3: lora_rank must be at least 1 (got 0). Use e.g. 8."
    ]


def test_plan_text_ends_with_the_errors(project, capsys):
    write_files(project, recipe(BASE + "lora_rank: 0\n"))
    assert run_main(["plan", "r"]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    assert out.endswith(
        f"errors:\n  - {project}/recipes/r.yaml:3: lora_rank must be at least 1 (got 0). "
        "Use e.g. 8.\n"
    )


SUBPROCESS_CASES = [
    "yaml-syntax",
    "python-tag",
    "alias-contains-itself",
    "nested-beyond-the-parser",
    "dataset-invalid-jsonl-line",
    "extends-cycle",
    "override-no-equals",
    "unknown-subcommand",
]


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_no_traceback_reaches_the_user(case_id, project):
    """The real entry point, as a user runs it: exit 2, the message, and nothing else."""
    case = next(c for c in CASES if c.id == case_id)
    write_files(project, case.files)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "swiftkit", *case.argv],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr == case.stderr.replace("{T}", str(project)) + "\n"
    assert done.stdout == case.stdout
    assert done.returncode == 2
