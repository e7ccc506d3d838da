"""mmaction2's two VideoMAE AVA-Kinetics recipes (ViT-B, ViT-L): architecture, optimisation, schedule, released files
and the mAP mmaction2 reports. The one place these numbers live: the model-card generator, the checkpoint converter
and the training script read them from here.

Sources (mmaction2 1.2.0, `configs/detection/videomae/`):
- `vit-{base,large}-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py`: architecture, AdamW lr / wd,
  layer-wise lr decay, 20 epochs = 5 linear warm-up epochs (factor 0.1 -> 1) + 15 cosine epochs to 0, gradient
  clipping at norm 40, drop path 0.2, head dropout 0.5; total batch 8 GPUs x 8 clips = 64 (the file name's `8xb8`).
- `README.md` and `metafile.yml`: the mAP on AVA v2.2 val (33.6 / 38.7) and the released checkpoints. The metafile
  lists ViT-L with batch 128 on 32 GPUs, contradicting the README (8 GPUs) and the config name (8xb8 = 64); the lr
  in the config (2.5e-4) is what the config file sets for its batch of 64 (see `DetectionRecipe.batch_size_note`).
- The backbone starts from mmaction2's Kinetics-400 fine-tuned recognition checkpoints (`init_cfg` of the configs),
  which mmaction2 ported from the original VideoMAE repository.

OpenMMLab's `publish_model.py` names a released file `<name>_<date>-<first 8 hex digits of its sha256>.pth`, so the
suffix identifies the exact file (`expected_sha256_prefix`).
"""

import re
from dataclasses import asdict, dataclass

MMACTION2_DOWNLOAD = "https://download.openmmlab.com/mmaction/v1.0"
MMACTION2_DETECTION_README = "https://github.com/open-mmlab/mmaction2/tree/main/configs/detection/videomae"
MMACTION2_RECOGNITION_README = "https://github.com/open-mmlab/mmaction2/tree/main/configs/recognition/videomae"

# How the reported numbers were measured, as far as mmaction2's configs, README and logs tell.
REPORTED_EVALUATION_PROTOCOL = (
    "frame-mAP@0.5IoU on AVA v2.2 val over the 60 evaluated classes "
    "(ava_action_list_v2.2_for_activitynet_2019.pbtxt), with the excluded timestamps, FAIR person proposals "
    "(score >= 0.9, else the best box) on the annotated keyframes only, one 16x4 clip per keyframe at short side 256. "
    "The checkpoints are dated 2023-03-14, before mmaction2 PR #2146 (2023-04-06) replaced its evaluator, so the "
    "numbers were most likely produced by the earlier mmaction2 evaluator: the TF Object Detection API "
    "PascalDetectionEvaluator (AP 0 for a class with ground truth but no detections), detections written to CSV "
    "with 3 decimals, no cap of 50 detections per keyframe. Not the official ActivityNet script."
)


@dataclass(frozen=True)
class ReleasedCheckpoint:
    """A file mmaction2 publishes: its name, download URL, and what its name says about its sha256."""

    file_name: str
    url: str

    @property
    def expected_sha256_prefix(self) -> str:
        """The 8 hex digits OpenMMLab's `publish_model.py` appends to the name: the start of the file's sha256."""
        match = re.search(r"-([0-9a-f]{8})\.pth$", self.file_name)
        if match is None:
            raise ValueError(f"{self.file_name}: no `-<8 hex digits>.pth` sha256 suffix")
        return match.group(1)


