"""A fresh project folder holding the tiny demo (recipe, datasets, the demo's model), and
`swiftkit` run in it as a user would: what the demo benchmarks train in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def demo_project(prefix: str) -> Path:
    """Build the demo's model once (kept under REPO/.cache), then a temporary folder with
    recipes/tiny_demo.yaml, a copy of datasets/ and a link to the model."""
    build = "from swiftkit.tiny import *; build_tiny_model(DEMO_TINY_DIR, preset=DEMO)"
    subprocess.run([sys.executable, "-c", build], cwd=REPO, check=True)
    project = Path(tempfile.mkdtemp(prefix=prefix))
    (project / "recipes").mkdir()
    shutil.copy(REPO / "recipes" / "tiny_demo.yaml", project / "recipes")
    shutil.copytree(REPO / "datasets", project / "datasets")
    (project / ".cache").mkdir()
    (project / ".cache" / "tiny-demo").symlink_to(REPO / ".cache" / "tiny-demo")
    return project


def swiftkit(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m swiftkit ARGS` in `project`, offline, output captured."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "swiftkit", *args], cwd=project, env=env,
                          check=check, capture_output=True, text=True)  # fmt: skip
