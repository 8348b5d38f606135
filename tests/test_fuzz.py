"""Random YAML documents, values and overrides at the loader and the planner.

Whatever they are given, `load_recipe` and `make_plan` (and rendering the plan) may only fail
with swiftkit's own errors, which the command line turns into a message and exit code 2.
Everything is written under the test's tmp folder and read from there: strings that could name
a path outside it (`/`, `..`, `~`) are kept out of dataset and model values.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from swiftkit.cli.render import render_plan
from swiftkit.errors import SwiftkitError
from swiftkit.plan.plan import make_plan
from swiftkit.recipe.flags import load_schema
from swiftkit.recipe.recipe import load_recipe

ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
PROJECT_FILES = {
    "data/train.jsonl": "\n".join(json.dumps(ROW) for _ in range(3)) + "\n",
    "data/bad.jsonl": json.dumps(ROW) + "\n{oops\n",
    "data/empty.jsonl": "",
    "data/rows.json": json.dumps([ROW, {"query": "q", "response": "r"}, {"foo": 1}]),
    "data/dir/train.jsonl": json.dumps(ROW) + "\n",
    "recipes/base.yaml": "model: m\ndataset: data/train.jsonl\nlora_rank: 8\n",
    "recipes/loop.yaml": "extends: r\n",
}
PATHS = [
    "data/train.jsonl",
    "data/bad.jsonl",
    "data/empty.jsonl",
    "data/rows.json",
    "data/dir",
    "data/train.jsonl#2",
    "data/train.jsonl#0",
    "data/missing.jsonl",
    "hub-org/some-dataset",
    "swift/self-cognition",
]
MODELS = ["m", "Qwen/Qwen2.5-0.5B-Instruct"]
# A word may only name something inside the tmp project: no separators, dots or ~.
SAFE_WORD = re.compile(r"[A-Za-z0-9_\-:# ]*")
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_schema = load_schema()
FLAGS = sorted(_schema.flags)
COMMON = [
    "model",
    "dataset",
    "val_dataset",
    "tuner_type",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "split_dataset_ratio",
    "warmup_ratio",
    "warmup_steps",
    "lora_rank",
    "lora_alpha",
    "max_length",
    "save_steps",
    "eval_steps",
    "save_total_limit",
    "logging_steps",
    "torch_dtype",
    "target_modules",
    "deepspeed",
    "model_name",
    "model_author",
    "system",
    "packing",
    "quant_bits",
    "train_type",
    "adafactor",
    "trust_remote_code",
    "extends",
    "env",
    "swiftkit",
]

words = st.from_regex(r"[A-Za-z0-9_\-]{0,12}", fullmatch=True)
# Bounded: a schedule lists every logging step (see the report on schedule.py).
numbers = st.one_of(
    st.integers(-(10**4), 10**4),
    st.floats(-1e4, 1e4),
    st.sampled_from([0, -1, 1, 0.5, 1.0, 1e-4, float("nan"), float("inf"), -float("inf")]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    words,
    st.sampled_from(PATHS),
    st.sampled_from(["lora", "full", "bfloat16", "all-linear", "true", "1e-4", "{}", "{bad"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(words, st.sampled_from(COMMON)), inner, max_size=4),
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from(COMMON), st.sampled_from(FLAGS), words)
documents = st.dictionaries(keys, values, max_size=10)


def mutate(text: str, data: st.DataObject) -> str:
    """Insert YAML-breaking pieces (tabs, brackets, anchors, tags, duplicate keys) at random."""
    pieces = [
        "\t",
        "[",
        "]",
        "{",
        ": ",
        "\n- ",
        "&a ",
        "*a",
        "!!binary ",
        "!Ref ",
        "\n  ",
        "#",
        "'",
    ]
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.sampled_from(pieces)) + text[at:]
    return text


def plannable(recipe) -> bool:
    """Only plan recipes whose paths stay inside the tmp project."""
    for key in ("dataset", "val_dataset", "model", "output_dir"):
        value = recipe.args.get(key)
        for item in value if isinstance(value, list) else [value]:
            if item is None or item in PATHS or item in MODELS:
                continue
            if not SAFE_WORD.fullmatch(str(item)):
                return False
    return True


def load_and_plan(project: Path, overrides=()) -> None:
    """Only SwiftkitError may come out of here."""
    try:
        recipe = load_recipe("r", overrides, base_dir=project)
    except SwiftkitError:
        event("refused by the loader")
        return
    if not plannable(recipe):
        event("not planned: a path outside the project")
        return
    try:
        plan = make_plan(recipe, base_dir=project, environ={})
    except SwiftkitError:
        event("refused by the planner")
        return
    event("planned with errors" if plan.errors else "planned")
    json.dumps(plan.to_json(), default=str)
    render_plan(plan)


@pytest.fixture
def project(tmp_path):
    for rel, text in PROJECT_FILES.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def write_recipe(project: Path, text: str) -> None:
    (project / "recipes" / "r.yaml").write_text(text, encoding="utf-8")


@SETTINGS
@given(doc=documents, data=st.data())
def test_random_recipes(project, doc, data):
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if data.draw(st.booleans()):
        text = mutate(text, data)
    write_recipe(project, text)
    load_and_plan(project)


GOOD = "model: m\ndataset: data/train.jsonl\n"


@SETTINGS
@given(text=st.one_of(st.text(max_size=200), st.text(max_size=100).map(GOOD.__add__)))
def test_random_text(project, text):
    write_recipe(project, text)
    load_and_plan(project)


override_texts = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda k, sep, v: f"{k}{sep}{v}",
        keys,
        st.sampled_from(["=", "", "==", " = "]),
        st.one_of(
            st.text(max_size=20),
            values.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()),
        ),
    ),
)


@SETTINGS
@given(overrides=st.lists(override_texts, max_size=4))
def test_random_overrides(project, overrides):
    write_recipe(project, "model: m\ndataset: data/train.jsonl\n")
    load_and_plan(project, overrides)


NUMERIC = [
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "split_dataset_ratio",
    "warmup_ratio",
    "warmup_steps",
    "lora_rank",
    "lora_alpha",
    "max_length",
    "save_steps",
    "eval_steps",
    "save_total_limit",
    "logging_steps",
]


@SETTINGS
@given(
    model=st.sampled_from(MODELS),
    dataset=st.sampled_from(PATHS[:6]),
    changes=st.dictionaries(st.sampled_from(NUMERIC), numbers, max_size=3),
    nproc=st.one_of(st.none(), numbers, words),
)
def test_random_values_on_a_good_recipe(project, model, dataset, changes, nproc):
    """Close to a working recipe, so that schedule, memory and disk planning run too."""
    doc = {"model": model, "dataset": dataset, **changes}
    if nproc is not None:
        doc["env"] = {"NPROC_PER_NODE": nproc}
    write_recipe(project, yaml.safe_dump(doc, sort_keys=False))
    load_and_plan(project)
