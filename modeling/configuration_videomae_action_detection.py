"""Configuration of `VideoMAEForActionDetection`, the VideoMAE spatio-temporal action detector of mmaction2.

This file is part of the model's remote code: it imports only transformers and its sibling files.
"""

from transformers import VideoMAEConfig
from transformers.utils import logging

from .ava_labels import NUM_AVA_ACTIONS, ava_id2label


logger = logging.get_logger(__name__)

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

    Label fields:

    id2label (`dict[int, str]`, defaults to the 80 official AVA names) / num_labels / label2id:
        As every transformers classifier. The AVA vocabulary is the default only when the caller gives neither
        `id2label` nor a `num_labels` other than 80; `label2id` is always the inverse of `id2label`.
    action_ids (`list[int]`, *optional*):
        The data set's action id (the `label_id` of its label map `.pbtxt`, written in the detection CSV) of each
        classifier output: `action_ids[i]` for output `i`. None (the default) means `i + 1`, which is AVA's
        numbering for the 80-action vocabulary. A model trained on a subset of AVA (e.g. the toy set's 7 actions)
        keeps the AVA ids here. Changing `num_labels` resets it.
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

    action_ids: list[int] | None = None

    def __post_init__(self, **kwargs):
        # `id2label` is a dataclass field (never in kwargs): AVA names only when the caller chose no labels at all.
        if self.id2label is None and kwargs.get("num_labels", NUM_AVA_ACTIONS) == NUM_AVA_ACTIONS:
            kwargs.pop("num_labels", None)
            self.id2label = ava_id2label()
        elif self.id2label is not None and kwargs.get("num_labels") not in (None, len(self.id2label)):
            # `from_pretrained(folder, num_labels=K)` lands here: a new head of K outputs with generic names.
            logger.warning(
                f"num_labels={kwargs['num_labels']} replaces the {len(self.id2label)} labels of id2label with "
                "LABEL_0, LABEL_1, ... (pass id2label to name them)"
            )
            self.id2label = self.label2id = self.action_ids = None
        given_label2id, given_action_ids = self.label2id, self.action_ids  # the parent re-sets id2label
        super().__post_init__(**kwargs)
        self.label2id = _checked_label2id(self.id2label, given_label2id)
        self.action_ids = _checked_action_ids(given_action_ids, self.num_labels)
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

    def __setattr__(self, key, value):
        super().__setattr__(key, value)
        if key == "id2label" and value is not None:
            # A new vocabulary (e.g. `from_pretrained(folder, id2label=...)`) brings its own inverse; action ids of
            # another number of outputs no longer apply.
            id2label = {int(index): name for index, name in value.items()}
            super().__setattr__("id2label", id2label)
            super().__setattr__("label2id", {name: index for index, name in id2label.items()})
            action_ids = self.__dict__.get("action_ids")
            if action_ids is not None and len(action_ids) != len(id2label):
                super().__setattr__("action_ids", None)

    @property
    def num_labels(self) -> int | None:
        """The number of classifier outputs (the length of `id2label`)."""
        return len(self.id2label) if self.id2label is not None else None

    @num_labels.setter
    def num_labels(self, num_labels: int):
        """A new number of outputs gets generic names `LABEL_i` (transformers' rule) and action ids `i + 1`."""
        if self.id2label is None or len(self.id2label) != num_labels:
            self.id2label = {index: f"LABEL_{index}" for index in range(num_labels)}
            self.label2id = {name: index for index, name in self.id2label.items()}
            self.action_ids = None

    @property
    def label_action_ids(self) -> list[int]:
        """The action id of each classifier output (`action_ids`, or `i + 1` when it is None)."""
        return list(self.action_ids) if self.action_ids is not None else list(range(1, self.num_labels + 1))

    def index_to_action_id(self, index: int) -> int:
        """Classifier output index -> the data set's action id."""
        if not 0 <= int(index) < self.num_labels:
            raise ValueError(f"classifier indices run from 0 to {self.num_labels - 1}, got {index}")
        return self.label_action_ids[int(index)]

    def action_id_to_index(self, action_id: int) -> int:
        """The data set's action id -> classifier output index (ValueError for an id the model does not score)."""
        ids = self.label_action_ids
        if int(action_id) not in ids:
            raise ValueError(f"action id {action_id} is not one of the model's {len(ids)} actions {ids}")
        return ids.index(int(action_id))

    @property
    def is_ava_vocabulary(self) -> bool:
        """True for the 80 AVA actions in AVA order (output `i` is action id `i + 1`)."""
        return self.num_labels == NUM_AVA_ACTIONS and self.label_action_ids == list(range(1, NUM_AVA_ACTIONS + 1))


def _checked_label2id(id2label: dict[int, str], label2id: dict | None) -> dict[str, int]:
    """`label2id` as the inverse of `id2label`; a given one that disagrees with it is a ValueError."""
    inverse = {name: index for index, name in id2label.items()}
    if len(inverse) != len(id2label):
        raise ValueError(f"id2label gives two outputs the same name: {id2label}")
    if label2id is not None and {str(name): int(index) for name, index in label2id.items()} != inverse:
        raise ValueError(f"label2id {label2id} is not the inverse of id2label {id2label}")
    return inverse


def _checked_action_ids(action_ids, num_labels: int) -> list[int] | None:
    """`action_ids` as distinct positive integers, one per classifier output (None stays None)."""
    if action_ids is None:
        return None
    ids = [int(value) for value in action_ids]
    if len(ids) != num_labels or len(set(ids)) != len(ids) or min(ids, default=1) < 1 or ids != list(action_ids):
        raise ValueError(
            f"action_ids must be {num_labels} distinct positive integers (one per classifier output), got {action_ids}"
        )
    return ids


__all__ = ["VideoMAEActionDetectionConfig"]
