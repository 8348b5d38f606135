"""Reading recipe files: lines, duplicates, syntax errors, unsafe tags, overrides."""

import pytest

from swiftkit.errors import RecipeError
from swiftkit.recipe.yamlfile import parse_override, read_yaml_mapping


def write(tmp_path, text, name="r.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_lines_of_top_level_keys(tmp_path):
    doc = read_yaml_mapping(write(tmp_path, "# c\nmodel: m\n\nlearning_rate: 1.0e-4\n"))
    assert doc.values == {"model": "m", "learning_rate": 1e-4}
    assert doc.lines == {"model": 2, "learning_rate": 4}


def test_duplicate_keys_are_all_reported_and_the_last_wins_as_in_swift(tmp_path):
    """Reported with the other checks, not instead of them; the values are what swift's
    yaml.safe_load (swift/cli/main.py parse_yaml_args) reads: the last of each key."""
    import yaml

    text = "a: 1\nb: 2\na: 3\nenv:\n  X: 1\n  X: 2\n"
    doc = read_yaml_mapping(write(tmp_path, text))
    path = tmp_path / "r.yaml"
    assert doc.problems == (
        f"{path}:3: a is set twice (first on line 1). Keep one of them.",
        f"{path}:6: X is set twice (first on line 5). Keep one of them.",
    )
    assert doc.values == yaml.safe_load(text) == {"a": 3, "b": 2, "env": {"X": 2}}
    assert doc.lines == {"a": 3, "b": 2, "env": 4}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{p}: the recipe is empty. Add swift sft flags such as model: and dataset:."),
        (
            "- a\n- b\n",
            "{p}:1: the top level must be a mapping of swift sft flags (got a list). "
            "Write one `flag: value` per line.",
        ),
        (
            "just text\n",
            "{p}:1: the top level must be a mapping of swift sft flags "
            "(got a single value). Write one `flag: value` per line.",
        ),
    ],
)
def test_not_a_mapping(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RecipeError) as e:
        read_yaml_mapping(path)
    assert str(e.value) == message.format(p=path)


def test_tab_indentation_names_line_and_fix(tmp_path):
    path = write(tmp_path, "model: m\nenv:\n\tX: 1\n")
    with pytest.raises(RecipeError) as e:
        read_yaml_mapping(path)
    assert str(e.value).startswith(f"{path}:3: invalid YAML: ")
    assert str(e.value).endswith("YAML indents with spaces, not tabs: replace the tab with spaces.")


def test_python_tags_are_refused(tmp_path):
    path = write(tmp_path, "model: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(RecipeError) as e:
        read_yaml_mapping(path)
    assert str(e.value).startswith(f"{path}:1: invalid YAML: ")
    assert str(e.value).endswith("Recipes are plain data: remove the !!python tag.")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(RecipeError) as e:
        read_yaml_mapping(path)
    assert str(e.value) == f"{path}: file not found. Check the path, or run python -m swiftkit ls."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("learning_rate=2e-4", ("learning_rate", "2e-4")),  # YAML 1.1: typed later by the flag
        ("num_train_epochs=3", ("num_train_epochs", 3)),
        ("system=You are x", ("system", "You are x")),
        ("target_modules=[q_proj, v_proj]", ("target_modules", ["q_proj", "v_proj"])),
        ("model_name=null", ("model_name", None)),
        ("a=b=c", ("a", "b=c")),
    ],
)
def test_override_values_are_typed_like_yaml(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k=", "override 'k=' has no value after '='. Write k=VALUE (or k=null to unset it)."),
        ("=v", "override '=v' has no key before '='. Write key=value, e.g. num_train_epochs=3."),
        ("k", "override 'k' has no '='. Write key=value, e.g. learning_rate=2e-4."),
    ],
)
def test_malformed_overrides(text, message):
    with pytest.raises(RecipeError) as e:
        parse_override(text)
    assert str(e.value) == message
