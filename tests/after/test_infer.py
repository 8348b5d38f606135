"""The swift infer/export argument lists (checked with swift's own parsers) and the pairing of
swift's results with the questions asked."""

from pathlib import Path

import pytest

from swiftkit.after.export import default_export_dir, export_argv
from swiftkit.after.infer import InferenceError, _answers, as_conversation, infer_argv
from swiftkit.after.target import Target

LORA = Target(
    label="checkpoint-50",
    model="/p/.cache/tiny-demo",
    adapters=(Path("/p/output/run/checkpoint-50"),),
    run_dir=Path("/p/output/run"),
    checkpoint=Path("/p/output/run/checkpoint-50"),
    args={},
)


def swift_parser(cls_name: str):
    """swift's own parser for InferArguments or ExportArguments, as swift.utils.parse_args
    builds it (argparse only: no __post_init__, nothing loaded)."""
    import swift
    from swift.utils.utils import _patch_get_type_hints
    from transformers import HfArgumentParser

    with _patch_get_type_hints():
        return HfArgumentParser([getattr(swift, cls_name)])


@pytest.mark.slow
def test_infer_argv_is_greedy_transformers_on_the_adapter_and_parses_with_swift():
    argv = infer_argv(LORA, Path("/t/q.jsonl"), Path("/t/r.jsonl"), max_new_tokens=64)
    ns, rest = swift_parser("InferArguments").parse_known_args(argv)
    assert rest == []
    assert ns.adapters == ["/p/output/run/checkpoint-50"] and ns.model == "/p/.cache/tiny-demo"
    assert ns.val_dataset == ["/t/q.jsonl"] and ns.result_path == "/t/r.jsonl"
    assert (ns.infer_backend, ns.temperature, ns.max_new_tokens) == ("transformers", 0.0, 64)
    assert ns.stream is False and ns.max_batch_size == 1
    system = infer_argv(LORA, Path("q"), Path("r"), system="Be brief.")
    assert swift_parser("InferArguments").parse_known_args(system)[0].system == "Be brief."
    ns, rest = swift_parser("ExportArguments").parse_known_args(export_argv(LORA, Path("/o")))
    assert rest == [] and ns.merge_lora is True and ns.output_dir == "/o"


def test_default_export_folder_is_swifts_name_beside_the_checkpoint():
    assert default_export_dir(LORA, True) == Path("/p/output/run/checkpoint-50-merged")
    assert default_export_dir(LORA, False) == Path("/p/output/run/checkpoint-50-export")


def test_answers_pair_by_question_whatever_order_swift_returns():
    convs = [as_conversation("Who are you?"), as_conversation("你是谁？")]
    results = [
        {"messages": [{"role": "user", "content": "你是谁？"}], "response": "我是小雨燕。"},
        {"messages": [{"role": "user", "content": "Who are you?"}], "response": "tiny-swift"},
    ]
    answers = _answers(convs, results)
    assert [(a.query, a.response) for a in answers] == [
        ("Who are you?", "tiny-swift"),
        ("你是谁？", "我是小雨燕。"),
    ]
    with pytest.raises(InferenceError) as e:
        _answers([as_conversation("Hi?")], results)
    assert str(e.value) == "swift infer returned no answer for 'Hi?' (2 results)."


def test_a_message_list_is_passed_as_it_is():
    convo = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert as_conversation(convo) == convo
    assert as_conversation("q") == [{"role": "user", "content": "q"}]
