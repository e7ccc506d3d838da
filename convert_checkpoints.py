"""Convert mmaction2 VideoMAE AVA detection checkpoints into transformers folders.

    python convert_checkpoints.py --checkpoint vit-base-p16_..._ava-kinetics-rgb_20230314-3dafab75.pth --output_dir D

reads the checkpoint without running code from it, infers the architecture from the tensor shapes and the config
text mmaction2 stores in `meta` (or takes `--config`), maps every key, fails on any key it cannot map or any weight
it does not receive, writes `config.json` + `model.safetensors` (+ the remote-code files, so
`AutoModel.from_pretrained(D, trust_remote_code=True)` works without this package), reloads the folder and runs one
forward as a self-check.
"""

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
from videomae_action_detection.modeling.modeling_videomae_action_detection import sinusoid_position_table
from videomae_action_detection.training.untrusted_pickle import load_checkpoint


class ConversionError(ValueError):
    """The checkpoint is not an mmaction2 VideoMAE AVA detector this converter can map exactly."""


@dataclass
class ConversionReport:
    """What the key mapping did: every source key is either mapped or explicitly dropped, with the reason."""

    mapped: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def num_source_keys(self) -> int:
        return len(self.mapped) + len(self.dropped)


_BLOCK_KEY = re.compile(r"^backbone\.blocks\.(\d+)\.(.+)$")

# mmaction2 block parameter -> our block parameter (after `videomae.encoder.layer.{i}.`)
_BLOCK_RENAMES = {
    "norm1.weight": "layernorm_before.weight",
    "norm1.bias": "layernorm_before.bias",
    "attn.q_bias": "attention.attention.query.bias",
    "attn.v_bias": "attention.attention.value.bias",
    "attn.proj.weight": "attention.output.dense.weight",
    "attn.proj.bias": "attention.output.dense.bias",
    "norm2.weight": "layernorm_after.weight",
    "norm2.bias": "layernorm_after.bias",
    "mlp.layers.0.0.weight": "intermediate.dense.weight",
    "mlp.layers.0.0.bias": "intermediate.dense.bias",
    "mlp.layers.1.weight": "output.dense.weight",
    "mlp.layers.1.bias": "output.dense.bias",
}

_TOP_RENAMES = {
    "backbone.patch_embed.projection.weight": "videomae.embeddings.patch_embeddings.projection.weight",
    "backbone.patch_embed.projection.bias": "videomae.embeddings.patch_embeddings.projection.bias",
    "backbone.norm.weight": "videomae.layernorm.weight",
    "backbone.norm.bias": "videomae.layernorm.bias",
}

_CLASSIFIER_KEYS = {
    "roi_head.bbox_head.fc_cls.weight": "roi_head.classifier.weight",
    "roi_head.bbox_head.fc_cls.bias": "roi_head.classifier.bias",
}


def read_mmaction2_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The `state_dict` and `meta` of an mmaction2 checkpoint (`{'meta', 'state_dict', ...}` or a bare state dict)."""
    checkpoint = load_checkpoint(path)
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        state_dict, meta = checkpoint["state_dict"], checkpoint.get("meta") or {}
    elif isinstance(checkpoint, dict) and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        state_dict, meta = checkpoint, {}
    else:
        raise ConversionError(f"{path}: expected an mmaction2 checkpoint with a 'state_dict', found {type(checkpoint)}")
    state_dict = {key.removeprefix("module."): value for key, value in state_dict.items()}
    non_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if non_tensors:
        raise ConversionError(f"{path}: state_dict entries that are not tensors: {non_tensors[:5]}")
    return state_dict, meta if isinstance(meta, dict) else {}


def _config_number(config_text: str, name: str, cast):
    """The first `name=value` of mmaction2's config text stored in `meta['config']` (None when absent)."""
    match = re.search(rf"\b{name}\s*=\s*([0-9.eE+-]+)", config_text or "")
    return cast(match.group(1)) if match else None


