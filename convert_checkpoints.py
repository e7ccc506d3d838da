"""Convert mmaction2 VideoMAE checkpoints into complete transformers / Hub folders.

Detection (the AVA detectors of `configs/detection/videomae`):

    python convert_checkpoints.py --variant base \
        --checkpoint vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb_20230314-3dafab75.pth \
        --output_dir videomae-base-ava-kinetics [--push_to_hub ORG/videomae-base-ava-kinetics]

writes `config.json`, `model.safetensors`, `video_preprocessor_config.json`, the remote-code files (with `auto_map`,
so that `AutoModel` / `AutoVideoProcessor.from_pretrained(D, trust_remote_code=True)` work without this package) and
the model card `README.md`,
reloads the folder and runs one forward as a self-check, prints a summary, and optionally pushes the folder.

Recognition (the Kinetics-400 fine-tuned backbones the detection recipe starts from,
`vit-{base,large}-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-*.pth`): the same command writes a standard
transformers `VideoMAEForVideoClassification` folder (mean pooling, `fc_norm`, the 400-way classifier, LayerNorm eps
1e-6) from which `VideoMAEForActionDetection.from_pretrained(D)` starts exactly as mmaction2's detector does: the
backbone loaded, `fc_norm` and the classifier ignored, the final LayerNorm freshly initialised (ones / zeros).
Note: transformers' `VideoMAEForVideoClassification.fc_norm` is an `nn.LayerNorm` with the default eps 1e-5 (it does
not read `config.layer_norm_eps`), mmaction2's is 1e-6, so the folder's Kinetics logits differ slightly from
mmaction2's (the pooled features are normalised by sqrt(var + 1e-5) instead of sqrt(var + 1e-6)); the detector never
uses `fc_norm`.

Which kind a checkpoint is, and its architecture, come from its keys and tensor shapes (plus the config text mmaction2
stores in `meta`); `--variant base|large` additionally requires the architecture of that mmaction2 recipe
(`training/recipe.py`). The card carries the mAP mmaction2 reports only when the checkpoint is the released file:
OpenMMLab names released files `..._<date>-<first 8 hex digits of the sha256>.pth`, and the converter checks the hash.

Checkpoints are untrusted: they are read with `processing/formats/untrusted_pickle.load_checkpoint` (no arbitrary code runs; a
pickle that tries is refused). On any error (a checkpoint of another architecture, a truncated file, a refused
pickle, a key that cannot be mapped, a failed self-check) nothing is written to the output folder: the folder is
assembled in a temporary sibling and moved into place only when complete and checked.
"""

import argparse
import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import VideoMAEConfig, VideoMAEForVideoClassification

from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
from videomae_action_detection.modeling.modeling_videomae_action_detection import sinusoid_position_table
from videomae_action_detection.processing import ava_video_processor
from videomae_action_detection.processing.cli.progress import progress_bar
from videomae_action_detection.processing.inference.pipeline import add_pipeline_code
from videomae_action_detection.training.model_card import (
    ConvertedCheckpoint,
    build_backbone_card,
    build_model_card,
    reported_result,
    write_model_card,
)
from videomae_action_detection.training.recipe import (
    RECIPES,
    DetectionRecipe,
    recipe_for_architecture,
    recipe_for_variant,
)
from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError, load_checkpoint


class ConversionError(ValueError):
    """The checkpoint is not an mmaction2 VideoMAE checkpoint this converter can map exactly."""


class PushError(RuntimeError):
    """The folder was written and checked, but uploading it failed; `result` describes the folder."""

    def __init__(self, message: str, result: "ConversionResult"):
        super().__init__(message)
        self.result = result


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

DETECTION, RECOGNITION = "detection", "recognition"


# ------------------------------------------------------------------------------------------------------------ reading
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


# ------------------------------------------------------------------------------------------------------------ mapping
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


def convert_recognition_checkpoint(
    checkpoint_path: str | Path, id2label: dict[int, str] | None = None, progress: bool = False
) -> tuple[VideoMAEForVideoClassification, ConversionReport]:
    """Read an mmaction2 VideoMAE recognition checkpoint (K400 fine-tuned) and return the transformers
    `VideoMAEForVideoClassification` (eval mode) and the mapping report."""
    source = str(checkpoint_path)
    state_dict, meta = read_mmaction2_checkpoint(checkpoint_path)
    return _recognition_model(state_dict, meta, id2label, source, progress)