@dataclass(frozen=True)
class DetectionRecipe:
    """One of mmaction2's VideoMAE AVA-Kinetics detectors: architecture, training recipe, release and reported mAP.

    Architecture (`hidden_size` ... `intermediate_size`): the ViT backbone; every other architecture setting is a
    default of `VideoMAEActionDetectionConfig` (patch 16, tubelet 2, 16 frames, 224 pre-training grid, eps 1e-6,
    RoIAlign 8, head dropout 0.5).

    Optimisation: AdamW (`learning_rate`, `weight_decay`, betas `adam_betas`, eps `adam_epsilon`) for a total batch
    of `batch_size` clips, with layer-wise lr decay `layer_decay` (see `training/optimization.py`), gradient
    clipping at L2 norm `max_grad_norm`, fp32.

    Schedule: `epochs` epochs; the first `warmup_epochs` ramp the lr linearly from `warmup_start_factor` x lr to lr,
    then a cosine to 0 over the remaining epochs, both stepped per iteration.

    Data pipeline (mmaction2's `train_pipeline` / `val_pipeline`): clips of `clip_len` frames `frame_interval` apart
    on the 30 fps timeline around the keyframe; training rescales the short side to a random integer in
    `train_short_side_range` (both ends included), crops `train_crop_size` x `train_crop_size` at random and flips
    horizontally with probability `flip_ratio`; evaluation resizes the short side to `test_short_side`, no crop.
    """

    variant: str
    model_name: str
    mmaction2_config: str

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    drop_path_rate: float

    learning_rate: float
    batch_size: int
    weight_decay: float
    layer_decay: float
    epochs: int
    warmup_epochs: int
    warmup_start_factor: float
    max_grad_norm: float
    adam_betas: tuple[float, float]
    adam_epsilon: float
    batch_size_note: str

    clip_len: int
    frame_interval: int
    train_short_side_range: tuple[int, int]
    train_crop_size: int
    flip_ratio: float
    test_short_side: int

    detection_checkpoint: ReleasedCheckpoint
    backbone_checkpoint: ReleasedCheckpoint
    reported_map: float  # percent, frame-mAP@0.5IoU on AVA v2.2 val (60 classes), REPORTED_EVALUATION_PROTOCOL

    def config_kwargs(self) -> dict:
        """The `VideoMAEActionDetectionConfig` fields this recipe sets (everything else is the config's default)."""
        return {
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "drop_path_rate": self.drop_path_rate,
        }

    def architecture(self) -> tuple[int, int, int, int]:
        """(hidden size, layers, heads, MLP size)."""
        return (self.hidden_size, self.num_hidden_layers, self.num_attention_heads, self.intermediate_size)

    def to_dict(self) -> dict:
        return asdict(self)


def _detection_release(config_name: str, date_and_hash: str) -> ReleasedCheckpoint:
    file_name = f"{config_name}_{date_and_hash}.pth"
    return ReleasedCheckpoint(file_name, f"{MMACTION2_DOWNLOAD}/detection/videomae/{config_name}/{file_name}")


def _recognition_release(file_name: str) -> ReleasedCheckpoint:
    return ReleasedCheckpoint(file_name, f"{MMACTION2_DOWNLOAD}/recognition/videomae/{file_name}")


_COMMON = dict(
    drop_path_rate=0.2,
    batch_size=64,
    weight_decay=0.05,
    epochs=20,
    warmup_epochs=5,
    warmup_start_factor=0.1,
    max_grad_norm=40.0,
    adam_betas=(0.9, 0.999),
    adam_epsilon=1e-8,
    clip_len=16,
    frame_interval=4,
    train_short_side_range=(256, 320),
    train_crop_size=256,
    flip_ratio=0.5,
    test_short_side=256,
)

VIT_BASE = DetectionRecipe(
    variant="base",
    model_name="videomae-base-ava-kinetics",
    mmaction2_config="vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb",
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    learning_rate=1.25e-4,
    layer_decay=0.75,
    batch_size_note="8 GPUs x 8 clips; the config name, README and metafile agree",
    detection_checkpoint=_detection_release(
        "vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb", "20230314-3dafab75"
    ),
    backbone_checkpoint=_recognition_release("vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-860a3cd3.pth"),
    reported_map=33.6,
    **_COMMON,
)

VIT_LARGE = DetectionRecipe(
    variant="large",
    model_name="videomae-large-ava-kinetics",
    mmaction2_config="vit-large-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb",
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=4096,
    learning_rate=2.5e-4,
    layer_decay=0.8,
    batch_size_note=(
        "8 GPUs x 8 clips per the config name and README; mmaction2's metafile.yml says batch 128 on 32 GPUs, so the "
        "batch the released ViT-L was trained with is uncertain"
    ),
    detection_checkpoint=_detection_release(
        "vit-large-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb", "20230314-bf93c9ea"
    ),
    backbone_checkpoint=_recognition_release("vit-large-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-229dbb03.pth"),
    reported_map=38.7,
    **_COMMON,
)

RECIPES: dict[str, DetectionRecipe] = {recipe.variant: recipe for recipe in (VIT_BASE, VIT_LARGE)}


def recipe_for_variant(variant: str) -> DetectionRecipe:
    """The recipe named `variant` ("base" or "large"); ValueError naming the choices otherwise."""
    try:
        return RECIPES[variant]
    except KeyError:
        raise ValueError(f"variant must be one of {sorted(RECIPES)}, got {variant!r}") from None


def recipe_for_architecture(hidden_size: int, num_hidden_layers: int, num_attention_heads: int, intermediate_size: int):
    """The recipe with exactly this backbone architecture, or None (e.g. a tiny test model)."""
    for recipe in RECIPES.values():
        if recipe.architecture() == (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size):
            return recipe
    return None


__all__ = [
    "MMACTION2_DETECTION_README",
    "MMACTION2_RECOGNITION_README",
    "RECIPES",
    "REPORTED_EVALUATION_PROTOCOL",
    "DetectionRecipe",
    "ReleasedCheckpoint",
    "VIT_BASE",
    "VIT_LARGE",
    "recipe_for_architecture",
    "recipe_for_variant",
]
