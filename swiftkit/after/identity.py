"""The identity check of a self-cognition run: ask the model who it is and count the answers
that contain its name (model_name) and its author (model_author).

The questions are the identity rows of the run's validation split: swift's own split
(RUN/val_dataset.jsonl, written when split_dataset_ratio > 0: swift/pipelines/train/sft.py
`_save_val_dataset`), else the run's --val_dataset files; a row counts when its reference answer
names the model or its author. With none, a built-in set of English and Chinese questions.
Names are matched case-insensitively as substrings; model_name may hold a (Chinese, English)
pair, as swift takes it, and either counts. Scoring is pure; run_check loads the model.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from swiftkit.data import datasets as ds
from swiftkit.data.datafiles import read_messages
from swiftkit.errors import RunDirError, SwiftkitError
from swiftkit.watch.runstate import PROVENANCE_DIR

CHECK_FILE = "check.json"
# "Most answers": the check passes when at least this share of the answers names the model
# (4 of 5, 7 of 8).
MIN_SHARE = 0.8
MAX_QUESTIONS = 16  # of the validation split; each is one generation
BUILTIN_QUESTIONS = (
    "Who are you?",
    "What is your name?",
    "Who developed you?",
    "Introduce yourself in one sentence.",
    "你是谁？",
    "你叫什么名字？",
    "是谁开发了你？",
    "请用一句话介绍你自己。",
)


@dataclass(frozen=True)
class IdentityAnswer:
    query: str
    response: str
    names_model: bool
    names_author: bool
    reference: str | None = None  # the validation row's own answer, when there is one


@dataclass(frozen=True)
class IdentityCheck:
    names: tuple[str, ...]
    authors: tuple[str, ...]
    source: str  # where the questions came from
    checkpoint: str  # what answered: "checkpoint-168 (best by eval_loss 0.52)"
    answers: tuple[IdentityAnswer, ...]
    min_share: float = MIN_SHARE

    @property
    def name_hits(self) -> int:
        return sum(a.names_model for a in self.answers)

    @property
    def author_hits(self) -> int:
        return sum(a.names_author for a in self.answers)

    @property
    def needed(self) -> int:
        return math.ceil(self.min_share * len(self.answers) - 1e-9)

    @property
    def passed(self) -> bool:
        return bool(self.answers) and self.name_hits >= self.needed

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "questions": len(self.answers),
            "name_hits": self.name_hits,
            "author_hits": self.author_hits,
            "needed": self.needed,
            "min_share": self.min_share,
            "names": list(self.names),
            "authors": list(self.authors),
            "source": self.source,
            "checkpoint": self.checkpoint,
            "answers": [asdict(a) for a in self.answers],
        }


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(v) for v in items if v not in (None, ""))


def identity_names(args: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names, authors) from swift's model_name / model_author (a value or a zh/en pair)."""
    return _as_tuple(args.get("model_name")), _as_tuple(args.get("model_author"))


def wants_check(args: Mapping[str, Any]) -> bool:
    """A self-cognition run: the recipe sets model_name or model_author."""
    names, authors = identity_names(args)
    return bool(names or authors)


def mentions(text: str, words: Sequence[str]) -> bool:
    low = text.lower()
    return any(w.lower() in low for w in words if w)


def score(
    questions: Sequence[tuple[str, str | None]],
    responses: Sequence[str],
    *,
    names: Sequence[str],
    authors: Sequence[str],
    source: str,
    checkpoint: str,
    min_share: float = MIN_SHARE,
) -> IdentityCheck:
    """The check from (query, reference answer or None) pairs and the model's responses."""
    answers = tuple(
        IdentityAnswer(q, r, mentions(r, names), mentions(r, authors), ref)
        for (q, ref), r in zip(questions, responses, strict=True)
    )
    return IdentityCheck(tuple(names), tuple(authors), source, checkpoint, answers, min_share)