def infer_config(state_dict: dict[str, torch.Tensor], meta: dict, source: str = "checkpoint") -> VideoMAEActionDetectionConfig:
    """Architecture from the tensor shapes, plus what only the config text knows (heads, frames, eps, rates).

    Without config text, the head count assumes 64 channels per head (true of ViT-S/B/L/H) and 16 frames at 224.
    """
    required = ["backbone.patch_embed.projection.weight", "backbone.blocks.0.mlp.layers.0.0.weight"]
    missing = [key for key in required if key not in state_dict]
    if missing:
        slowfast_like = any(key.startswith(("backbone.slow_path", "backbone.fast_path", "backbone.layer")) for key in state_dict)
        hint = " (this looks like a SlowFast/ResNet checkpoint)" if slowfast_like else ""
        raise ConversionError(
            f"{source}: not an mmaction2 VideoMAE (vit_mae VisionTransformer) checkpoint{hint}: missing {missing}; "
            f"first keys: {list(state_dict)[:5]}"
        )
    patch_weight = state_dict["backbone.patch_embed.projection.weight"]
    if patch_weight.ndim != 5:
        raise ConversionError(f"{source}: backbone.patch_embed.projection.weight should be a Conv3d weight, got {tuple(patch_weight.shape)}")
    hidden_size, num_channels, tubelet_size, patch_size, _ = patch_weight.shape
    depth = 1 + max(int(match.group(1)) for key in state_dict if (match := _BLOCK_KEY.match(key)))
    intermediate_size = state_dict["backbone.blocks.0.mlp.layers.0.0.weight"].shape[0]
    config_text = meta.get("config", "") if isinstance(meta.get("config", ""), str) else ""

    num_heads = _config_number(config_text, "num_heads", int) or max(1, hidden_size // 64)
    num_frames = _config_number(config_text, "num_frames", int) or 16
    image_size = _config_number(config_text, "img_size", int)
    if image_size is None:
        tokens_per_slot = state_dict["backbone.pos_embed"].shape[1] // (num_frames // tubelet_size) if "backbone.pos_embed" in state_dict else 196
        image_size = int(round(tokens_per_slot**0.5)) * patch_size
    eps = _config_number(config_text, "eps", float) or 1e-6
    drop_path_rate = _config_number(config_text, "drop_path_rate", float)
    head_dropout = _config_number(config_text, "dropout_ratio", float)
    roi_output_size = _config_number(config_text, "output_size", int)

    overrides = {}
    if drop_path_rate is not None:
        overrides["drop_path_rate"] = drop_path_rate
    if head_dropout is not None:
        overrides["head_dropout"] = head_dropout
    if roi_output_size is not None:
        overrides["roi_output_size"] = roi_output_size
    return VideoMAEActionDetectionConfig(
        image_size=image_size,
        patch_size=int(patch_size),
        num_channels=int(num_channels),
        num_frames=num_frames,
        tubelet_size=int(tubelet_size),
        hidden_size=int(hidden_size),
        num_hidden_layers=depth,
        num_attention_heads=num_heads,
        intermediate_size=int(intermediate_size),
        layer_norm_eps=eps,
        qv_bias="backbone.blocks.0.attn.q_bias" in state_dict,
        **overrides,
    )


def convert_state_dict(
    state_dict: dict[str, torch.Tensor], config: VideoMAEActionDetectionConfig, source: str = "checkpoint"
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """mmaction2 detector keys -> `VideoMAEForActionDetection` keys.

    The fused `qkv` weight is split into query / key / value; `q_bias` / `v_bias` go to the query / value biases;
    the 81-row classifier loses its never-trained background row 0; the fixed `pos_embed` buffer is checked against
    the table this model computes and dropped. Raises `ConversionError` on any key it cannot map.
    """
    hidden = config.hidden_size
    converted: dict[str, torch.Tensor] = {}
    report = ConversionReport()
    unmapped = []

    def put(source_key, target_key, tensor):
        converted[target_key] = tensor.detach().clone().contiguous()
        report.mapped.setdefault(source_key, []).append(target_key)

    for key, tensor in state_dict.items():
        if key in _TOP_RENAMES:
            put(key, _TOP_RENAMES[key], tensor)
        elif key in _CLASSIFIER_KEYS:
            if tensor.shape[0] != config.num_labels + 1:
                raise ConversionError(
                    f"{source}: {key} has {tensor.shape[0]} rows; expected {config.num_labels + 1} (background + "
                    f"{config.num_labels} AVA actions)"
                )
            put(key, _CLASSIFIER_KEYS[key], tensor[1:])
        elif key == "backbone.pos_embed":
            expected = sinusoid_position_table(tensor.shape[1], tensor.shape[2])
            difference = (tensor[0].float() - expected).abs().max().item()
            if difference > 1e-5:
                raise ConversionError(
                    f"{source}: backbone.pos_embed differs from the fixed sinusoid table by {difference:.3g}; a learned "
                    "position embedding is not supported"
                )
            report.dropped[key] = f"fixed sinusoid table, recomputed by the model (max abs difference {difference:.2g})"
        elif match := _BLOCK_KEY.match(key):
            index, name = match.groups()
            prefix = f"videomae.encoder.layer.{index}."
            if name == "attn.qkv.weight":
                if tensor.shape != (3 * hidden, hidden):
                    raise ConversionError(f"{source}: {key} has shape {tuple(tensor.shape)}, expected {(3 * hidden, hidden)}")
                for part, chunk in zip(("query", "key", "value"), tensor.split(hidden, dim=0)):
                    put(key, f"{prefix}attention.attention.{part}.weight", chunk)
            elif name in _BLOCK_RENAMES:
                put(key, prefix + _BLOCK_RENAMES[name], tensor)
            else:
                unmapped.append(key)
        else:
            unmapped.append(key)
    if unmapped:
        raise ConversionError(f"{source}: keys this converter cannot map: {unmapped}")
    return converted, report


def load_converted_weights(model: VideoMAEForActionDetection, converted: dict[str, torch.Tensor], source: str) -> None:
    """Load converted weights, insisting that every model weight is received with the right shape."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    mismatched = [
        f"{key}: checkpoint {tuple(converted[key].shape)} vs model {tuple(expected[key].shape)}"
        for key in sorted(set(expected) & set(converted))
        if converted[key].shape != expected[key].shape
    ]
    if missing or unexpected or mismatched:
        raise ConversionError(
            f"{source}: weights do not fit the inferred architecture; missing {missing}, unexpected {unexpected}, "
            f"mismatched {mismatched}"
        )
    model.load_state_dict(converted, strict=True)


def convert_detection_checkpoint(
    checkpoint_path: str | Path, config: VideoMAEActionDetectionConfig | None = None
) -> tuple[VideoMAEForActionDetection, ConversionReport]:
    """Read an mmaction2 VideoMAE AVA checkpoint and return the converted model (eval mode) and the mapping report."""
    source = str(checkpoint_path)
    state_dict, meta = read_mmaction2_checkpoint(checkpoint_path)
    config = config if config is not None else infer_config(state_dict, meta, source)
    converted, report = convert_state_dict(state_dict, config, source)
    model = VideoMAEForActionDetection(config)
    load_converted_weights(model, converted, source)
    return model.eval(), report


def self_check(output_dir: Path, reference: VideoMAEForActionDetection) -> float:
    """Reload the written folder through `AutoModel` and compare one forward with the in-memory model."""
    from transformers import AutoModel

    reloaded = AutoModel.from_pretrained(output_dir, trust_remote_code=True).eval()
    config = reference.config
    size = 2 * config.patch_size
    generator = torch.Generator().manual_seed(0)
    pixel_values = torch.randn(1, config.num_frames, config.num_channels, size, size + config.patch_size, generator=generator)
    boxes = [torch.tensor([[2.0, 3.0, size - 4.0, size - 1.0]])]
    with torch.no_grad():
        expected = reference(pixel_values, boxes).logits
        actual = reloaded(pixel_values, boxes).logits
    return (expected - actual).abs().max().item()


def save_converted(model: VideoMAEForActionDetection, output_dir: Path) -> None:
    """Write config, safetensors weights and the remote-code files (with `auto_map`)."""
    type(model.config).register_for_auto_class()
    type(model).register_for_auto_class("AutoModel")
    model.save_pretrained(output_dir)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an mmaction2 VideoMAE AVA detection checkpoint (.pth)")
    parser.add_argument("--output_dir", required=True, help="folder to write the transformers model into")
    parser.add_argument("--config", help="a config.json to use instead of inferring the architecture")
    args = parser.parse_args(argv)

    output_dir = Path(args.output_dir)
    config = VideoMAEActionDetectionConfig.from_json_file(args.config) if args.config else None
    try:
        model, report = convert_detection_checkpoint(args.checkpoint, config)
    except (ConversionError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    save_converted(model, output_dir)
    difference = self_check(output_dir, model)
    num_parameters = sum(p.numel() for p in model.parameters())
    summary = {
        "checkpoint": str(args.checkpoint),
        "output_dir": str(output_dir),
        "architecture": f"{model.config.hidden_size}/{model.config.num_hidden_layers}/{model.config.num_attention_heads}",
        "parameters": num_parameters,
        "source_keys": report.num_source_keys,
        "mapped_keys": len(report.mapped),
        "dropped_keys": report.dropped,
        "self_check_max_abs_logit_difference": difference,
    }
    print(json.dumps(summary, indent=2))
    if difference > 1e-5:
        print("error: the reloaded folder does not reproduce the converted model", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
