"""The demo's base model: the tiny Qwen2 layout, pretrained for a few seconds on CPU on
swiftkit.tiny.demo_corpus, so that the demo's LoRA has a language model to adapt.

Why pretrain: LoRA trains low-rank updates of the linear layers and leaves the embeddings
frozen. On random weights the frozen embeddings cannot be steered to new answers in any useful
number of steps (measured: a LoRA of rank 8-64 on the random model stays at a loss of 7-8, the
unigram level, after 150-200 updates, while full fine-tuning reaches 1.7). A real run adapts a
pretrained model, so the demo does too: its base answers "I am Qwen, created by Alibaba Cloud",
the identity its chat template claims, and the demo's LoRA teaches it a new one.

torch and transformers are imported inside the functions only.
"""

from __future__ import annotations

import math
import random

from swiftkit.tiny.demo_corpus import pretraining_pairs
from swiftkit.tiny.tokenizer import ENDOFTEXT, IM_END, IM_START, QWEN2_5_DEFAULT_SYSTEM

# Small enough for a 2-core CPU: 2 layers, hidden 64 (the test model's shape), 0.34M parameters.
DEMO_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
# Full fine-tuning of every weight, batch 8, AdamW with a cosine schedule: about 15 s of one
# core. Fewer steps leave the names' embeddings too weak for the demo's LoRA to make likely
# (measured at 200 steps: the new Chinese name at probability 0.07 after training, 0.2-0.44
# at 300; 7-8 of 8 held-out questions answered with the new name over three build seeds).
PRETRAIN_STEPS = 300
PRETRAIN_BATCH = 8
PRETRAIN_LR = 3e-3
_SYSTEMS = ("You are a helpful assistant.", QWEN2_5_DEFAULT_SYSTEM)


def chat_ids(tokenizer, system: str, user: str, assistant: str) -> tuple[list[int], list[int]]:
    """Token ids of one turn as swift's qwen2_5 template lays it out, and the labels (-100 on
    everything but the answer and the `<|im_end|>\n` after it, as swift trains: its template's
    suffix, swift/template/templates/utils.py ChatmlTemplateMeta)."""
    prompt = (
        f"{IM_START}system\n{system}{IM_END}\n{IM_START}user\n{user}{IM_END}\n{IM_START}assistant\n"
    )
    prompt_ids = tokenizer.encode(prompt).ids
    answer_ids = tokenizer.encode(f"{assistant}{IM_END}\n").ids
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def pretrain(model, tokenizer, *, seed: int) -> list[float]:
    """Train every weight of `model` in place on the demo corpus; return the loss per step.

    One torch thread and seeded sampling: the same seed gives the same weights.
    """
    import torch

    rng = random.Random(seed)
    pad = tokenizer.token_to_id(ENDOFTEXT)
    turns = [chat_ids(tokenizer, rng.choice(_SYSTEMS), q, a) for q, a in pretraining_pairs()]
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=PRETRAIN_LR, betas=(0.9, 0.95), weight_decay=0.1
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    losses = []
    model.train()
    try:
        for step in range(PRETRAIN_STEPS):
            batch = rng.sample(turns, PRETRAIN_BATCH)
            width = max(len(ids) for ids, _ in batch)
            ids = torch.tensor([x + [pad] * (width - len(x)) for x, _ in batch])
            labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch])
            for group in optimizer.param_groups:
                group["lr"] = PRETRAIN_LR * 0.5 * (1 + math.cos(math.pi * step / PRETRAIN_STEPS))
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return losses
