"""`swiftkit ls`, `swiftkit flags` and `swiftkit gpus`: what there is to choose from."""

from __future__ import annotations

from swiftkit.cli.common import EXIT_BAD_INPUT, EXIT_OK, err, out


def add_ls_parser(sub) -> None:
    p = sub.add_parser(
        "ls",
        help="list recipes",
        description="List the recipes in ./recipes: model, tuner and effective batch.",
    )
    p.set_defaults(func=cmd_ls)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "flags",
        help="list swift sft flags (type, default, choices)",
        description="List swift sft's flags with type, default and choices. "
        "Example: swiftkit flags lora",
    )
    p.add_argument("pattern", nargs="?", help="only flags whose name contains this")
    p.set_defaults(func=cmd_flags)

    p = sub.add_parser(
        "gpus",
        help="list the GPUs swiftkit knows, and the detected ones",
        description="List the cards --gpu accepts (memory, bf16) and the GPUs found on this "
        "machine. Example: swiftkit plan qwen7b_selfcog --gpu 4090D",
    )
    p.set_defaults(func=cmd_gpus)


def cmd_ls(args) -> int:
    from swiftkit.recipe.listing import list_recipes

    rows = list_recipes()
    if not rows:
        err("no recipes in ./recipes. Run swiftkit from the project folder.")
        return EXIT_BAD_INPUT
    width = max(len(r.name) for r in rows)
    for r in rows:
        out(f"{r.name:<{width}}  {r.model}  {r.tuner}  effective batch {r.effective_batch}")
    return EXIT_OK


def cmd_flags(args) -> int:
    from swiftkit.recipe.flags import load_schema

    schema = load_schema()
    needle = (args.pattern or "").lower()
    shown = 0
    for name, flag in sorted(schema.flags.items()):
        if needle and needle not in name:
            continue
        choices = f"  one of: {', '.join(map(str, flag.choices))}" if flag.choices else ""
        out(f"{name}  ({flag.kind}, default {flag.default!r}){choices}")
        shown += 1
    if needle and not shown:
        err(f"no swift sft flag contains {args.pattern!r}.")
        return EXIT_BAD_INPUT
    return EXIT_OK


def cmd_gpus(args) -> int:
    from swiftkit.memory.gpus import CARDS, card_throughput
    from swiftkit.memory.hardware import detect_gpus

    for card in detect_gpus():
        out(f"detected: {card.name}  {card.total_bytes / 2**30:.1f} GiB")
    for card in CARDS:
        names = ", ".join(card.aliases)
        bf16 = "bf16" if card.bf16 else "no bf16"
        t = card_throughput(card)
        speed = f"  {t.bf16_tflops:g} TFLOP/s dense, {t.memory_gbps:g} GB/s" if t else ""
        out(f"{card.name}  {card.total_bytes / 2**30:.1f} GiB  {bf16}{speed}  (--gpu {names})")
    return EXIT_OK
