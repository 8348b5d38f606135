"""`swiftkit infer`, `swiftkit export` and `swiftkit check`: after training.

Exit codes: 0 done, 1 swift's inference or export failed (or, with check --strict, the identity
check failed), 2 bad input (no such run, checkpoint or folder; an export folder that exists).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from swiftkit.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, err, out

INFER_HELP = """\
Talk to a trained model through ms-swift's inference entrypoint (swift.infer_main, transformers
backend), with the run's base model, template and system prompt, and the LoRA adapter when the
run trained one. RUN_OR_RECIPE is a run directory, a recipe (its newest finished run), a
checkpoint folder or a model folder such as a merged export. Greedy (temperature 0) by default.
Queries come from --query, else from stdin lines when stdin is not a terminal; on a terminal
with no --query it starts swift's interactive chat.

examples:
  swiftkit infer output/tiny_demo/v0-20261130-071500 --query "Who are you?"
  swiftkit infer tiny_demo --checkpoint last --query "你是谁？" --json
  printf 'Who are you?\\nWho made you?\\n' | swiftkit infer tiny_demo --json
"""

EXPORT_HELP = """\
Write a checkpoint to a new folder (never over an existing one) with the run's provenance
(swiftkit-export.json): with --merge-lora, ms-swift's export entrypoint merges the LoRA into
the base model (swift export --merge_lora true), and `swiftkit infer FOLDER` loads it with no
adapter; without it, the checkpoint's model files are copied, training state left out.
Default folder: CHECKPOINT-merged (swift's own name) or CHECKPOINT-export, beside it.

examples:
  swiftkit export output/tiny_demo/v0-20261130-071500 --merge-lora
  swiftkit export tiny_demo --checkpoint best --merge-lora --to models/tiny-swift
"""

CHECK_HELP = """\
The identity check of a self-cognition run: ask the identity questions of the validation split
(rows whose answer names the model or its author; a built-in English and Chinese set when
there are none) and count the answers that contain model_name and model_author. Passes when
at least 80% of the answers name the model. Writes RUN/swiftkit/check.json. `swiftkit train`
runs it by itself when the recipe sets model_name/model_author (unless --no-check).

examples:
  swiftkit check output/tiny_demo/v0-20261130-071500
  swiftkit check tiny_demo --json | jq .passed
  swiftkit check my_run_dir --name swift-robot --author swift --strict
"""


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_OR_RECIPE", help="run directory, recipe or model folder")
    p.add_argument(
        "--checkpoint",
        default="best",
        metavar="best|last|STEP",
        help="which checkpoint: best by eval_loss (the last when there was no evaluation), "
        "last, or a step number (default: best)",
    )


def add_parsers(sub) -> None:
    p = sub.add_parser("infer", help="talk to a trained model (ms-swift infer)",
                       description=INFER_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _target_args(p)
    p.add_argument("--query", action="append", default=[], metavar="TEXT",
                   help="a question (repeat for several)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one {query, response} per line")
    p.add_argument("--max-new-tokens", type=int, default=256, help="answer length cap (256)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--system", help="system prompt instead of the run's")
    p.add_argument("--verbose", action="store_true", help="show swift's own log lines")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("export", help="merge a LoRA into its base model, into a new folder",
                       description=EXPORT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _target_args(p)
    p.add_argument("--merge-lora", action="store_true", help="merge the adapter (swift export)")
    p.add_argument("--to", metavar="DIR", help="the new folder (must not exist)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--verbose", action="store_true", help="show swift's own log lines")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("check", help="did a self-cognition run learn its name?",
                       description=CHECK_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _target_args(p)
    p.add_argument("--name", action="append", default=[], help="name to look for (model_name)")
    p.add_argument("--author", action="append", default=[], help="author (model_author)")
    p.add_argument("--json", action="store_true", help="print check.json's content")
    p.add_argument("--strict", action="store_true", help="exit 1 when the check fails")
    p.add_argument("--verbose", action="store_true", help="show swift's own log lines")
    p.set_defaults(func=cmd_check)


def _queries(args) -> list[str] | None:
    """--query values, else stdin lines when stdin is not a terminal, else None (interactive)."""
    if args.query:
        return list(args.query)
    if sys.stdin is None or sys.stdin.isatty():
        return None
    return [line.strip() for line in sys.stdin if line.strip()]


def cmd_infer(args) -> int:
    from swiftkit.after.infer import run_infer, run_interactive
    from swiftkit.after.target import resolve_target

    if args.max_new_tokens < 1:
        err(f"--max-new-tokens must be at least 1 (got {args.max_new_tokens}).")
        return EXIT_BAD_INPUT
    target = resolve_target(args.run, args.checkpoint)
    queries = _queries(args)
    if queries == []:
        err("no questions: stdin held none. Pass --query TEXT, or lines on stdin.")
        return EXIT_BAD_INPUT
    err(f"model: {target.label} ({target.checkpoint or target.model})")
    if queries is None:
        if args.json:
            err("--json needs --query or questions on stdin (one per line).")
            return EXIT_BAD_INPUT
        err("interactive chat (ms-swift): type exit or quit to leave")
        run_interactive(target, max_new_tokens=args.max_new_tokens, temperature=args.temperature)
        return EXIT_OK
    answers = run_infer(
        target,
        queries,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        system=args.system,
        quiet=not args.verbose,
    )
    for a in answers:
        if args.json:
            out(json.dumps({"query": a.query, "response": a.response}, ensure_ascii=False))
        else:
            out(f"> {a.query}\n{a.response}\n")
    return EXIT_OK


def cmd_export(args) -> int:
    from pathlib import Path

    from swiftkit.after.export import export_model
    from swiftkit.after.target import resolve_target

    target = resolve_target(args.run, args.checkpoint)
    err(f"exporting {target.label} ({target.checkpoint or target.model}) ...")
    result = export_model(
        target,
        to=Path(args.to) if args.to else None,
        merge_lora=args.merge_lora,
        quiet=not args.verbose,
    )
    if args.json:
        data = {
            "out_dir": str(result.out_dir),
            "merged_lora": result.merged,
            "checkpoint": str(target.checkpoint) if target.checkpoint else None,
            "seconds": round(result.seconds, 2),
        }
        out(json.dumps(data, ensure_ascii=False))
        return EXIT_OK
    what = "merged model" if result.merged else "checkpoint files"
    out(f"{what} written to {result.out_dir} in {result.seconds:.1f}s")
    out(f"  provenance: {result.out_dir / 'swiftkit-export.json'}")
    out(f"  try it: python -m swiftkit infer {result.out_dir} --query 'Who are you?'")
    return EXIT_OK


def render_check(check, *, shown: int | None = None) -> list[str]:
    """The check as lines: the verdict, then the answers (all, or the first `shown`)."""
    n = len(check.answers)
    names = "/".join(check.names) or "-"
    authors = "/".join(check.authors) or "-"
    verdict = "passed" if check.passed else f"failed (needs {check.needed} of {n})"
    lines = [
        f"identity check ({check.checkpoint}; {check.source}): {verdict}",
        f"  {check.name_hits} of {n} answers name the model ({names}), "
        f"{check.author_hits} of {n} the author ({authors})",
    ]
    for a in check.answers[:shown]:
        mark = "+" if a.names_model else "-"
        lines.append(f"  {mark} {a.query!r} -> {a.response!r}")
    return lines


def cmd_check(args) -> int:
    from swiftkit.after.identity import run_check, write_check
    from swiftkit.after.target import resolve_target

    target = resolve_target(args.run, args.checkpoint)
    start = time.perf_counter()
    check = run_check(target, names=args.name, authors=args.author, quiet=not args.verbose)
    seconds = time.perf_counter() - start
    if target.run_dir is not None:
        path = write_check(target.run_dir, check, seconds=seconds)
        err(f"written to {path}")
    if args.json:
        out(json.dumps({**check.to_json(), "seconds": round(seconds, 2)}, ensure_ascii=False))
    else:
        out("\n".join(render_check(check)))
    return EXIT_FAILED if args.strict and not check.passed else EXIT_OK
