"""Configuration of `VideoMAEForActionDetection`, the VideoMAE spatio-temporal action detector of mmaction2.

This file is part of the model's remote code: it imports only transformers and its sibling files.
"""

from transformers import VideoMAEConfig

from .ava_labels import NUM_AVA_ACTIONS, ava_id2label


# The fields of a transformers VideoMAE config that fix the shape of its backbone weights.
VIDEOMAE_ARCHITECTURE_FIELDS = (
    "image_size",
    "patch_size",
    "num_channels",
    "num_frames",
    "tubelet_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "qv_bias",
    "initializer_range",
)


class VideoMAEActionDetectionConfig(VideoMAEConfig):
    r"""
    Configuration of a VideoMAE backbone with an AVA RoI action head. The defaults are the ViT-B recipe of mmaction2's
    `vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py`.

    Backbone fields are those of `VideoMAEConfig` (hidden size 768, 12 layers, 12 heads, MLP 3072, patch 16,
    tubelet 2, 16 frames), with these differences from its defaults:

    image_size (`int` or `(height, width)`, defaults to 224):
        The pre-training input size. It fixes the grid of the sinusoid position table (224 / 16 = 14 x 14 per temporal
        slot); at run time the table is resized bicubically to the grid of the actual input, so any input size works.
    layer_norm_eps (`float`, defaults to 1e-6):
        As mmaction2 and the original VideoMAE (transformers' VideoMAE default is 1e-12).
    use_mean_pooling (`bool`, defaults to `False`):
        The backbone ends with a final LayerNorm (`videomae.layernorm`) and keeps the token grid.
    drop_path_rate (`float`, defaults to 0.2):
        Stochastic depth; block `i` of `L` drops its residual branches with probability `drop_path_rate * i / (L - 1)`.

    Head fields:

    roi_output_size (`int`, defaults to 8):
        RoIAlign output size (8 x 8) on the time-averaged feature map, whose stride is `patch_size`.
    roi_sampling_ratio (`int`, defaults to 0):
        RoIAlign sampling points per bin (0: adaptive, `ceil(roi_size / output_size)`).
    roi_aligned (`bool`, defaults to `True`):
        RoIAlign with the half-pixel offset (`aligned=True` in torchvision and mmcv).
    head_dropout (`float`, defaults to 0.5):
        Dropout on the RoI features before the spatial max pooling.

    Training-assignment fields (mmaction2's `MaxIoUAssignerAVA` and `RandomSampler`):

    assigner_pos_iou_threshold (`float`, defaults to 0.9):
        A proposal is positive when its best IoU with a ground-truth box is at least this.
    assigner_min_pos_iou (`float`, defaults to 0.9):
        Low-quality matching: each ground-truth box also takes every proposal whose IoU with it equals its best IoU,
        when that best IoU is at least this.
    sampler_num (`int`, defaults to 32):
        At most this many positives per clip enter the loss (a random subset when there are more).
    sampler_add_gt_as_proposals (`bool`, defaults to `True`):
        Ground-truth boxes are added to the proposals (as positives of themselves) before sampling.

    Loss fields:

    focal_gamma (`float`, defaults to 0.0) and focal_alpha (`float`, defaults to 1.0):
        The loss is `alpha * (1 - p_t) ** gamma * BCE`, averaged over the positives x 80 actions; the defaults give
        plain binary cross-entropy, as mmaction2 trains.

    The classifier has `num_labels` (80) outputs with the official AVA names in `id2label`: output `i` is AVA action
    id `i + 1`.
    """

    model_type = "videomae_action_detection"

    layer_norm_eps: float = 1e-6
    use_mean_pooling: bool = False
    drop_path_rate: float = 0.2

    roi_output_size: int = 8
    roi_sampling_ratio: int = 0
    roi_aligned: bool = True
    head_dropout: float = 0.5

    assigner_pos_iou_threshold: float = 0.9
    assigner_min_pos_iou: float = 0.9
    sampler_num: int = 32
    sampler_add_gt_as_proposals: bool = True

    focal_gamma: float = 0.0
    focal_alpha: float = 1.0

    def __post_init__(self, **kwargs):
        if "id2label" not in kwargs and kwargs.get("num_labels", NUM_AVA_ACTIONS) == NUM_AVA_ACTIONS:
            kwargs.pop("num_labels", None)
            kwargs["id2label"] = ava_id2label()
        super().__post_init__(**kwargs)
        if self.use_mean_pooling:
            raise ValueError(
                "VideoMAEActionDetectionConfig needs use_mean_pooling=False: the detector keeps the token grid and ends "
                "with a final LayerNorm"
            )
        if self.num_frames % self.tubelet_size:
            raise ValueError(f"num_frames ({self.num_frames}) must be a multiple of tubelet_size ({self.tubelet_size})")

    @classmethod
    def from_videomae_config(cls, videomae_config: VideoMAEConfig, **overrides) -> "VideoMAEActionDetectionConfig":
        """Detection config with the backbone architecture of a transformers `VideoMAEConfig` and this class's
        detection defaults (final LayerNorm with eps 1e-6, the AVA vocabulary, ...); `overrides` set any field."""
        fields = {name: getattr(videomae_config, name) for name in VIDEOMAE_ARCHITECTURE_FIELDS}
        fields.update(overrides)
        return cls(**fields)

    @property
    def roi_spatial_scale(self) -> float:
        """Feature-map cells per input pixel: the backbone's stride is the patch size."""
        return 1.0 / self.patch_size

    @property
    def is_ava_vocabulary(self) -> bool:
        return self.num_labels == NUM_AVA_ACTIONS


__all__ = ["VideoMAEActionDetectionConfig"]
