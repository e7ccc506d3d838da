"""Reading mmaction2 VideoMAE checkpoints: the state dict (through the restricted unpickler), which kind a checkpoint
is (an AVA detector or a Kinetics recognizer) and the architecture its tensor shapes and stored config text give."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch
from transformers import VideoMAEConfig

from ...modeling import VideoMAEActionDetectionConfig
from ...processing.cli.progress import progress_bar
from ...processing.formats.untrusted_pickle import load_checkpoint


class ConversionError(ValueError):
    """The checkpoint is not an mmaction2 VideoMAE checkpoint this converter can map exactly."""


_BLOCK_KEY = re.compile(r"^backbone\.blocks\.(\d+)\.(.+)$")

DETECTION, RECOGNITION = "detection", "recognition"


def read_mmaction2_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The `state_dict` and `meta` of an mmaction2 checkpoint (`{'meta', 'state_dict', ...}` or a bare state dict)."""
    checkpoint = load_checkpoint(path)
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        state_dict, meta = checkpoint["state_dict"], checkpoint.get("meta") or {}
    elif isinstance(checkpoint, dict) and checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        state_dict, meta = checkpoint, {}
    else:
        raise ConversionError(f"{path}: expected an mmaction2 checkpoint with a 'state_dict', found {type(checkpoint)}")
    state_dict = _strip_module_prefix(state_dict, path)
    non_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if non_tensors:
        raise ConversionError(f"{path}: state_dict entries that are not tensors: {non_tensors[:5]}")
    _check_finite(state_dict, path)
    return state_dict, meta if isinstance(meta, dict) else {}


def _strip_module_prefix(state_dict: dict, path) -> dict:
    """Drop DataParallel's `module.` prefix; a state_dict holding both `module.X` and `X` is ambiguous: refused."""
    stripped = {}
    for key, value in state_dict.items():
        name = key.removeprefix("module.")
        if name in stripped:
            raise ConversionError(
                f"{path}: the state_dict holds both 'module.{name}' and '{name}'; which one is the model is ambiguous"
            )
        stripped[name] = value
    return stripped


def _check_finite(state_dict: dict[str, torch.Tensor], path) -> None:
    """Refuse NaN / inf weights, naming the tensors (they would otherwise surface as a NaN self-check)."""
    bad = []
    for key, tensor in state_dict.items():
        if tensor.is_floating_point() or tensor.is_complex():
            count = int((~torch.isfinite(tensor)).sum())
            if count:
                bad.append(f"{key} ({count} of {tensor.numel()} values)")
    if bad:
        raise ConversionError(f"{path}: non-finite weights (NaN or inf) in {', '.join(bad[:5])}"
                              + (f" and {len(bad) - 5} more tensors" if len(bad) > 5 else ""))


def _reduced_precision(tensor: torch.Tensor) -> str | None:
    """'fp16' / 'bf16' for a half-precision tensor, else None."""
    return {torch.float16: "fp16", torch.bfloat16: "bf16"}.get(tensor.dtype)


