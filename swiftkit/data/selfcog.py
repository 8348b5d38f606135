"""Which `--dataset` values get swift's {{NAME}}/{{AUTHOR}} filling from model_name/model_author.

ms-swift 4.6 fills them only through SelfCognitionPreprocessor (swift/dataset/dataset/llm.py:884),
the preprocessor of the subsets of its registered self-cognition dataset (llm.py:914-928:
ms swift/self-cognition, hf modelscope/self-cognition; subsets default, qwen3, empty_think).
load_dataset hands model_name/model_author to it (swift/dataset/loader.py:191-215,
init_self_cognition_preprocessor). A spec reaches that dataset when (loader.py:362-369,
dataset_syntax.py DatasetSyntax.get_dataset_meta):

- its name is the registered name `self-cognition`, or
- it is not a file and its last path part is exactly `self-cognition` (get_dataset_name: any
  `org/self-cognition` on either hub, `hf::`/`ms::` prefixes, a local folder of that name);

and a selected subset is one of those (`_select_subsets`, loader.py:145-161: none given means
`default`, `all` means all three; a subset swift does not know gets a plain preprocessor).
"""

from __future__ import annotations

from pathlib import Path

SELF_COGNITION_NAME = "self-cognition"
SELF_COGNITION_SUBSETS = ("default", "qwen3", "empty_think")


def is_self_cognition(path_or_id: str, local_path: Path | None) -> bool:
    """The spec names swift's registered self-cognition dataset (a local file never does)."""
    if local_path is not None and local_path.is_file():
        return False
    name = path_or_id.strip().rstrip("/").rsplit("/", 1)[-1]
    return name == SELF_COGNITION_NAME


def selected_subsets(subset: str | None) -> list[str]:
    """The subsets swift loads for `:a/b` (DatasetSyntax.parse splits on '/')."""
    if not subset:
        return ["default"]
    names = [s.strip() for s in subset.split("/")]
    return list(SELF_COGNITION_SUBSETS) if names == ["all"] else names


def unknown_subsets(subset: str | None) -> list[str]:
    """Selected subsets that are not swift's self-cognition subsets: swift fills nothing there."""
    return [s for s in selected_subsets(subset) if s not in SELF_COGNITION_SUBSETS]


def swift_fills(path_or_id: str, subset: str | None, local_path: Path | None) -> bool:
    """model_name/model_author fill {{NAME}}/{{AUTHOR}} in (part of) this dataset."""
    if not is_self_cognition(path_or_id, local_path):
        return False
    return any(s in SELF_COGNITION_SUBSETS for s in selected_subsets(subset))
