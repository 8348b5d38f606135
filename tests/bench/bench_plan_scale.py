"""`swiftkit plan --json` on large datasets: wall time and peak RSS, cold and cached.

Builds messages-format JSON Lines datasets with a fixed seed (about 330 tokens a row on the tiny
model's tokenizer; a share of rows with a system prompt, multi-turn rows, some Chinese; optionally a
long tail of rows up to ~15k tokens), writes a recipe for each, and runs `python -m swiftkit plan
RECIPE --json` in a fresh process: cold (empty length cache) and cached (the same plan again).
Peak RSS is the child's own (os.wait4 rusage). Tokenizers: the tiny model's local byte-level BPE,
a Qwen-like 64k byte-level BPE trained here on the same kind of text (`--qwen-like`), or none (the
model is a hub id with no local copy: byte bounds only).

    python tests/bench/bench_plan_scale.py                       # 10k and 100k rows
    python tests/bench/bench_plan_scale.py --rows 1000000 --max-length 2048
    python tests/bench/bench_plan_scale.py --rows 200000 --long-tail
    python tests/bench/bench_plan_scale.py --rows 100000 --tokenizer none
    python tests/bench/bench_plan_scale.py --json results.json   # also write the figures

Datasets and tokenizers are kept in --workdir (default /tmp/swiftkit-bench) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

COMMON_TEXT = (
    "the of and to a in is it you that he was for on are with as his they be at one have this "
    "from or had by hot word but what some we can out other were all there when up use your how "
    "said an each she which do their time if will way about many then them write would like so "
    "these her long make thing see him two has look more day could go come did number sound no "
    "most people my over know water than call first who may down side been now find any new work "
    "part take get place made live where after back little only round man year came show every "
    "good me give our under name very through just form sentence great think say help low line "
    "differ turn cause much mean before move right boy old too same tell does set three want air "
    "well also play small end put home read hand port large spell add even land here must big "
    "high such follow act why ask men change went light kind off need house picture try us again "
    "animal point mother world near build self earth father head stand own page should country "
    "found answer school grow study still learn plant cover food sun four between state keep eye "
    "never last let thought city tree cross farm hard start might story saw far sea draw left late "
    "run while press close night real life few north open seem together next white children begin "
    "got walk example ease paper group always music those both mark often letter until mile river "
    "car feet care second book carry took science eat room friend began idea fish mountain stop "
    "once base hear horse cut sure watch color face wood main enough plain girl usual young ready "
    "above ever red list though feel talk bird soon body dog family direct pose leave song measure "
    "model training gradient learning rate batch token dataset memory optimizer checkpoint loss "
    "function python code file error value result output input query response assistant user"
)
COMMON = COMMON_TEXT.split()
CHINESE_TEXT = "你好 世界 模型 训练 数据 学习 问题 回答 我们 今天 天气 城市 因为 所以 可以 没有"
CHINESE = CHINESE_TEXT.split()
SYSTEMS = (
    "You are a helpful assistant.",
    "You are a careful teacher. Explain every step.",
    "你是一个乐于助人的助手。",
    "Answer briefly and precisely.",
)
TOKENS_PER_ROW = 330


def vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Common words plus invented ones, with Zipf weights (rank^-1.1)."""
    syllables = ["ka", "lo", "mi", "ter", "son", "ra", "vel", "di", "pra", "nu", "sh", "en", "tion"]
    invented = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(6000)}
    words = COMMON + sorted(invented - set(COMMON))
    return words, [1 / (i + 1) ** 1.1 for i in range(len(words))]


def make_text(rng, words, weights, n_words: int, chinese: bool) -> str:
    picked = rng.choices(words, weights, k=n_words)
    if chinese:
        picked = [rng.choice(CHINESE) if rng.random() < 0.4 else w for w in picked]
    out, sentence = [], []
    for w in picked:
        sentence.append(w)
        if len(sentence) > rng.randint(6, 18):
            out.append(" ".join(sentence).capitalize() + rng.choice(".?!,"))
            sentence = []
    out.append(" ".join(sentence))
    return " ".join(out).strip()


def make_row(rng, words, weights, tokens: int, words_per_token: float) -> dict:
    """One messages row of about `tokens` tokens (template included)."""
    chinese = rng.random() < 0.1
    budget = max(int((tokens - 30) * words_per_token), 4)
    messages = []
    if rng.random() < 0.3:
        messages.append({"role": "system", "content": rng.choice(SYSTEMS)})
    rounds = 1 if rng.random() < 0.8 else rng.randint(2, 3)
    for _ in range(rounds):
        share = budget // rounds
        query = max(int(share * rng.uniform(0.1, 0.3)), 2)
        messages.append({"role": "user", "content": make_text(rng, words, weights, query, chinese)})
        reply = make_text(rng, words, weights, max(share - query, 2), chinese)
        messages.append({"role": "assistant", "content": reply})
    return {"messages": messages}


