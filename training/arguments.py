"""The training command's arguments: `ModelArguments`, `DataArguments` and `ActionDetectionTrainingArguments`
(transformers' `TrainingArguments` with mmaction2's ViT-B recipe as defaults), and how a command line or a JSON file
becomes them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, TrainingArguments

from .recipe import VIT_BASE


@dataclass
class ModelArguments:
    """Where the model starts from."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "A transformers VideoMAE checkpoint (backbone, e.g. a Kinetics-400 fine-tuned VideoMAE) or a "
                  "VideoMAEForActionDetection folder; a local path or a Hub id. None: a new model from --config_name."},
    )
    config_name: str | None = field(
        default=None,
        metadata={"help": "A config for a model trained from scratch: a config.json path or folder, or a preset "
                  "('toy', 'base', 'large'). Default: 'toy' on the toy set."},
    )
    config_overrides: str | None = field(
        default=None, metadata={"help": "Config fields to set, e.g. 'hidden_size=64,num_hidden_layers=1'."}
    )
    drop_path_rate: float | None = field(
        default=None, metadata={"help": "Stochastic depth (default: the recipe's 0.2, or the config's)."}
    )
    layer_decay: float | None = field(
        default=None,
        metadata={"help": "Layer-wise lr decay (default: the recipe's, 0.75 for ViT-B, 0.8 for ViT-L and for other "
                  "sizes 0.75)."},
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Hub download cache."})


@dataclass
class DataArguments:
    """The data set and how clips are sampled and evaluated."""

    data_dir: str | None = field(
        default=None,
        metadata={"help": "AVA / AVA-Kinetics folder (annotations/, videos/ or frames/). None: the toy set."},
    )
    dataset_config_name: str = field(default="ava", metadata={"help": "Builder config: 'ava' or 'ava_kinetics'."})
    dataset_cache_dir: str | None = field(default=None, metadata={"help": "datasets cache folder."})
    toy_data_dir: str | None = field(
        default=None,
        metadata={"help": "Where the toy set is generated (once) when --data_dir is not given (default: "
                  "$VIDEOMAE_TOY_DATA_DIR or ~/.cache/videomae_action_detection/toy-ava/v<version>-seed<seed>)."},
    )
    toy_seed: int = field(default=0, metadata={"help": "Seed of the toy set."})
    transcoded_dir: str | None = field(
        default=None,
        metadata={"help": "Read the videos from this transcoded store (videomae-ava-dataset DATA --transcode DIR: 30 "
                  "fps, short side 320, GOP 16; cheap clip reading). Default: the original videos."},
    )
    frame_interval: int = field(default=4, metadata={"help": "Stride of the clip's frames on the 30 fps timeline."})
    person_det_score_thr: float = field(
        default=0.9, metadata={"help": "Proposals with score >= min(thr, best score) are kept (mmaction2)."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use the first N training keyframes."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use the first N validation keyframes."})
    short_side: int | None = field(default=None, metadata={"help": "Evaluation short side (default 256)."})
    train_scale_range: list[int] | None = field(
        default=None, metadata={"help": "Training short side range, both ends included (default 256 320)."}
    )
    crop_size: list[int] | None = field(
        default=None, metadata={"help": "Training crop: SIZE or HEIGHT WIDTH (default 256)."}
    )
    evaluation_protocol: str = field(
        default="activitynet-2020",
        metadata={"help": "AVA frame-mAP protocol: 'activitynet-2020' (official, default), 'activitynet-2019' or "
                  "'mmaction2' (the one mmaction2's published numbers use)."},
    )
    label_map: str | None = field(
        default=None,
        metadata={"help": "The actions the model learns: a label map .pbtxt (`label {name label_id}` or `item {name "
                  "id}` blocks) of the data set's action ids. The model gets one output per action, in file order, "
                  "named by it; ground-truth boxes with none of these actions are dropped (mmaction2's "
                  "custom_classes). Default: all 80 AVA actions (or the starting checkpoint's actions)."},
    )
    label_map_file: str | None = field(
        default=None,
        metadata={"help": "Evaluated classes (.pbtxt; default: the --label_map actions when given, else annotations/"
                  "ava_action_list_v2.2_for_activitynet_2019.pbtxt of the data folder)."},
    )
    slow_clip_seconds: float = field(
        default=30.0, metadata={"help": "Warn, naming the file, when reading one clip takes longer than this."}
    )


@dataclass
class ActionDetectionTrainingArguments(TrainingArguments):
    """`TrainingArguments` with mmaction2's ViT-B AVA-Kinetics recipe as defaults, plus its lr scaling and warm-up.

    Unless `--learning_rate` is given, the lr is `base_learning_rate * total batch / base_batch_size` (1.25e-4 for
    64 clips), the total batch being per-device batch x processes x gradient accumulation.
    """

    output_dir: str | None = field(default="videomae-ava-action-detection", metadata={"help": "Output folder."})
    base_learning_rate: float = field(
        default=VIT_BASE.learning_rate, metadata={"help": "Recipe lr for a total batch of --base_batch_size."}
    )
    base_batch_size: int = field(default=VIT_BASE.batch_size, metadata={"help": "Total batch of the recipe lr."})
    warmup_epochs: float = field(default=VIT_BASE.warmup_epochs, metadata={"help": "Linear warm-up epochs."})
    warmup_start_factor: float = field(
        default=VIT_BASE.warmup_start_factor, metadata={"help": "The warm-up starts at this fraction of the lr."}
    )
    learning_rate: float = field(default=VIT_BASE.learning_rate, metadata={"help": "Overrides the scaled lr."})
    num_train_epochs: float = field(default=float(VIT_BASE.epochs), metadata={"help": "Training epochs."})
    weight_decay: float = field(default=VIT_BASE.weight_decay, metadata={"help": "AdamW weight decay."})
    adam_beta1: float = field(default=VIT_BASE.adam_betas[0], metadata={"help": "AdamW beta1."})
    adam_beta2: float = field(default=VIT_BASE.adam_betas[1], metadata={"help": "AdamW beta2."})
    adam_epsilon: float = field(default=VIT_BASE.adam_epsilon, metadata={"help": "AdamW epsilon."})
    max_grad_norm: float = field(default=VIT_BASE.max_grad_norm, metadata={"help": "Gradient clipping norm."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Clips per device per step."})
    per_device_eval_batch_size: int = field(
        default=1, metadata={"help": "Clips per device in evaluation (1 as mmaction2: clips of different aspect "
                             "ratios do not stack)."}
    )
    eval_strategy: str = field(default="epoch", metadata={"help": "Evaluate every epoch."})
    save_strategy: str = field(default="epoch", metadata={"help": "Checkpoint every epoch."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Keep the last N checkpoints."})
    logging_steps: float = field(default=10, metadata={"help": "Log every N steps."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Must stay False (clips are read lazily)."})
    optim: str = field(
        default="adamw_torch",
        metadata={"help": "Optimizer (any of transformers' `--optim` names), built over the layer-wise lr decay groups. "
                  "Default: torch's AdamW, as the recipe."},
    )


def explicit_flags(argv: list[str]) -> set[str]:
    """The argument names given on the command line (`--name value` or `--name=value`)."""
    return {item[2:].split("=", 1)[0].replace("-", "_") for item in argv if item.startswith("--")}


def parse_arguments(argv: list[str]):
    parser = HfArgumentParser((ModelArguments, DataArguments, ActionDetectionTrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(os.path.abspath(argv[0]))
        flags = set(json.loads(Path(argv[0]).read_text()))
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
        flags = explicit_flags(argv)
    return model_args, data_args, training_args, flags
