"""The error types swiftkit raises. Only cli.py catches them and picks exit codes."""

from __future__ import annotations


class SwiftkitError(Exception):
    """Base class: a problem the user can fix. Its message is shown as-is, never a traceback."""

    exit_code = 2

    def __init__(self, message: str, problems: tuple[str, ...] = ()):
        super().__init__(message)
        self.problems = problems or (message,)


class RecipeError(SwiftkitError):
    """The recipe file, its overrides or its values are wrong."""


class DatasetError(SwiftkitError):
    """A dataset named by the recipe is missing, unreadable or holds rows swift cannot use."""


class HardwareError(SwiftkitError):
    """The machine cannot run the recipe (no GPU for a GPU recipe, will not fit)."""

    exit_code = 3


class LaunchError(SwiftkitError):
    """Training could not be started or failed."""

    exit_code = 1


class OutOfMemoryError(LaunchError):
    """Training died of CUDA out-of-memory (torch.OutOfMemoryError)."""

    exit_code = 4

    @property
    def reason(self) -> str:
        return str(self).splitlines()[0]


class RunDirError(SwiftkitError):
    """A run directory is missing, or a directory is not a run."""


class ValidationError(SwiftkitError):
    """Several problems found together; each is one line of `problems`."""

    @classmethod
    def from_problems(cls, problems: list[str]) -> ValidationError:
        n = len(problems)
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        return cls("\n".join([head, *(f"  - {p}" for p in problems)]), tuple(problems))