def _validation_files(run_dir: Path, args: Mapping[str, Any]) -> list[Path]:
    split = run_dir / "val_dataset.jsonl"
    if split.is_file():
        return [split]
    out = []
    for raw in _as_tuple(args.get("val_dataset")):
        spec = ds.parse_dataset_spec(raw, base_dir=run_dir)
        if spec.local_path is not None and spec.local_path.exists():
            out.append(spec.local_path)
    return out


def _swift_split(path: Path) -> list[list[dict]]:
    """swift's RUN/val_dataset.jsonl. swift 4.6 writes each message as a JSON string inside the
    messages list (its datasets rows, `HfDataset.to_list`, appended by `append_to_jsonl`); an
    object is taken as it is."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            messages = [json.loads(m) if isinstance(m, str) else m for m in row["messages"]]
        except (ValueError, KeyError, TypeError):
            continue
        if all(isinstance(m, dict) for m in messages):
            out.append(messages)
    return out


def identity_questions(
    run_dir: Path | None, args: Mapping[str, Any], names: Sequence[str], authors: Sequence[str]
) -> tuple[str, list[tuple[list[dict], str | None]]]:
    """(source, [(conversation up to the user's turn, reference answer)]) for the check."""
    words = [*names, *authors, *ds.PLACEHOLDERS]
    found: list[tuple[list[dict], str | None]] = []
    files = _validation_files(run_dir, args) if run_dir is not None else []
    for path in files:
        try:
            conversations = _swift_split(path) if path.name == "val_dataset.jsonl" else []
            conversations = conversations or read_messages(path)
        except SwiftkitError:
            continue
        for messages in conversations:
            if len(messages) < 2 or messages[-1].get("role") != "assistant":
                continue
            reference = str(messages[-1].get("content") or "")
            if mentions(reference, words):
                found.append(([dict(m) for m in messages[:-1]], reference))
    if found:
        shown = ", ".join(str(p) for p in files)
        return f"validation split ({shown})", found[:MAX_QUESTIONS]
    built_in = [([{"role": "user", "content": q}], None) for q in BUILTIN_QUESTIONS]
    return "built-in questions (the validation split holds no identity rows)", built_in


def run_check(
    target,
    *,
    names: Sequence[str] = (),
    authors: Sequence[str] = (),
    min_share: float = MIN_SHARE,
    max_new_tokens: int = 48,
    quiet: bool = True,
) -> IdentityCheck:
    """Ask the identity questions of `target` (an after.target.Target) and score the answers.

    names/authors default to the run's model_name/model_author. Raises RunDirError when there
    is no name to look for.
    """
    from swiftkit.after.infer import run_infer

    run_args = _run_args(target.run_dir) if target.run_dir else {}
    arg_names, arg_authors = identity_names({**target.args, **run_args})
    names, authors = tuple(names) or arg_names, tuple(authors) or arg_authors
    if not names and not authors:
        msg = (
            f"{target.run_dir or target.model}: the run sets neither model_name nor model_author,"
            " so there is no name to look for. Pass --name NAME (and --author AUTHOR)."
        )
        raise RunDirError(msg)
    source, rows = identity_questions(target.run_dir, run_args, names, authors)
    answers = run_infer(target, [c for c, _ in rows], max_new_tokens=max_new_tokens, quiet=quiet)
    questions = [(a.query, ref) for a, (_, ref) in zip(answers, rows, strict=True)]
    return score(
        questions,
        [a.response for a in answers],
        names=names,
        authors=authors,
        source=source,
        checkpoint=target.label,
        min_share=min_share,
    )


def _run_args(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / "args.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_check(run_dir: Path, check: IdentityCheck, *, seconds: float | None = None) -> Path:
    """RUN/swiftkit/check.json (a new check replaces the previous one: it is a result, not a
    run)."""
    folder = run_dir / PROVENANCE_DIR
    folder.mkdir(exist_ok=True)
    data = {
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "seconds": None if seconds is None else round(seconds, 2),
        **check.to_json(),
    }
    path = folder / CHECK_FILE
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
