"""mmaction2 VideoMAE keys -> transformers keys: the renames, the fused qkv split, the classifier's background row
dropped, the fixed position table checked and dropped; every source key is mapped or dropped with a reason, any other
key is an error. Builds the converted detector (`VideoMAEForActionDetection`) or recognizer
(`VideoMAEForVideoClassification`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import VideoMAEConfig, VideoMAEForVideoClassification

from ...modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
from ...modeling.modeling_videomae_action_detection import sinusoid_position_table
from ...processing.cli.progress import progress_bar
from .mmaction2_checkpoint import (
    _BLOCK_KEY,
    ConversionError,
    _reduced_precision,
    infer_config,
    infer_recognition_config,
    read_mmaction2_checkpoint,
)


@dataclass
class ConversionReport:
    """What the key mapping did: every source key is either mapped or explicitly dropped, with the reason."""

    mapped: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def num_source_keys(self) -> int:
        return len(self.mapped) + len(self.dropped)

    @property
    def num_target_keys(self) -> int:
        return sum(len(targets) for targets in self.mapped.values())


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

_PATCH_RENAMES = {
    "backbone.patch_embed.projection.weight": "videomae.embeddings.patch_embeddings.projection.weight",
    "backbone.patch_embed.projection.bias": "videomae.embeddings.patch_embeddings.projection.bias",
}

_TOP_RENAMES = {
    **_PATCH_RENAMES,
    "backbone.norm.weight": "videomae.layernorm.weight",
    "backbone.norm.bias": "videomae.layernorm.bias",
}

_CLASSIFIER_KEYS = {
    "roi_head.bbox_head.fc_cls.weight": "roi_head.classifier.weight",
    "roi_head.bbox_head.fc_cls.bias": "roi_head.classifier.bias",
}

# mmaction2 recognizer (VisionTransformer with use_mean_pooling=True + TimeSformerHead) -> VideoMAEForVideoClassification
_RECOGNITION_RENAMES = {
    **_PATCH_RENAMES,
    "backbone.fc_norm.weight": "fc_norm.weight",
    "backbone.fc_norm.bias": "fc_norm.bias",
    "cls_head.fc_cls.weight": "classifier.weight",
    "cls_head.fc_cls.bias": "classifier.bias",
}

def _map_backbone_key(key, tensor, hidden, put, drop, source) -> bool:
    """Map one `backbone.blocks.*` key through `put(source_key, target_key, tensor)`, or check and `drop(key, why)`
    `backbone.pos_embed` (the fixed sinusoid table, which the model recomputes). False when `key` is neither."""
    if key == "backbone.pos_embed":
        expected = sinusoid_position_table(tensor.shape[1], tensor.shape[2])
        precision = _reduced_precision(tensor)
        if precision:  # the table as that checkpoint stores it: rounded to its precision
            expected = expected.to(tensor.dtype).float()
        difference = (tensor[0].float() - expected).abs().max().item()
        if difference > 1e-5:
            stored = f" (an {precision} checkpoint: compared with the table rounded to {precision})" if precision else ""
            raise ConversionError(
                f"{source}: backbone.pos_embed differs from the fixed sinusoid table by {difference:.3g}{stored}; a "
                "learned position embedding is not supported"
            )
        drop(key, f"fixed sinusoid table, recomputed by the model (max abs difference {difference:.2g})")
        return True
    match = _BLOCK_KEY.match(key)
    if not match:
        return False
    index, name = match.groups()
    prefix = f"videomae.encoder.layer.{index}."
    if name == "attn.qkv.weight":
        if tensor.shape != (3 * hidden, hidden):
            raise ConversionError(f"{source}: {key} has shape {tuple(tensor.shape)}, expected {(3 * hidden, hidden)}")
        for part, chunk in zip(("query", "key", "value"), tensor.split(hidden, dim=0)):
            put(key, f"{prefix}attention.attention.{part}.weight", chunk)
        return True
    if name in _BLOCK_RENAMES:
        put(key, prefix + _BLOCK_RENAMES[name], tensor)
        return True
    return False


def _convert(state_dict, hidden, top_renames, special, source, progress):
    """Shared mapping loop: `top_renames` (source key -> target key), `special` (source key -> handler(key, tensor,
    put)), then the backbone blocks and position table; every other key is an error."""
    converted: dict[str, torch.Tensor] = {}
    report = ConversionReport()
    unmapped = []

    def put(source_key, target_key, tensor):
        converted[target_key] = tensor.detach().contiguous()  # no copy: load_state_dict copies into the model
        report.mapped.setdefault(source_key, []).append(target_key)

    def drop(source_key, why):
        report.dropped[source_key] = why

    for key, tensor in progress_bar(state_dict.items(), desc="mapping keys", total=len(state_dict), unit="tensor",
                                    enabled=progress):
        if key in top_renames:
            put(key, top_renames[key], tensor)
        elif key in special:
            special[key](key, tensor, put)
        elif not _map_backbone_key(key, tensor, hidden, put, drop, source):
            unmapped.append(key)
    if unmapped:
        raise ConversionError(f"{source}: keys this converter cannot map: {unmapped}")
    return converted, report


def convert_state_dict(
    state_dict: dict[str, torch.Tensor],
    config: VideoMAEActionDetectionConfig,
    source: str = "checkpoint",
    progress: bool = False,
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """mmaction2 detector keys -> `VideoMAEForActionDetection` keys.

    The fused `qkv` weight is split into query / key / value; `q_bias` / `v_bias` go to the query / value biases;
    the 81-row classifier loses its never-trained background row 0; the fixed `pos_embed` buffer is checked against
    the table this model computes and dropped. Raises `ConversionError` on any key it cannot map.
    """

    def classifier(key, tensor, put):
        if tensor.shape[0] != config.num_labels + 1:
            raise ConversionError(
                f"{source}: {key} has {tensor.shape[0]} rows; expected {config.num_labels + 1} (background + "
                f"{config.num_labels} AVA actions)"
            )
        put(key, _CLASSIFIER_KEYS[key], tensor[1:])

    special = {key: classifier for key in _CLASSIFIER_KEYS}
    return _convert(state_dict, config.hidden_size, _TOP_RENAMES, special, source, progress)


def convert_recognition_state_dict(
    state_dict: dict[str, torch.Tensor], config: VideoMAEConfig, source: str = "checkpoint", progress: bool = False
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """mmaction2 VideoMAE recognizer keys -> `VideoMAEForVideoClassification` keys (blocks as for the detector,
    `backbone.fc_norm` -> `fc_norm`, `cls_head.fc_cls` -> `classifier`). Raises `ConversionError` on any other key
    (a recognizer with a final `backbone.norm` is not mean-pooled and not supported)."""
    return _convert(state_dict, config.hidden_size, _RECOGNITION_RENAMES, {}, source, progress)


def load_converted_weights(model: torch.nn.Module, converted: dict[str, torch.Tensor], source: str) -> None:
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
    checkpoint_path: str | Path, config: VideoMAEActionDetectionConfig | None = None, progress: bool = False
) -> tuple[VideoMAEForActionDetection, ConversionReport]:
    """Read an mmaction2 VideoMAE AVA checkpoint and return the converted model (eval mode) and the mapping report."""
    source = str(checkpoint_path)
    state_dict, meta = read_mmaction2_checkpoint(checkpoint_path)
    return _detection_model(state_dict, meta, config, source, progress)


def _detection_model(state_dict, meta, config, source, progress):
    config = config if config is not None else infer_config(state_dict, meta, source)
    converted, report = convert_state_dict(state_dict, config, source, progress)
    model = VideoMAEForActionDetection(config)
    load_converted_weights(model, converted, source)
    return model.eval(), report


def _recognition_model(state_dict, meta, id2label, source, progress, config=None):
    config = config if config is not None else infer_recognition_config(state_dict, meta, source, id2label)
    converted, report = convert_recognition_state_dict(state_dict, config, source, progress)
    model = VideoMAEForVideoClassification(config)
    load_converted_weights(model, converted, source)
    return model.eval(), report
