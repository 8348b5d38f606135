"""Flags that `swift sft` no longer accepts under their old names: renamed ones and removed ones,
with what to write instead. Written into sft_flags.json by flags_capture, read through the schema.

Each entry names the ms-swift (or transformers) source it comes from.
"""

from __future__ import annotations

# Flags renamed between ms-swift 3.x (3.12.6, transformers<4.58) and 4.6 (transformers 5.19):
# the old name is gone from the 4.6 parser and its meaning lives on under the new one.
RENAMES = {
    # ms-swift 3.12.6 swift/llm/argument/base_args/base_args.py BaseArguments.train_type became
    # 4.x swift/arguments/base_args/base_args.py BaseArguments.tuner_type (same docstring and
    # choices). 4.0 kept an alias; 4.1 dropped it: `--train_type lora` fails with remaining_argv.
    "train_type": "tuner_type",
    # 3.12.6 swift/trainers/arguments.py TrainArgumentsMixin.metric ("custom metric from a
    # plugin", set to 'nlg' by train_args._init_metric) is 4.6 TrainArgumentsMixin.eval_metric
    # (set to 'nlg' by sft_args._init_eval_metric; its docstring still calls it `metric`).
    "metric": "eval_metric",
    # 3.12.6 CompatArguments.lora_modules was only appended to `adapters` in __post_init__.
    "lora_modules": "adapters",
    # 3.12.6 trainers/mixin.py _save read args.save_safetensors (transformers 4.x field, gone in
    # 5.x); 4.6 trainers/mixin.py _save reads swift's own args.safe_serialization in its place.
    "save_safetensors": "safe_serialization",
    # transformers 4.57 training_args.py deprecation warnings, fields removed in 5.x:
    "no_cuda": "use_cpu",  # "using `no_cuda` is deprecated ... Use `use_cpu` instead"
    "per_gpu_train_batch_size": "per_device_train_batch_size",  # "deprecated ... preferred"
    "per_gpu_eval_batch_size": "per_device_eval_batch_size",  # same
    "push_to_hub_token": "hub_token",  # "`--push_to_hub_token` is deprecated ... `--hub_token`"
    "torchdynamo": "torch_compile_backend",  # "`torchdynamo` is deprecated ... Use ..."
}

# 3.x `swift sft` flags with no 4.6 equivalent under a new name, and what to write instead.
_RLHF_ONLY = "Used only by swift rlhf (GKD/CHORD) in 4.x; remove it from an sft recipe."
_GONE_IN_TF5 = "Removed in transformers 5; remove it."
# 3.12.6 SwiftArgumentsMixin inherited RLHFArgumentsMixin, so `swift sft` accepted these; 4.6
# declares them on RLHFArguments only.
_RLHF_FLAGS = (
    "chord_enable_phi_function",
    "chord_mu_decay_steps",
    "chord_mu_peak",
    "chord_mu_valley",
    "chord_mu_warmup_steps",
    "chord_sft_dataset",
    "chord_sft_per_device_train_batch_size",
    "sft_alpha",
)
REMOVED = {
    "adafactor": "Write optim: adafactor.",
    "ckpt_dir": (
        "Pass an adapter checkpoint as adapters, a full checkpoint as model, or use "
        "resume_from_checkpoint to resume training."
    ),
    **dict.fromkeys(_RLHF_FLAGS, _RLHF_ONLY),
    "fp16_backend": _GONE_IN_TF5,
    "fp16_opt_level": "Apex AMP was removed in transformers 5; remove it.",
    "fsdp_min_num_params": "Put min_num_params inside fsdp_config.",
    "fsdp_transformer_layer_cls_to_wrap": "Put transformer_layer_cls_to_wrap inside fsdp_config.",
    "half_precision_backend": _GONE_IN_TF5,
    "include_inputs_for_metrics": "Write include_for_metrics: [inputs].",
    "include_tokens_per_second": _GONE_IN_TF5,
    "jit_mode_eval": _GONE_IN_TF5,
    "mp_parameters": _GONE_IN_TF5,
    "overwrite_output_dir": _GONE_IN_TF5 + " swift writes each run to a new versioned folder.",
    "past_index": _GONE_IN_TF5,
    "push_to_hub_model_id": "Write hub_model_id with the full repo name (org/name).",
    "push_to_hub_organization": "Write hub_model_id with the full repo name (org/name).",
    "ray_scope": _GONE_IN_TF5,
    "tpu_metrics_debug": "Write debug: [tpu_metrics_debug].",
    "tpu_num_cores": _GONE_IN_TF5,
    "use_legacy_prediction_loop": _GONE_IN_TF5,
    "use_mps_device": _GONE_IN_TF5 + " MPS is used when available.",
}
