"""The tiny local chat models that tests and the demo train with the real ms-swift on CPU: a
random-weight Qwen2 (tests) or a briefly pretrained one (the demo), and a locally trained
tokenizer. Nothing is downloaded."""

from swiftkit.tiny.build import (
    BUILD_VERSION,
    DEFAULT_TINY_DIR,
    DEMO,
    DEMO_TINY_DIR,
    MARKER_FILE,
    build_tiny_model,
    is_tiny_build,
)

__all__ = [
    "BUILD_VERSION",
    "DEFAULT_TINY_DIR",
    "DEMO",
    "DEMO_TINY_DIR",
    "MARKER_FILE",
    "build_tiny_model",
    "is_tiny_build",
]