def _recognition_model(state_dict, meta, id2label, source, progress, config=None):
    config = config if config is not None else infer_recognition_config(state_dict, meta, source, id2label)
    converted, report = convert_recognition_state_dict(state_dict, config, source, progress)
    model = VideoMAEForVideoClassification(config)
    load_converted_weights(model, converted, source)
    return model.eval(), report


# ---------------------------------------------------------------------------------------------------- writing, checks
def save_converted(model: VideoMAEForActionDetection, output_dir: Path, max_shard_size: str = "50GB") -> None:
    """Write config, safetensors weights and the remote-code files (with `auto_map`)."""
    type(model.config).register_for_auto_class()
    type(model).register_for_auto_class("AutoModel")
    model.save_pretrained(output_dir, max_shard_size=max_shard_size)


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


def backbone_self_check(output_dir: Path, reference: VideoMAEForVideoClassification) -> dict:
    """Reload a converted recognition folder twice: as `VideoMAEForVideoClassification` (every tensor must round-trip
    exactly) and as the detector's starting point, `VideoMAEForActionDetection.from_pretrained` (every backbone
    tensor must arrive; only the final LayerNorm and the action classifier may be new).

    Returns `max_abs_difference` (over all classification tensors), `backbone_tensors` (how many the detector took
    from the folder), `backbone_max_abs_difference`, `newly_initialised` (the detector's keys not in the folder) and
    `final_norm_fresh` (the detector's final LayerNorm starts at ones / zeros, as mmaction2's does).
    """
    reloaded = VideoMAEForVideoClassification.from_pretrained(output_dir).eval()
    reference_state = reference.state_dict()
    reloaded_state = reloaded.state_dict()
    if set(reference_state) != set(reloaded_state):
        raise ConversionError(f"{output_dir}: reloaded keys differ: {sorted(set(reference_state) ^ set(reloaded_state))}")
    difference = max((reference_state[k] - reloaded_state[k]).abs().max().item() for k in reference_state)

    detector, info = VideoMAEForActionDetection.from_pretrained(output_dir, output_loading_info=True)
    compared, backbone_difference = 0, 0.0
    for key, value in detector.state_dict().items():
        if key in reference_state:
            backbone_difference = max(backbone_difference, (value - reference_state[key]).abs().max().item())
            compared += 1
    final_norm = detector.videomae.layernorm
    return {
        "max_abs_difference": difference,
        "backbone_tensors": compared,
        "backbone_max_abs_difference": backbone_difference,
        "newly_initialised": sorted(info["missing_keys"]),
        "final_norm_fresh": bool((final_norm.weight == 1).all() and (final_norm.bias == 0).all()),
    }


_EXPECTED_NEW_IN_DETECTOR = ["roi_head.classifier.bias", "roi_head.classifier.weight", "videomae.layernorm.bias", "videomae.layernorm.weight"]


# -------------------------------------------------------------------------------------------------------- the command
@dataclass
class ConversionResult:
    """What `convert` did, for the summary (and tests)."""

    kind: str
    checkpoint: Path
    output_dir: Path
    sha256: str
    recipe: DetectionRecipe | None
    release_match: bool
    architecture: str
    parameters: int
    report: ConversionReport
    check: dict
    files: list[str]
    commit_url: str | None = None

    def summary(self) -> str:
        recipe = f"mmaction2 {self.recipe.variant} recipe" if self.recipe else "no released recipe"
        release = (
            f"the released {self.expected_release()} (sha256 prefix matches)"
            if self.release_match
            else (f"not the released {self.expected_release()}" if self.recipe else "not a released file")
        )
        dropped = "; ".join(f"{key}: {why}" for key, why in self.report.dropped.items()) or "none"
        lines = [
            f"checkpoint  {self.checkpoint}",
            f"kind        {self.kind} ({self.architecture}; {recipe})",
            f"sha256      {self.sha256} ({release})",
            f"parameters  {self.parameters:,}",
            f"keys        {self.report.num_source_keys} source keys: {len(self.report.mapped)} mapped to "
            f"{self.report.num_target_keys} weights, {len(self.report.dropped)} dropped ({dropped})",
        ]
        if self.kind == DETECTION:
            lines.append(
                f"self-check  reloaded with AutoModel(trust_remote_code=True): max |logit difference| = "
                f"{self.check['max_abs_logit_difference']:.3g} ({'ok' if self.check['ok'] else 'FAILED'})"
            )
        else:
            lines.append(
                f"self-check  reloaded as VideoMAEForVideoClassification: max |tensor difference| = "
                f"{self.check['max_abs_difference']:.3g}; VideoMAEForActionDetection.from_pretrained took "
                f"{self.check['backbone_tensors']} backbone tensors (max |difference| "
                f"{self.check['backbone_max_abs_difference']:.3g}), newly initialised {self.check['newly_initialised']}"
                f"{' (final LayerNorm ones / zeros)' if self.check['final_norm_fresh'] else ''} "
                f"({'ok' if self.check['ok'] else 'FAILED'})"
            )
        lines.append(f"written     {self.output_dir}: {', '.join(self.files)}")
        if self.commit_url:
            lines.append(f"pushed      {self.commit_url}")
        return "\n".join(lines)

    def expected_release(self) -> str:
        if self.recipe is None:
            return "checkpoint"
        release = self.recipe.detection_checkpoint if self.kind == DETECTION else self.recipe.backbone_checkpoint
        return release.file_name


