"""The `swiftkit` command: wires each subcommand's parser and maps errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from swiftkit.cli import after, catalog, check, compare, sbatch, status, sweep, train
from swiftkit.cli.common import EXIT_INTERRUPTED, EXIT_OK, Parser, err
from swiftkit.errors import SwiftkitError

DESCRIPTION = """\
Check, plan and launch ms-swift 4.6 fine-tuning runs from YAML recipes, before a GPU is touched:
renamed flags, the real number of optimizer updates, placeholders --model_name will not fill in a
local dataset, and whether the run fits in GPU memory.

examples:
  swiftkit ls                                  recipes in ./recipes
  swiftkit plan qwen7b_selfcog --gpu 4090D     what the run does, and whether it fits
  swiftkit train qwen7b_selfcog                the same checks, then ms-swift trains
  swiftkit sbatch qwen7b_selfcog --nodes 2 --gpus-per-node 8   a SLURM script for 2 nodes
  swiftkit sweep tiny_demo gradient_accumulation_steps=2,4   train variants, rank by eval_loss
  swiftkit status                              the newest run: progress, loss, memory
  swiftkit infer tiny_demo --query "Who are you?"   talk to the trained model
  swiftkit export tiny_demo --merge-lora       merge the LoRA into a new model folder
  swiftkit demo                                train a tiny local model on CPU

exit codes: 0 done, 1 training failed, 2 bad input, 3 will not fit or needs a GPU,
130 interrupted (Ctrl-C), 143 stopped by SIGTERM (a checkpoint was saved).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="swiftkit",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    catalog.add_ls_parser(sub)  # the order of `swiftkit --help`
    for module in (check, catalog, train, sweep, sbatch, status, compare, after):
        module.add_parsers(sub)
    return parser


def _version() -> str:
    from swiftkit import __version__

    return f"swiftkit {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may also follow options (`plan r --gpu T4 max_length=4096`): argparse stops
    # filling a nargs="*" positional at the first option, so take the rest back here.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any(w.startswith("-") for w in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    try:
        return args.func(args)
    except SwiftkitError as e:
        err(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (head, grep -q) went away: not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
