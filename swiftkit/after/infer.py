"""Talking to a trained model through ms-swift's own inference entrypoint, `swift.infer_main`.

The queries go to swift as a validation dataset (`--val_dataset`, one `messages` row each), so
swift's `infer_dataset` path runs them with the run's template and system prompt and returns
one result per row ({messages, response, ...}, swift/pipelines/infer/infer.py
`SwiftInfer._batch_infer`); the answers are read from that list, never from stdout. Greedy by
default: `--temperature 0` makes swift set do_sample=False (swift/infer_engine/utils.py
`prepare_generation_config`). The transformers backend (swift 3's `pt`, which 4.x renames:
InferArguments.__post_init__). swift is imported lazily, inside the functions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from swiftkit.after.target import Target
from swiftkit.errors import SwiftkitError

DEFAULT_MAX_NEW_TOKENS = 256
BACKEND = "transformers"


class InferenceError(SwiftkitError):
    """swift's inference or export entrypoint failed (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Answer:
    query: str  # the last user message
    response: str


def generation_args(
    *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.0
) -> list[str]:
    return [
        "--infer_backend", BACKEND,
        "--temperature", f"{temperature:g}",
        "--max_new_tokens", str(max_new_tokens),
        "--max_batch_size", "1",
    ]  # fmt: skip


def infer_argv(
    target: Target,
    queries_path: Path,
    result_path: Path,
    *,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    system: str | None = None,
) -> list[str]:
    """The `swift infer` argument list for a file of queries (swift InferArguments flags)."""
    argv = [*target.swift_args(), "--val_dataset", str(queries_path)]
    argv += ["--result_path", str(result_path), "--stream", "false"]
    argv += generation_args(max_new_tokens=max_new_tokens, temperature=temperature)
    if system is not None:
        argv += ["--system", system]
    return argv


def as_conversation(query: str | Sequence[dict]) -> list[dict]:
    """A query string becomes one user message; a message list is passed as it is."""
    if isinstance(query, str):
        return [{"role": "user", "content": query}]
    return [dict(m) for m in query]


def _last_user(messages: Sequence[dict]) -> str:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    return str(users[-1]) if users else ""


@contextlib.contextmanager
def swift_quiet(quiet: bool, *, redirect: bool = True) -> Iterator[None]:
    """swift's prints go to stderr (stdout is for our --json); with quiet, only its errors are
    logged (swift's logger is set up on first use, swift/utils/logger.py get_logger, so it is
    created before its level is lowered)."""
    from swift.utils import get_logger

    loggers = [get_logger(), logging.getLogger("transformers")]
    levels = [lg.level for lg in loggers]
    if quiet:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(sys.stderr) if redirect else contextlib.nullcontext():
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def call_swift(entry: str, argv: list[str], *, quiet: bool = True, redirect: bool = True):
    """Run swift.<entry>(argv) in this process; its failure becomes an InferenceError."""
    import swift

    try:
        with swift_quiet(quiet, redirect=redirect):
            return getattr(swift, entry)(argv)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        msg = f"swift {entry} failed: {type(e).__name__}: {e}"
        raise InferenceError(msg) from e


def run_infer(
    target: Target,
    queries: Sequence[str | Sequence[dict]],
    *,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    system: str | None = None,
    quiet: bool = True,
) -> list[Answer]:
    """One answer per query, in order. A query is a string or a message list ending with the
    user's turn (a system message in it replaces the run's system prompt)."""
    conversations = [as_conversation(q) for q in queries]
    if not conversations:
        return []
    with tempfile.TemporaryDirectory(prefix="swiftkit-infer-") as tmp:
        queries_path = Path(tmp) / "queries.jsonl"
        with queries_path.open("w", encoding="utf-8") as f:
            for conv in conversations:
                f.write(json.dumps({"messages": conv}, ensure_ascii=False) + "\n")
        argv = infer_argv(
            target,
            queries_path,
            Path(tmp) / "result.jsonl",
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            system=system,
        )
        results = call_swift("infer_main", argv, quiet=quiet) or []
    return _answers(conversations, results)


def _answers(conversations: list[list[dict]], results: list[dict]) -> list[Answer]:
    """Results come back in dataset order (val_dataset_shuffle is false by default); matched by
    the query text as well, so a reordering cannot pair a question with another's answer."""
    by_query: dict[str, list[str]] = {}
    for r in results:
        query = _last_user(r.get("messages") or [])
        by_query.setdefault(query, []).append(str(r.get("response") or ""))
    out = []
    for conv in conversations:
        query = _last_user(conv)
        found = by_query.get(query)
        if not found:
            msg = f"swift infer returned no answer for {query!r} ({len(results)} results)."
            raise InferenceError(msg)
        out.append(Answer(query, found.pop(0)))
    return out


def run_interactive(
    target: Target, *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.0
) -> None:
    """swift's own chat loop on the terminal (no dataset: swift sets eval_human and streams)."""
    argv = [*target.swift_args(), *generation_args(max_new_tokens=max_new_tokens,
                                                    temperature=temperature)]  # fmt: skip
    call_swift("infer_main", argv, quiet=True, redirect=False)