def _check_variant(recipe_or_none, variant, architecture, source) -> DetectionRecipe | None:
    """The recipe of the checkpoint's architecture; with `variant` given, it must be that variant's."""
    if variant is None:
        return recipe_or_none
    wanted = recipe_for_variant(variant)
    if recipe_or_none is not wanted:
        raise ConversionError(
            f"--variant {variant}: {source} is a {architecture} ViT (hidden/layers/heads/MLP), the {variant} recipe is "
            f"{'/'.join(map(str, wanted.architecture()))}"
        )
    return wanted


def _read_label_map(path: str | Path) -> dict[int, str]:
    """One class name per line, in classifier order (e.g. mmaction2's `label_map_k400.txt`)."""
    names = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise ValueError(f"--label_map {path}: no class names")
    return dict(enumerate(names))


def _prepare_output(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"--output_dir {output_dir} exists and is not a folder")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise ValueError(f"--output_dir {output_dir} exists and is not empty (pass --overwrite to replace it)")


def _move_into_place(staging: Path, output_dir: Path) -> None:
    """Replace `output_dir` (absent, empty, or an old folder with --overwrite) by the complete `staging` folder."""
    old = None
    if output_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.old-", dir=output_dir.parent))
        old.rmdir()
        output_dir.rename(old)
    staging.rename(output_dir)
    if old is not None:
        shutil.rmtree(old)