def file_sha256(path: str | Path, progress: bool = False, chunk_size: int = 1 << 24) -> str:
    """Hex sha256 of a file, read in 16 MiB chunks (with a progress bar when `progress`)."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle, progress_bar(
        total=path.stat().st_size, unit="B", unit_scale=True, desc=f"reading {path.name}", enabled=progress,
    ) as bar:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def checkpoint_kind(state_dict: dict[str, torch.Tensor], source: str = "checkpoint") -> str:
    """"detection" (an AVA detector: `roi_head.*`) or "recognition" (a recognizer: `cls_head.*`, `backbone.fc_norm.*`).

    Raises ConversionError when the backbone is not mmaction2's VideoMAE `VisionTransformer` (e.g. SlowFast) or when
    the checkpoint has neither head.
    """
    _require_videomae_backbone(state_dict, source)
    if any(key.startswith("roi_head.") for key in state_dict):
        return DETECTION
    if "cls_head.fc_cls.weight" in state_dict or "backbone.fc_norm.weight" in state_dict:
        return RECOGNITION
    raise ConversionError(
        f"{source}: a VideoMAE backbone without an AVA detection head (roi_head.*) or a recognition head "
        f"(cls_head.*, backbone.fc_norm.*); keys after the backbone: "
        f"{[key for key in state_dict if not key.startswith('backbone.')][:5]}"
    )


def _require_videomae_backbone(state_dict: dict[str, torch.Tensor], source: str) -> None:
    required = ["backbone.patch_embed.projection.weight", "backbone.blocks.0.mlp.layers.0.0.weight"]
    missing = [key for key in required if key not in state_dict]
    if missing:
        slowfast_like = any(key.startswith(("backbone.slow_path", "backbone.fast_path", "backbone.layer")) for key in state_dict)
        hint = " (this looks like a SlowFast/ResNet checkpoint)" if slowfast_like else ""
        raise ConversionError(
            f"{source}: not an mmaction2 VideoMAE (vit_mae VisionTransformer) checkpoint{hint}: missing {missing}; "
            f"first keys: {list(state_dict)[:5]}"
        )


def _config_number(config_text: str, name: str, cast):
    """The first `name=value` of mmaction2's config text stored in `meta['config']` (None when absent)."""
    match = re.search(rf"\b{name}\s*=\s*([0-9.eE+-]+)", config_text or "")
    return cast(match.group(1)) if match else None


def _backbone_fields(state_dict: dict[str, torch.Tensor], meta: dict, source: str) -> tuple[dict, str]:
    """The VideoMAE backbone fields a checkpoint determines, and mmaction2's config text (may be empty).

    Shapes give the widths and depth; the config text gives heads, frames, image size and eps. Without config text,
    the head count assumes 64 channels per head (true of ViT-S/B/L/H) and 16 frames at 224.
    """
    _require_videomae_backbone(state_dict, source)
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
    fields = dict(
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
    )
    return fields, config_text


def infer_config(state_dict: dict[str, torch.Tensor], meta: dict, source: str = "checkpoint") -> VideoMAEActionDetectionConfig:
    """Detection architecture from the tensor shapes, plus what only the config text knows (heads, frames, eps, rates).

    Without config text, the head count assumes 64 channels per head (true of ViT-S/B/L/H) and 16 frames at 224.
    """
    fields, config_text = _backbone_fields(state_dict, meta, source)
    drop_path_rate = _config_number(config_text, "drop_path_rate", float)
    head_dropout = _config_number(config_text, "dropout_ratio", float)
    roi_output_size = _config_number(config_text, "output_size", int)
    if drop_path_rate is not None:
        fields["drop_path_rate"] = drop_path_rate
    if head_dropout is not None:
        fields["head_dropout"] = head_dropout
    if roi_output_size is not None:
        fields["roi_output_size"] = roi_output_size
    return VideoMAEActionDetectionConfig(**fields)


def infer_recognition_config(
    state_dict: dict[str, torch.Tensor], meta: dict, source: str = "checkpoint", id2label: dict[int, str] | None = None
) -> VideoMAEConfig:
    """A transformers `VideoMAEConfig` for an mmaction2 VideoMAE recognizer: mean pooling + `fc_norm`, the classes of
    `cls_head.fc_cls` (names from `id2label` when given, else transformers' `LABEL_i`), LayerNorm eps 1e-6."""
    fields, _ = _backbone_fields(state_dict, meta, source)
    if "cls_head.fc_cls.weight" not in state_dict:
        raise ConversionError(f"{source}: a recognition checkpoint needs cls_head.fc_cls.weight")
    num_labels = state_dict["cls_head.fc_cls.weight"].shape[0]
    if id2label is not None and len(id2label) != num_labels:
        raise ConversionError(f"{source}: the label map has {len(id2label)} names, cls_head.fc_cls has {num_labels} classes")
    labels = {"id2label": id2label} if id2label is not None else {"num_labels": num_labels}
    return VideoMAEConfig(use_mean_pooling=True, architectures=["VideoMAEForVideoClassification"], **fields, **labels)
