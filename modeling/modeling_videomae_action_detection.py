"""VideoMAE spatio-temporal action detector (mmaction2's `configs/detection/videomae`), in transformers.

Pipeline of one forward, for clips `pixel_values` (B, T, C, H, W) and person boxes per clip:

1. tubelet embedding (Conv3d 2 x 16 x 16; pixels beyond the last full patch are dropped) -> tokens in t-major order;
2. plus the fixed sinusoid position table of the pre-training grid (8 x 14 x 14 for 16 x 224 x 224), resized
   bicubically per temporal slot to the input grid (mmaction2's `vit_mae.py`);
3. pre-norm ViT blocks (q/v-bias attention, GELU MLP, stochastic depth), a final LayerNorm;
4. the feature map (B, C, T/2, H/16, W/16), averaged over time;
5. RoIAlign (8 x 8, stride 16, adaptive sampling, aligned) on each box, dropout, spatial max, Linear(C, 80).

This file is part of the model's remote code: it imports only torch, torchvision, transformers and its sibling
files.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torchvision.ops import StochasticDepth, roi_align

from transformers import PreTrainedModel, VideoMAEConfig
from transformers import initialization as init
from transformers.conversion_mapping import get_checkpoint_conversion_mapping, register_checkpoint_conversion_mapping
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.models.videomae.modeling_videomae import VideoMAEAttention, VideoMAEIntermediate
from transformers.utils import ModelOutput, logging

from .configuration_videomae_action_detection import VideoMAEActionDetectionConfig
from .loss_videomae_action_detection import (
    action_classification_loss,
    assign_proposals_to_ground_truth,
    select_positive_rois,
)


logger = logging.get_logger(__name__)

# Logits of padding rows (boxes that do not exist): the value the Trainer pads with, so that padded rows look the same
# whether the model or the Trainer's cross-batch concatenation made them.
PADDING_LOGIT = -100.0

# Hub checkpoints of transformers' VideoMAE (MCG-NJU/videomae-*) store q_bias / v_bias; transformers renames them to
# query.bias / value.bias for model_type "videomae" only, so the same renaming is registered for this model type.
register_checkpoint_conversion_mapping(
    VideoMAEActionDetectionConfig.model_type, get_checkpoint_conversion_mapping("videomae"), overwrite=True
)


@dataclass
class VideoMAEActionDetectionOutput(ModelOutput):
    r"""
    loss (`torch.Tensor` of shape `()`, *optional*, returned when `labels` are given):
        Mean binary cross-entropy over the positive RoIs x action classes (mmaction2's `loss_action_cls`).
    logits (`torch.Tensor` of shape `(batch_size, max_boxes, num_labels)`):
        Action logits of each input box (apply a sigmoid for scores). Row `n` of clip `b` belongs to box `n` of clip
        `b`; rows beyond a clip's number of boxes are padding, filled with -100, and `boxes_mask` is False there.
    boxes_mask (`torch.BoolTensor` of shape `(batch_size, max_boxes)`):
        True where a row of `logits` is a real box.
    feature_map (`torch.Tensor` of shape `(batch_size, hidden_size, num_frames // tubelet_size, height // patch_size,
        width // patch_size)`, *optional*, returned with `output_feature_map=True`):
        The backbone's output after the final LayerNorm.
    hidden_states (`tuple(torch.Tensor)`, *optional*, returned with `output_hidden_states=True`):
        The embedding output and the output of each block, each `(batch_size, num_tokens, hidden_size)`.
    attentions (`tuple(torch.Tensor)`, *optional*, returned with `output_attentions=True`):
        The attention probabilities of each block, each `(batch_size, num_heads, num_tokens, num_tokens)` (eager
        attention only, as in transformers' VideoMAE).
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    boxes_mask: torch.Tensor | None = None
    feature_map: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def sinusoid_position_table(num_positions: int, dim: int) -> torch.Tensor:
    """The fixed 1-D sinusoid table of VideoMAE, computed in float64 and returned as float32 (mmaction2's
    `get_sinusoid_encoding`).

    Returns:
        (num_positions, dim): `sin(p / 10000^(2*floor(j/2)/dim))` on even `j`, `cos` on odd `j`.
    """
    frequencies = torch.arange(dim, dtype=torch.float64)
    frequencies = torch.pow(10000, -(frequencies - frequencies % 2) / dim).view(1, -1)
    table = torch.arange(num_positions, dtype=torch.float64).view(-1, 1) * frequencies
    table[:, 0::2].sin_()
    table[:, 1::2].cos_()
    return table.to(torch.float32)


def resize_position_table(table: torch.Tensor, pretraining_grid: tuple[int, int, int], grid: tuple[int, int]):
    """Resize a t-major position table to another spatial grid, bicubically per temporal slot (align_corners=False),
    exactly as mmaction2's `VisionTransformer.forward`.

    Args:
        table: (t * h0 * w0, C) for `pretraining_grid = (t, h0, w0)`.
        grid: the input's (h, w) in patches.

    Returns:
        (t * h * w, C).
    """
    num_slots, height0, width0 = pretraining_grid
    if not _is_tracing() and tuple(grid) == (height0, width0):
        return table  # (when tracing with dynamic sizes the comparison would be data-dependent: interpolate always)
    dim = table.shape[-1]
    maps = table.reshape(num_slots, height0, width0, dim).permute(0, 3, 1, 2)
    maps = F.interpolate(maps, size=tuple(grid), mode="bicubic", align_corners=False)
    return maps.permute(0, 2, 3, 1).reshape(-1, dim)


def _is_tracing() -> bool:
    """True under torch.export / torch.compile / ONNX export: eager-only checks (which read tensor values and
    branch on them) are left out of the traced graph."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing()


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


class VideoMAEActionDetectionPatchEmbeddings(nn.Module):
    """Tubelet embedding: (B, T, C, H, W) -> (B, T/tubelet * H/patch * W/patch, hidden), t-major token order.

    Unlike transformers' `VideoMAEPatchEmbeddings` it accepts any H, W >= patch size; like the Conv3d of mmaction2,
    it ignores the pixels beyond the last full patch (right and bottom).
    """

    def __init__(self, config: VideoMAEActionDetectionConfig):
        super().__init__()
        patch_height, patch_width = _pair(config.patch_size)
        self.projection = nn.Conv3d(
            config.num_channels,
            config.hidden_size,
            kernel_size=(config.tubelet_size, patch_height, patch_width),
            stride=(config.tubelet_size, patch_height, patch_width),
        )

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Returns the tokens (B, N, hidden) and the token grid (t, h, w)."""
        pixel_values = pixel_values.permute(0, 2, 1, 3, 4).to(self.projection.weight.dtype)
        embeddings = self.projection(pixel_values)
        grid = tuple(embeddings.shape[2:])
        return embeddings.flatten(2).transpose(1, 2), grid


class VideoMAEActionDetectionEmbeddings(nn.Module):
    """Tubelet embedding plus the pre-training grid's sinusoid position table, resized to the input grid."""

    def __init__(self, config: VideoMAEActionDetectionConfig):
        super().__init__()
        self.patch_embeddings = VideoMAEActionDetectionPatchEmbeddings(config)
        image_height, image_width = _pair(config.image_size)
        patch_height, patch_width = _pair(config.patch_size)
        self.pretraining_grid = (
            config.num_frames // config.tubelet_size,
            image_height // patch_height,
            image_width // patch_width,
        )
        self.hidden_size = config.hidden_size
        # Computed on first use (not a buffer: it is a function of the config, never trained, never saved).
        self._position_table: torch.Tensor | None = None
        # The resized table per (grid, device, dtype), so that the bicubic resize (about 50 ms for ViT-B at 16 x 21
        # patches on a CPU core) runs once per input size, not once per forward. Not used while tracing / compiling.
        self._resized_tables: dict[tuple, torch.Tensor] = {}

    def position_table(self, grid: tuple[int, int]) -> torch.Tensor:
        """(t * h * w, hidden) float32 position table for an input grid (h, w) in patches."""
        if self._position_table is None:
            self._position_table = sinusoid_position_table(math.prod(self.pretraining_grid), self.hidden_size)
        return resize_position_table(self._position_table, self.pretraining_grid, grid)

    def resized_position_table(self, grid: tuple[int, int], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """`position_table(grid)` on `device` in `dtype`, cached per (grid, device, dtype) in eager mode."""
        tracing = torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()
        key = (tuple(grid), str(device), dtype)
        if not tracing and key in self._resized_tables:
            return self._resized_tables[key]
        table = self.position_table(grid).to(device=device).to(dtype)
        if not tracing:
            self._resized_tables[key] = table
        return table

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        embeddings, grid = self.patch_embeddings(pixel_values)
        return embeddings + self.resized_position_table(grid[1:], embeddings.device, embeddings.dtype), grid


class VideoMAEActionDetectionMLPOutput(nn.Module):
    """Second MLP projection without the residual (the block adds it after stochastic depth)."""

    def __init__(self, config: VideoMAEActionDetectionConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))


class VideoMAEActionDetectionLayer(GradientCheckpointingLayer):
    """Pre-norm ViT block with stochastic depth: `x + drop_path(attn(norm1(x)))`, then `x + drop_path(mlp(norm2(x)))`.

    Parameter names are those of transformers' `VideoMAELayer`, so its checkpoints load as they are.
    """

    def __init__(self, config: VideoMAEActionDetectionConfig, drop_path_rate: float = 0.0):
        super().__init__()
        self.attention = VideoMAEAttention(config)
        self.intermediate = VideoMAEIntermediate(config)
        self.output = VideoMAEActionDetectionMLPOutput(config)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        # timm / mmcv `drop_path`: in training, a sample's residual branch is zeroed with probability
        # `drop_path_rate` and kept ones are scaled by 1 / (1 - rate); the identity in evaluation
        self.drop_path = StochasticDepth(drop_path_rate, mode="row") if drop_path_rate > 0 else nn.Identity()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        attention_output = self.attention(self.layernorm_before(hidden_states))
        hidden_states = hidden_states + self.drop_path(attention_output)
        mlp_output = self.output(self.intermediate(self.layernorm_after(hidden_states)))
        return hidden_states + self.drop_path(mlp_output)


class VideoMAEActionDetectionEncoder(nn.Module):
    def __init__(self, config: VideoMAEActionDetectionConfig):
        super().__init__()
        # mmaction2: torch.linspace(0, drop_path_rate, depth); block 0 gets no stochastic depth.
        rates = torch.linspace(0, config.drop_path_rate, config.num_hidden_layers, device="cpu").tolist()
        self.layer = nn.ModuleList([VideoMAEActionDetectionLayer(config, rate) for rate in rates])

    def forward(self, hidden_states: torch.Tensor, output_hidden_states: bool = False):
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for layer_module in self.layer:
            hidden_states = layer_module(hidden_states)
            if output_hidden_states:
                all_hidden_states = all_hidden_states + (hidden_states,)
        return hidden_states, all_hidden_states


class VideoMAEActionDetectionBackbone(nn.Module):
    """VideoMAE encoder returning a feature map: (B, T, C, H, W) -> (B, hidden, T/tubelet, H/patch, W/patch)."""

    def __init__(self, config: VideoMAEActionDetectionConfig):
        super().__init__()
        self.embeddings = VideoMAEActionDetectionEmbeddings(config)
        self.encoder = VideoMAEActionDetectionEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor, output_hidden_states: bool = False):
        embeddings, (slots, height, width) = self.embeddings(pixel_values)
        tokens, hidden_states = self.encoder(embeddings, output_hidden_states=output_hidden_states)
        tokens = self.layernorm(tokens)
        batch_size, _, channels = tokens.shape
        feature_map = tokens.reshape(batch_size, slots, height, width, channels).permute(0, 4, 1, 2, 3)
        return feature_map, hidden_states


class VideoMAEActionDetectionHead(nn.Module):
    """mmaction2's `SingleRoIExtractor3D` + `BBoxHeadAVA`: RoIAlign on the time-averaged feature map, dropout,
    spatial max pooling, a linear classifier (without mmaction2's background column)."""

    def __init__(self, config: VideoMAEActionDetectionConfig):
        super().__init__()
        self.output_size = config.roi_output_size
        self.spatial_scale = config.roi_spatial_scale
        self.sampling_ratio = config.roi_sampling_ratio
        self.aligned = config.roi_aligned
        self.dropout = nn.Dropout(config.head_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def roi_features(self, pooled_map: torch.Tensor, rois: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """RoIAlign in float32.

        Args:
            pooled_map: (B, C, h, w) the time-averaged feature map.
            rois: (R, 5) batch index, x1, y1, x2, y2 in input pixels; or B tensors (n_b, 4) x1, y1, x2, y2, the
                boxes of each clip (torchvision numbers them clip by clip).

        Returns:
            (R, C, output_size, output_size), R = the number of boxes, in the order given.
        """
        rois = rois.float() if isinstance(rois, torch.Tensor) else [clip_boxes.float() for clip_boxes in rois]
        return roi_align(
            pooled_map.float(),
            rois,
            output_size=self.output_size,
            spatial_scale=self.spatial_scale,
            sampling_ratio=self.sampling_ratio,
            aligned=self.aligned,
        ).to(pooled_map.dtype)

    def forward(self, pooled_map: torch.Tensor, rois: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """(B, C, h, w) and (R, 5) rois or B per-clip (n_b, 4) boxes -> (R, num_labels) logits."""
        features = self.dropout(self.roi_features(pooled_map, rois))
        features = features.amax(dim=(2, 3))
        return self.classifier(features)


class VideoMAEActionDetectionPreTrainedModel(PreTrainedModel):
    config_class = VideoMAEActionDetectionConfig
    config: VideoMAEActionDetectionConfig
    base_model_prefix = "videomae"
    main_input_name = "pixel_values"
    input_modalities = "video"
    supports_gradient_checkpointing = True
    _no_split_modules = ["VideoMAEActionDetectionEmbeddings", "VideoMAEActionDetectionLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def save_pretrained(self, save_directory, *args, save_original_format: bool = False, **kwargs):
        """`PreTrainedModel.save_pretrained`, writing the weights under the model's own parameter names
        (`query.bias` / `value.bias`). transformers' default (`save_original_format=True`) would reverse the VideoMAE
        checkpoint renaming and write `q_bias` / `v_bias`, which the Trainer's resume and best-model loading
        (`load_state_dict(strict=False)` on the file) silently skip. Old files with `q_bias` / `v_bias` (and the
        Hub's MCG-NJU VideoMAE checkpoints) still load: the renaming is registered for loading."""
        return super().save_pretrained(save_directory, *args, save_original_format=save_original_format, **kwargs)

    def _init_weights(self, module):
        """mmaction2's initialisation: truncated normal (std `initializer_range`) for linear layers, zero biases, unit
        LayerNorms; xavier-normal for the action classifier."""
        if isinstance(module, VideoMAEActionDetectionHead):
            init.xavier_normal_(module.classifier.weight)
            init.zeros_(module.classifier.bias)
        elif isinstance(module, nn.Linear):
            if not getattr(module.weight, "_is_hf_initialized", False):
                init.trunc_normal_(module.weight, std=self.config.initializer_range)
            if module.bias is not None and not getattr(module.bias, "_is_hf_initialized", False):
                init.zeros_(module.bias)
        else:
            super()._init_weights(module)


def _as_box_list(boxes, boxes_mask, batch_size: int, name: str) -> list[torch.Tensor]:
    """Boxes as a list of B (N_i, 4) tensors, from a list or from a padded (B, N, 4) tensor with a (B, N) mask."""
    if isinstance(boxes, torch.Tensor):
        if boxes.ndim != 3 or boxes.shape[0] != batch_size or boxes.shape[-1] != 4:
            raise ValueError(
                f"`{name}` as a tensor must be padded (batch_size={batch_size}, num_boxes, 4), got {tuple(boxes.shape)}"
            )
        if boxes_mask is None:
            return list(boxes.unbind(0))
        if boxes_mask.shape != boxes.shape[:2]:
            raise ValueError(
                f"`{name}_mask` must have shape {tuple(boxes.shape[:2])} (one flag per box), got {tuple(boxes_mask.shape)}"
            )
        return [clip_boxes[clip_mask.bool()] for clip_boxes, clip_mask in zip(boxes, boxes_mask)]
    if not isinstance(boxes, (list, tuple)) or len(boxes) != batch_size:
        raise ValueError(f"`{name}` must be a list of {batch_size} tensors (one per clip) or a padded tensor")
    box_list = []
    for index, clip_boxes in enumerate(boxes):
        clip_boxes = torch.as_tensor(clip_boxes, dtype=torch.float32)
        if clip_boxes.numel() == 0:
            clip_boxes = clip_boxes.reshape(0, 4)
        if clip_boxes.ndim != 2 or clip_boxes.shape[-1] != 4:
            raise ValueError(f"`{name}[{index}]` must have shape (num_boxes, 4), got {tuple(clip_boxes.shape)}")
        box_list.append(clip_boxes)
    return box_list


def _check_boxes(box_list: list[torch.Tensor], name: str) -> None:
    for index, clip_boxes in enumerate(box_list):
        if clip_boxes.numel() == 0:
            continue
        if not torch.isfinite(clip_boxes).all():
            raise ValueError(f"`{name}[{index}]` holds NaN or infinite coordinates")
        if (clip_boxes[:, 2] < clip_boxes[:, 0]).any() or (clip_boxes[:, 3] < clip_boxes[:, 1]).any():
            raise ValueError(f"`{name}[{index}]` holds boxes with x2 < x1 or y2 < y1 (boxes are x1, y1, x2, y2)")


def _as_label_list(labels, gt_box_list: list[torch.Tensor], num_labels: int) -> list[torch.Tensor]:
    """Multi-hot labels as a list of (K_i, num_labels), aligned with the ground-truth boxes."""
    if isinstance(labels, torch.Tensor):
        if labels.ndim != 3 or labels.shape[-1] != num_labels:
            raise ValueError(f"`labels` as a tensor must be (batch_size, num_gt, {num_labels}), got {tuple(labels.shape)}")
        label_list = [clip_labels[: len(clip_boxes)] for clip_labels, clip_boxes in zip(labels, gt_box_list)]
    else:
        label_list = [torch.as_tensor(clip_labels) for clip_labels in labels]
    for index, (clip_labels, clip_boxes) in enumerate(zip(label_list, gt_box_list)):
        if clip_labels.shape != (len(clip_boxes), num_labels):
            raise ValueError(
                f"`labels[{index}]` must be ({len(clip_boxes)}, {num_labels}): one multi-hot row per ground-truth box, "
                f"got {tuple(clip_labels.shape)}"
            )
    return label_list


def _ground_truth_mask(gt_boxes, labels, gt_boxes_mask):
    """Which rows of padded ground truth are real: `gt_boxes_mask`, else rows of `labels` not filled with -100."""
    if gt_boxes_mask is not None or not isinstance(gt_boxes, torch.Tensor):
        return gt_boxes_mask
    if isinstance(labels, torch.Tensor) and labels.ndim == 3:
        return (labels >= 0).all(dim=-1)
    return None


class VideoMAEForActionDetection(VideoMAEActionDetectionPreTrainedModel):
    r"""VideoMAE with mmaction2's AVA RoI action head.

    `from_pretrained` also accepts a transformers VideoMAE checkpoint (`VideoMAEModel`,
    `VideoMAEForVideoClassification`, `VideoMAEForPreTraining`): its backbone weights are loaded, its other parts
    (decoder, `fc_norm`, Kinetics classifier) are ignored, and the detection parts (final LayerNorm if absent, action
    classifier) are newly initialised and reported.
    """

    accepts_loss_kwargs = False

    def __init__(self, config: VideoMAEActionDetectionConfig):
        super().__init__(config)
        self.videomae = VideoMAEActionDetectionBackbone(config)
        self.roi_head = VideoMAEActionDetectionHead(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.videomae.embeddings.patch_embeddings

    def _check_pixel_values(self, pixel_values: torch.Tensor) -> None:
        config = self.config
        patch_height, patch_width = _pair(config.patch_size)
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.ndim != 5:
            shape = tuple(pixel_values.shape) if isinstance(pixel_values, torch.Tensor) else type(pixel_values)
            raise ValueError(f"`pixel_values` must be (batch_size, num_frames, channels, height, width), got {shape}")
        batch_size, num_frames, channels, height, width = pixel_values.shape
        if batch_size == 0:
            raise ValueError("`pixel_values` holds 0 clips: give at least one clip")
        if not pixel_values.is_floating_point():
            raise ValueError(
                f"`pixel_values` must be normalised floating-point clips, got {pixel_values.dtype}: pass uint8 frames "
                "through the video processor first"
            )
        if not torch.isfinite(pixel_values).all():
            raise ValueError("`pixel_values` holds NaN or infinite values")
        if channels != config.num_channels:
            raise ValueError(
                f"`pixel_values` has {channels} channels in dimension 2, the model takes {config.num_channels} "
                "(layout: batch, frames, channels, height, width)"
            )
        if num_frames != config.num_frames:
            raise ValueError(f"`pixel_values` has {num_frames} frames, the model takes num_frames={config.num_frames}")
        if height < patch_height or width < patch_width:
            raise ValueError(
                f"`pixel_values` frames are {height}x{width}; height and width must be at least the patch size "
                f"{patch_height}x{patch_width}"
            )

    def forward(
        self,
        pixel_values: torch.Tensor,
        boxes: list[torch.Tensor] | torch.Tensor,
        boxes_mask: torch.Tensor | None = None,
        labels: list[torch.Tensor] | torch.Tensor | None = None,
        gt_boxes: list[torch.Tensor] | torch.Tensor | None = None,
        gt_boxes_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_feature_map: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> VideoMAEActionDetectionOutput | tuple:
        r"""
        pixel_values (`torch.Tensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised clips (see the video processor). Any height and width >= the patch size.
        boxes (list of `batch_size` tensors `(num_boxes_i, 4)`, or a tensor `(batch_size, max_boxes, 4)`):
            Person boxes (proposals) per clip, x1 y1 x2 y2 in pixels of the input frame. A clip may have none.
        boxes_mask (`torch.BoolTensor` of shape `(batch_size, max_boxes)`, *optional*):
            With padded `boxes`: True for real boxes. Without it every row of a padded tensor is a box.
        labels (list of tensors `(num_gt_i, num_labels)`, or a tensor `(batch_size, max_gt, num_labels)`, *optional*):
            Multi-hot action targets of the ground-truth boxes (index `i` = AVA action id `i + 1`). Padded rows of a
            tensor are filled with -100 (the Trainer's padding) or marked by `gt_boxes_mask`. Requires `gt_boxes`.
        gt_boxes (list of tensors `(num_gt_i, 4)`, or a tensor `(batch_size, max_gt, 4)`, *optional*):
            Ground-truth person boxes, same units as `boxes`.
        gt_boxes_mask (`torch.BoolTensor` of shape `(batch_size, max_gt)`, *optional*):
            With padded `gt_boxes`: True for real boxes.
        output_feature_map (`bool`, *optional*):
            Also return the backbone's feature map.
        output_attentions (`bool`, *optional*):
            Also return each block's attention probabilities (needs `attn_implementation="eager"`).
        """
        if kwargs:
            raise TypeError(f"VideoMAEForActionDetection.forward got unexpected arguments: {sorted(kwargs)}")
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_attentions = bool(output_attentions if output_attentions is not None else self.config.output_attentions)
        self._check_attention_implementation(output_attentions)
        output_hidden_states = bool(output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states)

        tracing = _is_tracing()
        if not tracing:
            self._check_pixel_values(pixel_values)
        batch_size = pixel_values.shape[0]
        if isinstance(boxes, torch.Tensor) and labels is None:
            return self._forward_padded_boxes(pixel_values, boxes, boxes_mask, output_hidden_states,
                                              output_feature_map, output_attentions, return_dict, tracing)
        box_list = _as_box_list(boxes, boxes_mask, batch_size, "boxes")
        _check_boxes(box_list, "boxes")
        gt_box_list = label_list = None
        if labels is not None:
            if gt_boxes is None:
                raise ValueError("`labels` are the actions of `gt_boxes`: pass the ground-truth boxes too")
            gt_box_list = _as_box_list(gt_boxes, _ground_truth_mask(gt_boxes, labels, gt_boxes_mask), batch_size, "gt_boxes")
            _check_boxes(gt_box_list, "gt_boxes")
            label_list = _as_label_list(labels, gt_box_list, self.config.num_labels)

        feature_map, pooled_map, hidden_states, attentions = self._encode(pixel_values, output_hidden_states,
                                                                          output_attentions)
        device = pooled_map.device
        num_boxes = [len(clip_boxes) for clip_boxes in box_list]
        roi_boxes = [clip_boxes.to(device=device, dtype=torch.float32) for clip_boxes in box_list]
        box_logits = self.roi_head(pooled_map, roi_boxes)  # (sum of num_boxes, num_labels), clip by clip

        # (B, max boxes, num_labels), padding rows PADDING_LOGIT; the mask marks the real rows
        logits = pad_sequence(list(box_logits.split(num_boxes)), batch_first=True, padding_value=PADDING_LOGIT)
        mask = torch.arange(logits.shape[1], device=device)[None, :] < torch.tensor(num_boxes, device=device)[:, None]

        loss = None
        if label_list is not None:
            gt_roi_boxes = [clip_boxes.to(device=device, dtype=torch.float32) for clip_boxes in gt_box_list]
            roi_logits = torch.cat([box_logits, self.roi_head(pooled_map, gt_roi_boxes)])
            loss = self._loss(roi_logits, roi_boxes + gt_roi_boxes, num_boxes, gt_box_list, label_list)
        return self._output(logits, mask, feature_map, hidden_states, attentions, output_feature_map, return_dict,
                            loss=loss)

    def _encode(self, pixel_values, output_hidden_states: bool, output_attentions: bool):
        """The backbone: (feature map (B, C, T', h, w), its temporal mean (B, C, h, w), hidden states or None,
        attention probabilities per block or None)."""
        with _recorded_attentions(self.videomae.encoder, output_attentions) as attentions:
            feature_map, hidden_states = self.videomae(pixel_values, output_hidden_states=output_hidden_states)
        return feature_map, feature_map.mean(dim=2), hidden_states, tuple(attentions) if output_attentions else None

    @staticmethod
    def _output(logits, mask, feature_map, hidden_states, attentions, output_feature_map: bool, return_dict: bool,
                loss=None):
        output = VideoMAEActionDetectionOutput(
            loss=loss,
            logits=logits,
            boxes_mask=mask,
            feature_map=feature_map if output_feature_map else None,
            hidden_states=hidden_states,
            attentions=attentions,
        )
        return output if return_dict else output.to_tuple()

    def _forward_padded_boxes(self, pixel_values, boxes, boxes_mask, output_hidden_states, output_feature_map,
                              output_attentions, return_dict, tracing):
        """Inference on padded boxes `(B, N, 4)` and their mask `(B, N)`: every row goes through RoIAlign (padding
        rows too, then set to -100), so the graph has no data-dependent shapes or branches (torch.export with dynamic
        H, W and N, torch.compile(fullgraph=True), ONNX). Real rows are the same numbers as the list path's."""
        batch_size, num_boxes = boxes.shape[:2] if boxes.ndim == 3 else (None, None)
        if not tracing:
            if boxes.ndim != 3 or boxes.shape[0] != pixel_values.shape[0] or boxes.shape[-1] != 4:
                raise ValueError(f"`boxes` as a tensor must be padded (batch_size={pixel_values.shape[0]}, "
                                 f"num_boxes, 4), got {tuple(boxes.shape)}")
            if boxes_mask is not None and boxes_mask.shape != boxes.shape[:2]:
                raise ValueError(f"`boxes_mask` must have shape {tuple(boxes.shape[:2])} (one flag per box), got "
                                 f"{tuple(boxes_mask.shape)}")
            real = boxes.reshape(-1, 4) if boxes_mask is None else boxes[boxes_mask.bool()]
            _check_boxes([real], "boxes")
        feature_map, pooled_map, hidden_states, attentions = self._encode(pixel_values, output_hidden_states,
                                                                          output_attentions)
        batch_index = torch.arange(batch_size, device=pooled_map.device, dtype=torch.float32)
        batch_index = batch_index[:, None, None].expand(batch_size, num_boxes, 1)
        rois = torch.cat([batch_index, boxes.to(device=pooled_map.device, dtype=torch.float32)], dim=-1)
        logits = self.roi_head(pooled_map, rois.reshape(-1, 5)).reshape(batch_size, num_boxes, -1)
        if boxes_mask is None:
            mask = torch.ones((batch_size, num_boxes), dtype=torch.bool, device=logits.device)
        else:
            mask = boxes_mask.to(device=logits.device, dtype=torch.bool)
        logits = torch.where(mask[..., None], logits, torch.full_like(logits, PADDING_LOGIT))
        return self._output(logits, mask, feature_map, hidden_states, attentions, output_feature_map, return_dict)

    def _check_attention_implementation(self, output_attentions: bool) -> None:
        """Clear errors where the chosen attention back-end cannot give what is asked."""
        implementation = self.config._attn_implementation
        if output_attentions and implementation not in ("eager", None):
            raise ValueError(
                f"output_attentions=True needs eager attention (the {implementation!r} kernel does not return the "
                "probabilities): load with attn_implementation='eager' or call model.set_attn_implementation('eager')"
            )

    def _loss(self, roi_logits, roi_boxes, num_boxes, gt_box_list, label_list) -> torch.Tensor:
        """mmaction2's training loss over the RoIs `[proposals of clip 0, ..., of clip B-1, gt of clip 0, ...]`."""
        config = self.config
        batch_size = len(num_boxes)
        proposal_offsets = [sum(num_boxes[:b]) for b in range(batch_size)]
        gt_offset = sum(num_boxes)
        selected_logits, selected_targets = [], []
        for b in range(batch_size):
            proposals, gt, targets = roi_boxes[b], roi_boxes[batch_size + b], label_list[b].to(roi_logits.device)
            assigned, _ = assign_proposals_to_ground_truth(
                proposals, gt, config.assigner_pos_iou_threshold, config.assigner_min_pos_iou
            )
            roi_indices, gt_indices = select_positive_rois(
                len(proposals), assigned, len(gt), config.sampler_num, config.sampler_add_gt_as_proposals
            )
            is_gt = roi_indices >= len(proposals)
            global_indices = torch.where(
                is_gt, roi_indices - len(proposals) + gt_offset, roi_indices + proposal_offsets[b]
            )
            selected_logits.append(roi_logits[global_indices])
            selected_targets.append(targets[gt_indices])
            gt_offset += len(gt)
        return action_classification_loss(
            torch.cat(selected_logits), torch.cat(selected_targets), config.focal_gamma, config.focal_alpha
        )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a detection checkpoint, or start from a transformers VideoMAE checkpoint (see the class docstring).

        For a VideoMAE checkpoint, the detection config is built from its architecture fields plus this class's
        detection defaults; keyword arguments naming config fields (e.g. `drop_path_rate=0.1`) override them.
        """
        if kwargs.get("config") is None:
            videomae_config = _videomae_checkpoint_config(pretrained_model_name_or_path, kwargs)
            if videomae_config is not None:
                config_fields = set(VideoMAEActionDetectionConfig.__dataclass_fields__) - {"dtype"}
                overrides = {key: kwargs.pop(key) for key in list(kwargs) if key in config_fields}
                kwargs["config"] = cls.config_class.from_videomae_config(videomae_config, **overrides)
                wants_info = kwargs.pop("output_loading_info", False)
                model, info = super().from_pretrained(
                    pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
                )
                logger.warning(
                    f"Started VideoMAEForActionDetection from the VideoMAE checkpoint {pretrained_model_name_or_path}. "
                    f"Newly initialised: {sorted(info['missing_keys'])}. Not used: {sorted(info['unexpected_keys'])}."
                )
                return (model, info) if wants_info else model
        return super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)


class _recorded_attentions:
    """Context manager collecting the attention probabilities of each block of `encoder` (a list, in block order)
    from transformers' `VideoMAESelfAttention`, which returns `(context, probabilities)`."""

    def __init__(self, encoder: nn.Module, enabled: bool):
        self.modules = [layer.attention.attention for layer in encoder.layer] if enabled else []
        self.attentions: list[torch.Tensor] = []
        self.handles = []

    def __enter__(self) -> list[torch.Tensor]:
        for module in self.modules:
            self.handles.append(module.register_forward_hook(lambda _, __, output: self.attentions.append(output[1])))
        return self.attentions

    def __exit__(self, *exc_info):
        for handle in self.handles:
            handle.remove()
        return False


_HUB_KWARGS = ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder", "proxies")


def _videomae_checkpoint_config(pretrained_model_name_or_path, kwargs) -> VideoMAEConfig | None:
    """The checkpoint's config when it is a transformers VideoMAE one (model_type "videomae"), else None."""
    hub_kwargs = {key: kwargs[key] for key in _HUB_KWARGS if key in kwargs}
    config_dict, _ = VideoMAEConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
    if config_dict.get("model_type") != "videomae":
        return None
    return VideoMAEConfig.from_dict(config_dict)


__all__ = [
    "VideoMAEActionDetectionOutput",
    "VideoMAEActionDetectionPreTrainedModel",
    "VideoMAEForActionDetection",
]