def convert(
    checkpoint: str | Path,
    output_dir: str | Path,
    *,
    variant: str | None = None,
    config: VideoMAEActionDetectionConfig | None = None,
    label_map: dict[int, str] | None = None,
    repo_id: str | None = None,
    push: bool = False,
    private: bool = False,
    overwrite: bool = False,
    max_shard_size: str = "1GB",
    progress: bool = True,
) -> ConversionResult:
    """Convert `checkpoint` into the complete folder `output_dir`, self-check it and optionally push it to `repo_id`.

    Raises ConversionError / ValueError / FileNotFoundError / UntrustedPickleError before writing anything when the
    input is bad; the folder appears only complete and checked (assembled in a temporary sibling).
    """
    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    source = str(checkpoint)
    _prepare_output(output_dir, overwrite)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"--checkpoint {checkpoint}: no such file")
    sha256 = file_sha256(checkpoint, progress=progress)
    state_dict, meta = read_mmaction2_checkpoint(checkpoint)
    kind = checkpoint_kind(state_dict, source)
    if kind == DETECTION:
        if label_map is not None:
            raise ValueError("--label_map names the classes of a recognition checkpoint; the detector uses the AVA names")
        model_config = config if config is not None else infer_config(state_dict, meta, source)
    else:
        if config is not None:
            raise ValueError("--config is a detection config; a recognition checkpoint's config comes from its shapes")
        model_config = infer_recognition_config(state_dict, meta, source, label_map)
    dims = (model_config.hidden_size, model_config.num_hidden_layers, model_config.num_attention_heads, model_config.intermediate_size)
    architecture = "/".join(map(str, dims))
    recipe = _check_variant(recipe_for_architecture(*dims), variant, architecture, source)  # before the slow part
    if kind == DETECTION:
        model, report = _detection_model(state_dict, meta, model_config, source, progress)
    else:
        model, report = _recognition_model(state_dict, meta, label_map, source, progress, config=model_config)
    del state_dict
    release = None if recipe is None else (recipe.detection_checkpoint if kind == DETECTION else recipe.backbone_checkpoint)
    release_match = release is not None and sha256.startswith(release.expected_sha256_prefix)
    model_name = (repo_id or output_dir.resolve().name).split("/")[-1]
    card_repo_id = repo_id or model_name
    converted_from = ConvertedCheckpoint(file_name=checkpoint.name, sha256=sha256, release=release if release_match else None)

    output_dir.resolve().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.resolve().parent))
    try:
        if kind == DETECTION:
            save_converted(model, staging, max_shard_size=max_shard_size)
            ava_video_processor(model_config).save_pretrained(staging)  # + its remote-code files
            add_pipeline_code(staging)  # the "video-action-detection" pipeline as remote code
            results = [reported_result(recipe)] if release_match else []
            card = build_model_card(
                model_name,
                model_config,
                repo_id=card_repo_id,
                recipe=recipe if release_match else None,  # the recipe of other weights is not known
                results=results,
                converted_from=converted_from,
            )
            write_model_card(card, staging / "README.md")
            difference = self_check(staging, model)
            check = {"max_abs_logit_difference": difference, "ok": difference <= 1e-5}
        else:
            model.save_pretrained(staging, max_shard_size=max_shard_size)
            card = build_backbone_card(
                model_name, model_config, recipe=recipe if release_match else None, converted_from=converted_from
            )
            write_model_card(card, staging / "README.md")
            check = backbone_self_check(staging, model)
            check["ok"] = (
                check["max_abs_difference"] == 0.0
                and check["backbone_max_abs_difference"] == 0.0
                and check["newly_initialised"] == _EXPECTED_NEW_IN_DETECTOR
                and check["final_norm_fresh"]
            )
        if not check["ok"]:
            raise ConversionError(f"self-check failed for {source}: {check}")
        files = sorted(path.name for path in staging.iterdir())
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp made it private; the folder gets the usual permissions
        _move_into_place(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    result = ConversionResult(
        kind=kind,
        checkpoint=checkpoint,
        output_dir=output_dir,
        sha256=sha256,
        recipe=recipe,
        release_match=release_match,
        architecture=architecture,
        parameters=sum(p.numel() for p in model.parameters()),
        report=report,
        check=check,
        files=files,
    )
    if push:
        try:
            result.commit_url = push_folder(output_dir, repo_id, private=private, checkpoint_name=checkpoint.name)
        except Exception as error:  # any Hub / network error: the local folder stays complete
            raise PushError(f"pushing {output_dir} to {repo_id} failed ({type(error).__name__}: {error}); the folder "
                            "is complete locally, push it again with huggingface_hub's upload_folder", result) from error
    return result


def push_folder(folder: Path, repo_id: str, private: bool = False, checkpoint_name: str = "") -> str:
    """Create `repo_id` (if needed) on the Hub of `HF_ENDPOINT` and upload `folder` in one commit; the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        repo_type="model",
        commit_message=f"Upload {repo_id.split('/')[-1]} converted from {checkpoint_name}" if checkpoint_name else None,
    )
    return str(commit.commit_url if hasattr(commit, "commit_url") else commit)


def main(argv=None) -> int:
    from videomae_action_detection.processing.cli.conventions import (
        EXIT_USAGE_OR_INPUT_ERROR, HelpFormatter, add_log_level, configure_logging, expected_errors,
    )

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an mmaction2 VideoMAE detection or recognition checkpoint (.pth)")
    parser.add_argument("--output_dir", required=True, help="folder to write (must be absent or empty, unless --overwrite)")
    parser.add_argument("--variant", choices=sorted(RECIPES), help="require the architecture of this mmaction2 recipe")
    parser.add_argument("--config", help="a detection config.json to use instead of inferring the architecture")
    parser.add_argument("--label_map", help="recognition only: class names, one per line, in classifier order")
    parser.add_argument("--push_to_hub", metavar="REPO_ID", help="upload the folder to this Hub repo (created if needed)")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing non-empty --output_dir")
    parser.add_argument("--max_shard_size", default="1GB", help="safetensors shard size")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (they only show on a terminal anyway)")
    add_log_level(parser)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)

    try:
        config = VideoMAEActionDetectionConfig.from_json_file(args.config) if args.config else None
        label_map = _read_label_map(args.label_map) if args.label_map else None
        result = convert(
            args.checkpoint,
            args.output_dir,
            variant=args.variant,
            config=config,
            label_map=label_map,
            repo_id=args.push_to_hub,
            push=args.push_to_hub is not None,
            private=args.private,
            overwrite=args.overwrite,
            max_shard_size=args.max_shard_size,
            progress=not (args.no_progress or args.quiet),
        )
    except PushError as error:
        print(error.result.summary(), f"error: {error}", sep="\n", file=sys.stderr)
        return EXIT_USAGE_OR_INPUT_ERROR
    except (ConversionError, UntrustedPickleError, *expected_errors()) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USAGE_OR_INPUT_ERROR
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