def build_dataset(path: Path, rows: int, *, long_tail: bool, seed: int = 0) -> Path:
    if path.exists():
        return path
    rng = random.Random(seed)
    words, weights = vocabulary(rng)
    wpt = words_per_token(words, weights)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for i in range(rows):
            if long_tail and rng.random() < 0.12:
                tokens = int(2 ** rng.uniform(11, 13.9))  # 2k to ~15k tokens
            else:
                tokens = max(40, min(int(rng.gauss(TOKENS_PER_ROW, 90)), 900))
            row = make_row(rng, words, weights, tokens, wpt)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i and i % 100_000 == 0:
                print(f"  {path.name}: {i:,} rows", file=sys.stderr)
    tmp.rename(path)
    return path


def words_per_token(words, weights) -> float:
    """Calibrated once on the tiny tokenizer, so rows come out near TOKENS_PER_ROW."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tiny_model() / "tokenizer.json"))
    rng = random.Random(1)
    texts = [make_text(rng, words, weights, 200, rng.random() < 0.1) for _ in range(200)]
    return 200 * len(texts) / sum(len(e) for e in tok.encode_batch(texts))


def tiny_model() -> Path:
    from swiftkit.tiny import DEFAULT_TINY_DIR, build_tiny_model, is_tiny_build

    path = REPO / DEFAULT_TINY_DIR
    return path if is_tiny_build(path) else build_tiny_model(path)


def qwen_like_model(workdir: Path) -> Path:
    """The tiny model's folder with a 64k-token byte-level BPE (Qwen's pre-tokenizer and special
    tokens) trained on this script's text instead of the tiny 4k one."""
    out = workdir / "qwen-like"
    if (out / "tokenizer.json").exists():
        return out
    import shutil

    from swiftkit.tiny.tokenizer import save_tokenizer, train_byte_level_bpe

    shutil.copytree(tiny_model(), out, dirs_exist_ok=True)
    rng = random.Random(2)
    words, weights = vocabulary(rng)
    corpus = [make_text(rng, words, weights, 300, rng.random() < 0.1) for _ in range(20000)]
    tok = train_byte_level_bpe(corpus, 65536)
    save_tokenizer(tok, out)
    return out


def write_recipe(workdir: Path, data: Path, model: str, max_length: int) -> Path:
    recipe = workdir / f"{data.stem}-{Path(model).name}-{max_length}.yaml"
    recipe.write_text(
        f"model: {model}\ndataset: {data}\nmax_length: {max_length}\nsplit_dataset_ratio: 0.01\n"
        f"output_dir: {workdir / 'out'}\ntorch_dtype: float32\n",
        encoding="utf-8",
    )
    return recipe


def run_plan(recipe: Path, cache: Path) -> tuple[float, float, int, dict]:
    """(wall seconds, CPU seconds, peak RSS bytes, plan JSON) of one `plan --json` in a fresh
    process. CPU (user + system, all threads) is what the run cost; wall also counts waiting
    for cores other processes hold."""
    env = {**os.environ, "SWIFTKIT_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "swiftkit", "plan", str(recipe), "--json", "--gpu", "4090D"]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    plan = json.loads(out) if out.strip() else {}
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, plan


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--long-tail", action="store_true", help="12%% rows of 2k-15k tokens")
    p.add_argument("--max-length", type=int, nargs="+", default=[2048])
    p.add_argument("--tokenizer", choices=("tiny", "qwen-like", "none"), nargs="+",
                   default=["tiny"])  # fmt: skip
    p.add_argument("--workdir", type=Path, default=Path("/tmp/swiftkit-bench"))
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in args.rows:
        name = f"rows{rows}{'-longtail' if args.long_tail else ''}.jsonl"
        data = build_dataset(args.workdir / name, rows, long_tail=args.long_tail)
        for tokenizer in args.tokenizer:
            model = {
                "tiny": lambda: str(tiny_model()),
                "qwen-like": lambda: str(qwen_like_model(args.workdir)),
                "none": lambda: "Qwen/Qwen2.5-7B-Instruct",
            }[tokenizer]()
            for max_length in args.max_length:
                recipe = write_recipe(args.workdir, data, model, max_length)
                cache = args.workdir / f"cache-{time.monotonic_ns()}"
                for phase in ("cold", "cached"):
                    load = os.getloadavg()[0]
                    wall, cpu, rss, plan = run_plan(recipe, cache)
                    tl = plan.get("token_lengths") or {}
                    row = {
                        "rows": rows, "long_tail": args.long_tail, "tokenizer": tokenizer,
                        "max_length": max_length, "phase": phase, "wall_s": round(wall, 2),
                        "cpu_s": round(cpu, 2), "load_before": round(load, 1),
                        "peak_rss_mib": round(rss / 2**20), "train_rows": plan.get("train_rows"),
                        "val_rows": plan.get("val_rows"),
                        "rows_tokenized": tl.get("rows_tokenized"),
                        "p50": tl.get("p50"), "p99": tl.get("p99"), "max": tl.get("max"),
                        "dropped": tl.get("dropped_at_max_length"), "errors": plan.get("errors"),
                    }  # fmt: skip
                    results.append(row)
                    print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
