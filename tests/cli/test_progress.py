"""The progress bar for long dataset reads: only on a terminal, only after the delay, never on
stdout (so `plan --json` stays one JSON object)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from swiftkit.cli.progress import PlanProgress

REPO = Path(__file__).resolve().parents[2]


def test_nothing_is_drawn_off_a_terminal():
    stream = io.StringIO()
    progress = PlanProgress(stream, delay=0)
    progress("reading rows.jsonl", 10, 100)
    progress.close()
    assert stream.getvalue() == ""


def test_nothing_is_drawn_before_the_delay():
    stream = io.StringIO()
    progress = PlanProgress(stream, delay=60, force=True)
    progress("reading rows.jsonl", 10, 100)
    progress.close()
    assert stream.getvalue() == ""


def test_a_bar_on_a_terminal_after_the_delay():
    stream = io.StringIO()
    progress = PlanProgress(stream, delay=0, force=True)
    progress("reading rows.jsonl", 3 << 20, 8 << 20)
    progress("tokenizing", 1234, None)
    progress.close()
    text = stream.getvalue()
    assert "reading rows.jsonl" in text and "3/8 MiB" in text and "1,234 rows" in text


def test_plan_json_stdout_is_one_object_and_stderr_has_no_bar(tmp_path):
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    (tmp_path / "d.jsonl").write_text((json.dumps(row) + "\n") * 50, "utf-8")
    (tmp_path / "r.yaml").write_text(f"model: m\ndataset: {tmp_path / 'd.jsonl'}\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "swiftkit", "plan", str(tmp_path / "r.yaml"), "--json"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["token_lengths"]["rows"] == 50
    assert plan["token_lengths"]["source"] == "bytes"
    assert "reading" not in done.stderr and "\x1b[" not in done.stderr
