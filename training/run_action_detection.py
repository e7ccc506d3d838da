"""Finetune `VideoMAEForActionDetection` on AVA / AVA-Kinetics with the transformers `Trainer`, evaluate frame-mAP each
epoch, and save a Hub-ready folder (model, video processor, model card with the measured mAP).

    # no arguments: generate the toy AVA-format set (once, into a cache folder), train a small model on the CPU
    python -m videomae_action_detection.training.run_action_detection
    # the mmaction2 ViT-B recipe on AVA (8 GPUs x 8 clips; lr 1.25e-4 for a total batch of 64, scaled linearly)
    torchrun --nproc_per_node 8 -m videomae_action_detection.training.run_action_detection \
        --model_name_or_path <VideoMAE K400 checkpoint or detection folder> --data_dir /data/ava \
        --output_dir videomae-base-ava --dataloader_num_workers 8

Arguments: `ModelArguments`, `DataArguments` and `ActionDetectionTrainingArguments` (transformers'
`TrainingArguments` with mmaction2's recipe as defaults: AdamW, weight decay 0.05 with none on biases, norms and 1-D
parameters, layer-wise lr decay, 5 linear warm-up epochs from 0.1x then a cosine to 0 over the other 15 of 20
epochs, per iteration, gradient clipping at norm 40; evaluation and a checkpoint every epoch).

Data: each example is one annotated keyframe of the `ava` / `ava_kinetics` builder (`training/ava_dataset.py`).
Its clip is read in the DataLoader workers (`read_clip`, training sampling with random frame offsets for training;
in evaluation a batch's keyframes of one video are read together with `read_clips`: one open, one forward decode per
run of overlapping clips), then the video processor applies the training augmentation (random rescale, crop, flip) or the evaluation resize.
Training boxes are the person proposals (score >= 0.9, else the best one; mmaction2's rule) plus the ground truth,
which the model adds itself; evaluation scores every proposal of every keyframe exactly once.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # Run as a file (`python training/run_action_detection.py`, `torchrun training/run_action_detection.py`): run the
    # installed module instead, whose relative imports resolve.
    import runpy

    runpy.run_module("videomae_action_detection.training.run_action_detection", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import numpy as np
import torch
from transformers import HfArgumentParser, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..modeling import (
    AVA_ACTION_NAMES,
    AVA_ACTION_TYPES,
    NUM_AVA_ACTIONS,
    VideoMAEActionDetectionConfig,
    VideoMAEForActionDetection,
)
from ..processing import ava_video_processor, read_clip, read_clips
from ..processing.inference.pipeline import add_pipeline_code
from ..processing.formats.detections import MMACTION2_ACTION_THRESHOLD, detections_from_outputs, keyframe_key
from .ava_evaluation import groundtruth_from_references, outcome_to_metrics
from ..processing.formats.ava_files import read_label_map, write_detections_csv
from .ava_frame_map_engine import FrameMapOutcome
from .ava_protocols import PROTOCOLS
from .optimization import layer_decay_parameter_groups, scaled_learning_rate, warmup_cosine_schedule
from .recipe import VIT_BASE, DetectionRecipe, recipe_for_architecture, recipe_for_variant

logger = logging.getLogger("videomae_action_detection.train")

PROTOCOL_DESCRIPTIONS = {
    "activitynet-2020": "the official ActivityNet AVA evaluator (2020 version, keyframes of the ground-truth file)",
    "activitynet-2019": "the official ActivityNet AVA evaluator (2019 version, with the excluded timestamps)",
    "mmaction2": "mmaction2's AVAMetric (action score > 0.002; classes without detections left out)",
}

# The toy preset: what it changes from the ViT-B recipe, and why (printed in the log).
TOY_MODEL_CONFIG = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    num_frames=8,
    image_size=(144, 160),
    drop_path_rate=0.0,
    head_dropout=0.2,
)
TOY_TRAINING = {
    "learning_rate": (3e-3, "a small model trained from scratch takes a larger lr than finetuning a pre-trained ViT-B"),
    "layer_decay": (1.0, "no pre-trained layers to protect: every layer learns at the full lr"),
    "num_train_epochs": (20.0, "20 epochs of the toy set (1500 steps) train it in minutes on 2 CPU cores"),
    "warmup_epochs": (1.0, "a short warm-up suits the short schedule"),
    "per_device_train_batch_size": (8, "small batches: more steps on a small set"),
    "per_device_eval_batch_size": (8, "toy clips share one size, so they batch"),
    "frame_interval": (8, "8 frames 8 apart: the same 64-frame (2.1 s) window as the recipe's 16 x 4, at half the cost"),
    "dataloader_num_workers": (2, "decode clips beside the training process"),
}
TOY_PROCESSOR = dict(size={"shortest_edge": 144}, crop_size={"height": 144, "width": 160}, scale_range=[144, 160])


# ----------------------------------------------------------------------------------------------------------------
# arguments


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


def precision_description(training_args: TrainingArguments) -> str:
    """What `--bf16` / `--fp16` mean for this run, for the log: autocast around the forward (training and
    evaluation), with the weights, gradients and AdamW state kept in fp32."""
    if training_args.bf16 or training_args.fp16:
        name = "bf16" if training_args.bf16 else "fp16"
        return f"{name} autocast in training and evaluation; weights, gradients and optimizer state in fp32"
    return "fp32"


def explicit_flags(argv: list[str]) -> set[str]:
    """The argument names given on the command line (`--name value` or `--name=value`)."""
    return {item[2:].split("=", 1)[0].replace("-", "_") for item in argv if item.startswith("--")}


# ----------------------------------------------------------------------------------------------------------------
# data


class AVAClipDataset(torch.utils.data.Dataset):
    """Keyframe examples of the AVA builder -> model inputs, reading each clip when it is asked for (in a worker).

    Item: `pixel_values (T, 3, H, W)` float32, `boxes (N, 4)` pixels of the processed clip (the example's
    proposals, which the builder filtered with mmaction2's score rule), `gt_boxes (G, 4)` pixels,
    `labels (G, num_labels)` multi-hot float32, `example_index` int.

    `label_action_ids[i]` is the action id of model output `i` (the config's `label_action_ids`; `num_labels=N`
    means ids 1..N); the builder's labels are action ids - 1. Ground-truth actions the model does not learn are left out, and boxes left with none
    are dropped (mmaction2's `custom_classes`).
    """

    def __init__(self, examples, processor, *, train: bool, clip_len: int, frame_interval: int,
                 label_action_ids: list[int] | None = None, num_labels: int | None = None, seed: int = 0,
                 slow_clip_seconds: float = 30.0):
        if (label_action_ids is None) == (num_labels is None):
            raise ValueError("give label_action_ids (the action id of each model output) or num_labels (ids 1..N)")
        if label_action_ids is None:
            label_action_ids = list(range(1, num_labels + 1))
        self.examples = examples
        self.processor = processor
        self.train = train
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_labels = len(label_action_ids)
        # builder label (action id - 1) -> model output, -1 where the model does not learn that action
        self.output_of_label = np.full(max(label_action_ids) + 1, -1, dtype=np.int64)
        self.output_of_label[np.asarray(label_action_ids) - 1] = np.arange(len(label_action_ids))
        self.seed = seed
        self.slow_clip_seconds = slow_clip_seconds
        # The boxes of every keyframe, read once (evaluation maps outputs back through them).
        self.proposals = [np.asarray(p, dtype=np.float64).reshape(-1, 4) for p in examples["proposals"]]

    def __len__(self) -> int:
        return len(self.examples)

    def _generator(self, index: int) -> np.random.Generator:
        # torch's RNG is seeded per worker and per epoch by the DataLoader (from the Trainer's seed): new draws each
        # epoch, reproducible from the seed and restored on resume.
        return np.random.default_rng([self.seed, index, int(torch.randint(0, 2**62, ()).item())])

    def read(self, index: int):
        """The clip of keyframe `index`: (T, H, W, 3) uint8 and the frame numbers used."""
        example = self.examples[index]
        source = example["video_path"] or example["frame_dir"]
        generator = self._generator(index) if self.train else None
        started = time.perf_counter()
        try:
            clip, frame_numbers = read_clip(
                source,
                example["timestamp"],
                timestamp_start=example["timestamp_start"],
                video_start=example["video_start"],
                fps=example["fps"],
                clip_len=self.clip_len,
                frame_interval=self.frame_interval,
                num_frames=example["num_frames"] or None,
                train=self.train,
                generator=generator,
            )
        except Exception as error:
            raise type(error)(f"keyframe {example['img_key']} ({source}): {error}") from error
        elapsed = time.perf_counter() - started
        if elapsed > self.slow_clip_seconds:
            logger.warning(f"reading the clip of {example['img_key']} from {source} took {elapsed:.1f} s")
        return example, clip, generator

    def model_labels(self, box_labels) -> list[int]:
        """One box's builder labels (action ids - 1) -> the model outputs it learns (possibly none)."""
        labels = np.asarray(list(box_labels), dtype=np.int64)
        outputs = self.output_of_label[labels[labels < len(self.output_of_label)]]
        return sorted(int(output) for output in outputs[outputs >= 0])

    def read_evaluation_clips(self, indices: list[int]) -> list[tuple[dict, np.ndarray]]:
        """Evaluation clips of several keyframes: those of one source are read with one `read_clips` call (the video
        opened once, overlapping clips decoded in one forward pass); returns `(example, clip)` in the order given."""
        examples = [self.examples[index] for index in indices]
        by_source: dict[tuple, list[int]] = {}
        for position, example in enumerate(examples):
            source = example["video_path"] or example["frame_dir"]
            key = (source, example["timestamp_start"], example["video_start"], example["fps"], example["num_frames"])
            by_source.setdefault(key, []).append(position)
        clips: list = [None] * len(examples)
        for (source, timestamp_start, video_start, fps, num_frames), positions in by_source.items():
            keys = ", ".join(examples[position]["img_key"] for position in positions)
            started = time.perf_counter()
            try:
                read = read_clips(
                    source, [examples[position]["timestamp"] for position in positions],
                    timestamp_start=timestamp_start, video_start=video_start, fps=fps, clip_len=self.clip_len,
                    frame_interval=self.frame_interval, num_frames=num_frames or None,
                )
            except Exception as error:
                raise type(error)(f"keyframe{'s' if len(positions) > 1 else ''} {keys} ({source}): {error}") from error
            elapsed = time.perf_counter() - started
            if elapsed > self.slow_clip_seconds * len(positions):
                logger.warning(f"reading the clips of {keys} from {source} took {elapsed:.1f} s")
            for position, (clip, _) in zip(positions, read):
                clips[position] = clip
        return list(zip(examples, clips))

    def __getitem__(self, index: int) -> dict:
        example, clip, generator = self.read(index)
        return self.item(index, example, clip, generator)

    def __getitems__(self, indices: list[int]) -> list[dict]:
        """A batch (the DataLoader calls this when defined): in evaluation its clips come from
        `read_evaluation_clips`; training clips have random offsets and are read one by one."""
        if self.train:
            return [self[index] for index in indices]
        return [self.item(index, example, clip, None)
                for index, (example, clip) in zip(indices, self.read_evaluation_clips(list(indices)))]

    def item(self, index: int, example: dict, clip: np.ndarray, generator) -> dict:
        """Model inputs of keyframe `index` from its clip (see the class docstring)."""
        box_outputs = [self.model_labels(box_labels) for box_labels in example["labels"]]
        kept = [row for row, outputs in enumerate(box_outputs) if outputs]
        gt_boxes = np.asarray(example["boxes"], dtype=np.float64).reshape(-1, 4)[kept]
        processed = self.processor(
            clip,
            boxes=[self.proposals[index]],
            gt_boxes=[gt_boxes],
            do_train_augmentation=self.train,
            generator=generator,
            return_tensors=None,
        )
        labels = torch.zeros((len(gt_boxes), self.num_labels), dtype=torch.float32)
        for row, box_row in enumerate(kept):
            labels[row, box_outputs[box_row]] = 1.0
        return {
            "pixel_values": processed["pixel_values"][0],
            "boxes": processed["boxes"][0],
            "gt_boxes": processed["gt_boxes"][0],
            "labels": labels,
            "example_index": index,
        }


def _pad(tensors: list[torch.Tensor], value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-first padding of (N_i, ...) tensors to (B, N_max, ...) with `value`, and the (B, N_max) mask."""
    size = max((len(t) for t in tensors), default=0)
    padded = tensors[0].new_full((len(tensors), size, *tensors[0].shape[1:]), value)
    mask = torch.zeros((len(tensors), size), dtype=torch.bool)
    for row, tensor in enumerate(tensors):
        padded[row, : len(tensor)] = tensor
        mask[row, : len(tensor)] = True
    return padded, mask


def collate_action_detection(samples: list[dict]) -> dict:
    """Stack clips; pad boxes, ground truth and labels batch-first (labels' padded rows are -100), so the Trainer's
    gathering keeps every row: on the last eval batch the Trainer slices every tensor to the number of remaining
    clips along dim 0, which would cut a flat (boxes, classes) tensor short."""
    sizes = {tuple(sample["pixel_values"].shape) for sample in samples}
    if len(sizes) > 1:
        raise ValueError(
            f"clips of one batch have different sizes {sorted(sizes)} (videos of different aspect ratios): use "
            "--per_device_eval_batch_size 1 for evaluation"
        )
    boxes, boxes_mask = _pad([sample["boxes"] for sample in samples], 0.0)
    gt_boxes, gt_boxes_mask = _pad([sample["gt_boxes"] for sample in samples], 0.0)
    labels, _ = _pad([sample["labels"] for sample in samples], -100.0)
    return {
        "pixel_values": torch.stack([sample["pixel_values"] for sample in samples]),
        "boxes": boxes,
        "boxes_mask": boxes_mask,
        "gt_boxes": gt_boxes,
        "gt_boxes_mask": gt_boxes_mask,
        "labels": labels,
        "example_index": torch.tensor([sample["example_index"] for sample in samples], dtype=torch.long),
    }


# ----------------------------------------------------------------------------------------------------------------
# metric


class AVAFrameMapEvaluation:
    """`compute_metrics` for the Trainer: maps the gathered, padded batch-first logits back to every kept proposal of
    every evaluation keyframe exactly once (de-duplicating by example index), and scores AVA frame-mAP."""

    def __init__(self, eval_dataset: AVAClipDataset, label_map: dict[int, str], protocol: str,
                 excluded_timestamps: str | None = None, label_action_ids: list[int] | None = None):
        if protocol not in PROTOCOLS:
            raise ValueError(f"evaluation_protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}")
        # the action id of each logit column (the model's config.label_action_ids; None: column j is id j + 1)
        self.label_action_ids = label_action_ids
        self.dataset = eval_dataset
        self.label_map = label_map
        self.protocol = protocol
        self.excluded_timestamps = excluded_timestamps if protocol != "activitynet-2020" else None
        examples = eval_dataset.examples
        self.keys = [keyframe_key(video, time) for video, time in zip(examples["video_id"], examples["timestamp"])]
        gt_boxes = examples["boxes"]
        gt_labels = [[[index + 1 for index in box] for box in labels] for labels in examples["labels"]]
        self.groundtruth = groundtruth_from_references(self.keys, gt_boxes, gt_labels)
        self.last_outcome: FrameMapOutcome | None = None
        self.last_detections = None

    def __call__(self, eval_prediction) -> dict[str, float]:
        from .ava_evaluation import evaluate_ava_frame_map

        logits = eval_prediction.predictions
        logits = logits[0] if isinstance(logits, (tuple, list)) else logits
        example_index = eval_prediction.label_ids[-1].reshape(-1)
        num_examples = len(self.dataset)
        scores: list[np.ndarray | None] = [None] * num_examples
        for row, index in enumerate(example_index.tolist()):
            if scores[index] is not None:
                continue  # a sample repeated by the distributed sampler
            count = len(self.dataset.proposals[index])
            row_logits = np.asarray(logits[row], dtype=np.float32)
            if count > len(row_logits) or (row_logits[count:] != -100).any() or (row_logits[:count] == -100).all(-1).any():
                raise RuntimeError(f"keyframe {self.keys[index]}: expected {count} scored boxes in row {row}")
            scores[index] = 1.0 / (1.0 + np.exp(-row_logits[:count].astype(np.float64)))
        missing = [self.keys[i] for i, value in enumerate(scores) if value is None]
        if missing:
            raise RuntimeError(f"{len(missing)} evaluation keyframes were not scored, e.g. {missing[:3]}")
        action_thr = MMACTION2_ACTION_THRESHOLD if self.protocol == "mmaction2" else None
        detections = detections_from_outputs(self.keys, self.dataset.proposals, scores, action_thr=action_thr,
                                             action_ids=sorted(self.label_map),
                                             column_action_ids=self.label_action_ids)
        outcome = evaluate_ava_frame_map(self.groundtruth, detections, self.label_map, self.excluded_timestamps,
                                         self.protocol)
        self.last_outcome, self.last_detections = outcome, detections
        metrics = {"map": outcome.mean_average_precision}
        for group, value in group_means(outcome).items():
            metrics[f"map_{group}"] = value
        metrics.update(class_ap_metrics(outcome))
        metrics["scored_boxes"] = float(sum(len(s) for s in scores))
        metrics["proposals"] = float(sum(len(p) for p in self.dataset.proposals))
        metrics["scored_keyframes"] = float(num_examples)
        return metrics


def class_ap_metrics(outcome: FrameMapOutcome) -> dict[str, float]:
    """`{"AP/<action name>": AP}` for every class of the evaluation's label map that has an AP under its protocol (in
    the label map's order); classes without one (no ground truth; mmaction2: no detections) are left out, so that
    loggers (TensorBoard, trackio, W&B through `report_to`) get numbers only. The Trainer prefixes them `eval_`."""
    return {f"AP/{outcome.class_names[action_id]}": float(value)
            for action_id, value in outcome.average_precision.items() if not math.isnan(value)}


# AVA's action groups (label_type of the label map) under the short names of the metrics.
ACTION_GROUPS = {"PERSON_MOVEMENT": "pose", "OBJECT_MANIPULATION": "object", "PERSON_INTERACTION": "interaction"}


def action_group(outcome: FrameMapOutcome, action_id: int) -> str | None:
    """The AVA group short name of an evaluated class; None for a class that is not an AVA action (another id or
    another name: a user's own label map)."""
    if AVA_ACTION_NAMES.get(action_id) != outcome.class_names.get(action_id):
        return None
    return ACTION_GROUPS[AVA_ACTION_TYPES[action_id]]


def group_means(outcome: FrameMapOutcome) -> dict[str, float]:
    """Mean AP per AVA action group (pose, object manipulation, person interaction) over classes with an AP."""
    values: dict[str, list[float]] = {name: [] for name in ACTION_GROUPS.values()}
    for action_id, value in outcome.average_precision.items():
        group = action_group(outcome, action_id)
        if group is not None and not math.isnan(value):
            values[group].append(value)
    return {name: float(np.mean(v)) if v else float("nan") for name, v in values.items()}


def summary_table(outcome: FrameMapOutcome, protocol: str, extremes: int = 3) -> str:
    """mAP with its protocol, per-group means and the lowest / highest scoring classes."""
    lines = [f"frame-mAP@0.5IoU ({protocol}): {100 * outcome.mean_average_precision:.2f}",
             f"  {'group':<14} {'mAP':>7} {'classes':>8}"]
    counts: dict[str, int] = {}
    for action_id, value in outcome.average_precision.items():
        group = action_group(outcome, action_id)
        if group is not None and not math.isnan(value):
            counts[group] = counts.get(group, 0) + 1
    for group, value in group_means(outcome).items():
        shown = "-" if math.isnan(value) else f"{100 * value:.2f}"
        lines.append(f"  {group:<14} {shown:>7} {counts.get(group, 0):>8}")
    ranked = sorted(((v, a) for a, v in outcome.average_precision.items() if not math.isnan(v)))
    if ranked:
        names = outcome.class_names
        lines.append("  lowest AP:  " + ", ".join(f"{names[a]} {100 * v:.1f}" for v, a in ranked[:extremes]))
        lines.append("  highest AP: " + ", ".join(f"{names[a]} {100 * v:.1f}" for v, a in ranked[::-1][:extremes]))
    return "\n".join(lines)


AP_CHART_FILE = "per_class_ap.png"


def save_ap_chart(outcome: FrameMapOutcome, output_dir: Path, dataset_name: str):
    """Draw the final evaluation's per-class AP chart into `output_dir/per_class_ap.png`; returns its `ApChart`, or
    None (with a warning saying how to get it) when matplotlib is not installed."""
    try:
        from .ap_chart import plot_class_ap

        output_dir.mkdir(parents=True, exist_ok=True)
        return plot_class_ap(outcome, output_dir / AP_CHART_FILE, subtitle=dataset_name)
    except ImportError as error:
        logger.warning(f"no per-class AP chart: {error}")
        return None


# ----------------------------------------------------------------------------------------------------------------
# trainer


# Options that choose the Trainer's own lr schedule instead of the recipe's (warm-up epochs + cosine).
SCHEDULE_FLAGS = ("lr_scheduler_type", "lr_scheduler_kwargs", "warmup_steps")
RECIPE_SCHEDULE_FLAGS = ("warmup_epochs", "warmup_start_factor")


def uses_recipe_schedule(flags: set[str]) -> bool:
    """True unless the command line chose a Trainer schedule (`--lr_scheduler_type`, `--lr_scheduler_kwargs`,
    `--warmup_steps`); mixing those with the recipe's `--warmup_epochs` / `--warmup_start_factor` is an error."""
    chosen = sorted(flag for flag in SCHEDULE_FLAGS if flag in flags)
    recipe = sorted(flag for flag in RECIPE_SCHEDULE_FLAGS if flag in flags)
    if chosen and recipe:
        raise ValueError(f"--{recipe[0]} sets the recipe's schedule, --{chosen[0]} the Trainer's: give one of them "
                         "(with --lr_scheduler_type, set the warm-up with --warmup_steps, an int or a ratio < 1)")
    return not chosen


class ActionDetectionTrainer(Trainer):
    """`Trainer` with mmaction2's optimizer (AdamW over layer-wise lr decay groups, no weight decay on 1-D
    parameters and biases) and schedule (linear warm-up from `warmup_start_factor`, then cosine to 0, per step).

    The optimizer class and its settings come from `Trainer.get_optimizer_cls_and_kwargs` (`--optim`, `--optim_args`,
    betas, eps), always over the layer-decay groups. With `recipe_schedule=False` the schedule is the Trainer's own
    (`--lr_scheduler_type`, `--lr_scheduler_kwargs`, `--warmup_steps`)."""

    def __init__(self, *args, layer_decay: float = 0.75, card_builder=None, recipe_schedule: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.layer_decay = layer_decay
        self.card_builder = card_builder
        self.recipe_schedule = recipe_schedule

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            model = self.model if model is None else model
            groups = layer_decay_parameter_groups(model, self.args.learning_rate, self.args.weight_decay,
                                                  self.layer_decay)
            for group in groups:
                group.pop("param_names")  # names stay out of the optimizer's state dict
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            if "params" in optimizer_kwargs or "model" in optimizer_kwargs:
                raise ValueError(f"--optim {self.args.optim} builds its own parameter groups, which would drop the "
                                 "layer-wise lr decay; choose another optimizer")
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def warmup_steps(self, num_training_steps: int) -> int:
        """Warm-up steps: `warmup_epochs` of the `num_train_epochs` (or that fraction of `max_steps`)."""
        epochs = self.args.num_train_epochs
        return int(round(num_training_steps * min(self.args.warmup_epochs, epochs) / epochs)) if epochs > 0 else 0

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if not self.recipe_schedule:
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            optimizer = self.optimizer if optimizer is None else optimizer
            self.lr_scheduler = warmup_cosine_schedule(
                optimizer, self.warmup_steps(num_training_steps), num_training_steps, self.args.warmup_start_factor
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def compute_loss(self, model, inputs, *args, **kwargs):
        # `example_index` travels with the batch for the evaluation's gathering (a label name), not into the model.
        inputs = {name: value for name, value in inputs.items() if name != "example_index"}
        return super().compute_loss(model, inputs, *args, **kwargs)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        # Only the padded logits are gathered; boxes_mask is implied by the eval set's proposals.
        ignore_keys = ignore_keys or ["boxes_mask", "feature_map", "hidden_states"]
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    def create_model_card(self, *args, **kwargs):
        """Writes this project's card (model-index with the measured mAP) instead of the Trainer's draft."""
        if self.card_builder is not None and self.is_world_process_zero():
            self.card_builder(Path(self.args.output_dir))


# ----------------------------------------------------------------------------------------------------------------
# main


def parse_config_overrides(text: str | None) -> dict:
    """`--config_overrides "hidden_size=64,image_size=[96,96]"` -> {field: value}; a name that is not a config field
    is a ValueError (with the closest field names)."""
    overrides = {}
    if not text:
        return overrides
    known = set(VideoMAEActionDetectionConfig.__dataclass_fields__) | {"num_labels"}
    for item in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", text):
        name, separator, value = item.partition("=")
        name = name.strip()
        if not separator or name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(f"--config_overrides: {item.strip()!r} does not set a VideoMAEActionDetectionConfig "
                             f"field{hint}")
        overrides[name] = json.loads(value) if value.strip()[:1] in "0123456789-[{tf" else value.strip()
    return overrides


def label_map_overrides(label_map: dict[int, str] | None, path=None) -> dict:
    """Config fields of a model learning the actions of `label_map` ({action id: name}, in file order): one output
    per action, `id2label` its names, `action_ids` its ids. {} for None."""
    if not label_map:
        return {}
    outside = [action_id for action_id in label_map if not 1 <= action_id <= NUM_AVA_ACTIONS]
    if outside:
        raise ValueError(f"--label_map {path}: action ids {outside} are outside the data set's 1..{NUM_AVA_ACTIONS}")
    return {"id2label": dict(enumerate(label_map.values())), "action_ids": list(label_map)}


def _checkpoint_label_vocabulary(model_name_or_path: str, cache_dir=None) -> list[tuple[int, str]] | None:
    """[(action id, name)] of a detection checkpoint's outputs; None for another kind of checkpoint."""
    config_dict, _ = VideoMAEActionDetectionConfig.get_config_dict(model_name_or_path, cache_dir=cache_dir)
    if config_dict.get("model_type") != VideoMAEActionDetectionConfig.model_type:
        return None
    config = VideoMAEActionDetectionConfig.from_dict(config_dict)
    return list(zip(config.label_action_ids, (config.id2label[i] for i in range(config.num_labels))))


def build_model(model_args: ModelArguments, toy: bool, label_map: dict[int, str] | None = None,
                label_map_path=None):
    """The model: from a checkpoint (VideoMAE backbone or detection folder) or a new one from a config; with
    `label_map`, its outputs are those actions (a detection checkpoint with other actions gets a new classifier)."""
    overrides = parse_config_overrides(model_args.config_overrides)
    if model_args.drop_path_rate is not None:
        overrides["drop_path_rate"] = model_args.drop_path_rate
    overrides.update(label_map_overrides(label_map, label_map_path))
    if model_args.model_name_or_path:
        path = model_args.model_name_or_path
        if not label_map:
            return VideoMAEForActionDetection.from_pretrained(path, cache_dir=model_args.cache_dir, **overrides)
        before = _checkpoint_label_vocabulary(path, model_args.cache_dir)
        model = VideoMAEForActionDetection.from_pretrained(path, cache_dir=model_args.cache_dir,
                                                           ignore_mismatched_sizes=True, **overrides)
        after = list(zip(model.config.label_action_ids, label_map.values()))
        if before is not None and before != after and len(before) == len(after):
            logger.warning(f"{path} scores other actions than --label_map {label_map_path}: its classifier starts "
                           "anew")
            torch.manual_seed(0)
            model._init_weights(model.roi_head)
        return model
    name = model_args.config_name or ("toy" if toy else None)
    if name is None:
        raise ValueError("give --model_name_or_path (a VideoMAE or detection checkpoint) or --config_name (a config "
                         "file or a preset: toy, base, large) to train on --data_dir")
    if name == "toy":
        config = VideoMAEActionDetectionConfig(**{**TOY_MODEL_CONFIG, **overrides})
    elif name in ("base", "large"):
        config = VideoMAEActionDetectionConfig(**{**recipe_for_variant(name).config_kwargs(), **overrides})
    else:
        config = VideoMAEActionDetectionConfig.from_pretrained(name, **overrides)
    torch.manual_seed(0)
    return VideoMAEForActionDetection(config)


def hub_base_model(model_args: ModelArguments) -> str | None:
    """The Hub id the model was finetuned from (for the card's `base_model`); None for a local folder or a new model."""
    name = model_args.model_name_or_path
    if not name or os.path.exists(name) or not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        return None
    return name


def build_processor(model_args: ModelArguments, data_args: DataArguments, model, toy: bool):
    kwargs = dict(TOY_PROCESSOR) if toy else {}
    if data_args.short_side is not None:
        kwargs["size"] = {"shortest_edge": data_args.short_side}
    if data_args.train_scale_range is not None:
        if len(data_args.train_scale_range) != 2:
            raise ValueError(f"--train_scale_range takes LOW HIGH, got {data_args.train_scale_range}")
        kwargs["scale_range"] = list(data_args.train_scale_range)
    if data_args.crop_size is not None:
        if len(data_args.crop_size) not in (1, 2):
            raise ValueError(f"--crop_size takes SIZE or HEIGHT WIDTH, got {data_args.crop_size}")
        height, width = (data_args.crop_size * 2)[:2]
        kwargs["crop_size"] = {"height": height, "width": width}
    if model_args.model_name_or_path:
        try:
            from transformers import AutoVideoProcessor

            processor = AutoVideoProcessor.from_pretrained(model_args.model_name_or_path, cache_dir=model_args.cache_dir,
                                                           **kwargs)
            if hasattr(processor, "post_process_action_detection"):
                return processor
        except (OSError, ValueError):
            pass  # a VideoMAE backbone folder: it has no detection processor
    return ava_video_processor(model.config, **kwargs)


def load_examples(data_args: DataArguments):
    """(train, validation) keyframe examples from the builder."""
    from .ava_dataset import load_ava_dataset

    dataset = load_ava_dataset(data_args.data_dir, data_args.dataset_config_name, cache_dir=data_args.dataset_cache_dir,
                               person_det_score_thr=data_args.person_det_score_thr,
                               transcoded_dir=data_args.transcoded_dir)
    train, validation = dataset["train"], dataset["validation"]
    if data_args.max_train_samples is not None:
        train = train.select(range(min(data_args.max_train_samples, len(train))))
    if data_args.max_eval_samples is not None:
        validation = validation.select(range(min(data_args.max_eval_samples, len(validation))))
    return train, validation


def apply_toy_preset(flags: set[str], model_args, data_args, training_args) -> list[str]:
    """Set the toy preset's values where the user gave none; returns the log lines saying what and why."""
    lines = []
    for name, (value, why) in TOY_TRAINING.items():
        if name in flags:
            continue
        for arguments in (training_args, data_args, model_args):
            if hasattr(arguments, name):
                setattr(arguments, name, value)
                lines.append(f"  {name} = {value}: {why}")
                break
    return lines


def parse_arguments(argv: list[str]):
    parser = HfArgumentParser((ModelArguments, DataArguments, ActionDetectionTrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(os.path.abspath(argv[0]))
        flags = set(json.loads(Path(argv[0]).read_text()))
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
        flags = explicit_flags(argv)
    return model_args, data_args, training_args, flags


def main(argv: list[str] | None = None) -> dict:
    """Train and evaluate; returns the final evaluation metrics."""
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    model_args, data_args, training_args, flags = parse_arguments(argv)
    recipe_schedule = uses_recipe_schedule(flags)
    log_level = training_args.get_process_log_level() if {"log_level", "log_level_replica"} & flags else None
    if log_level is None:
        log_level = logging.INFO if training_args.process_index == 0 else logging.WARNING
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=log_level)
    logger.setLevel(log_level)

    toy = data_args.data_dir is None
    if toy:
        from .toy_dataset import default_toy_dataset_dir, generate_toy_dataset

        data_args.data_dir = str(data_args.toy_data_dir or default_toy_dataset_dir(data_args.toy_seed))
        preset_lines = apply_toy_preset(flags, model_args, data_args, training_args)
        with training_args.main_process_first(desc="toy data set"):
            generate_toy_dataset(data_args.data_dir, seed=data_args.toy_seed)  # reuses a complete existing one
        logger.info(f"toy data set: {data_args.data_dir}")
        if preset_lines:
            logger.info("toy preset (the recipe defaults are for ViT-B on 8 GPUs); values used:\n"
                        + "\n".join(preset_lines))
    set_seed(training_args.seed)
    if training_args.dataloader_pin_memory and not torch.cuda.is_available():
        training_args.dataloader_pin_memory = False  # nothing to pin for on a CPU-only machine

    training_label_map = read_label_map(data_args.label_map) if data_args.label_map else None
    model = build_model(model_args, toy, training_label_map, data_args.label_map)
    config = model.config
    if not config.is_ava_vocabulary:
        logger.info(f"the model learns {config.num_labels} actions: " + ", ".join(
            f"{config.id2label[index]} ({action_id})" for index, action_id in enumerate(config.label_action_ids)))
    recipe: DetectionRecipe | None = recipe_for_architecture(config.hidden_size, config.num_hidden_layers,
                                                             config.num_attention_heads, config.intermediate_size)
    layer_decay = model_args.layer_decay
    if layer_decay is None:
        layer_decay = recipe.layer_decay if recipe is not None else VIT_BASE.layer_decay
    # Every process says where it runs (a warning, so that the other ranks print it too).
    (logger.warning if training_args.world_size > 1 else logger.info)(
        f"process {training_args.process_index} of {training_args.world_size} "
        f"({training_args.parallel_mode.value}, device {training_args.device})")
    logger.info(f"precision: {precision_description(training_args)}")
    total_batch = (training_args.per_device_train_batch_size * training_args.world_size
                   * training_args.gradient_accumulation_steps)
    if "learning_rate" not in flags and not (toy and "learning_rate" in TOY_TRAINING):
        training_args.learning_rate = scaled_learning_rate(training_args.base_learning_rate,
                                                           training_args.base_batch_size, total_batch)
        logger.info(f"learning rate {training_args.learning_rate:.4g} = {training_args.base_learning_rate:g} x "
                    f"total batch {total_batch} / {training_args.base_batch_size} (linear scaling)")
    else:
        logger.info(f"learning rate {training_args.learning_rate:.4g} for a total batch of {total_batch}")
    schedule = (f"warm-up {training_args.warmup_epochs} epochs from {training_args.warmup_start_factor}x, cosine to 0 "
                f"at {training_args.num_train_epochs} epochs" if recipe_schedule else
                f"the Trainer's {training_args.lr_scheduler_type} schedule ({training_args.lr_scheduler_kwargs or {}}, "
                f"warm-up steps {training_args.warmup_steps})")
    logger.info(f"optimizer {training_args.optim} over layer-wise lr decay {layer_decay} groups, weight decay "
                f"{training_args.weight_decay}, {schedule}, gradient clipping {training_args.max_grad_norm}, "
                f"stochastic depth {config.drop_path_rate}")

    processor = build_processor(model_args, data_args, model, toy)
    processor.id2label = {int(index): name for index, name in config.id2label.items()}  # the model's outputs
    processor.action_ids = config.action_ids
    train_examples, eval_examples = load_examples(data_args)
    common = dict(clip_len=config.num_frames, frame_interval=data_args.frame_interval,
                  label_action_ids=config.label_action_ids, seed=training_args.seed,
                  slow_clip_seconds=data_args.slow_clip_seconds)
    train_dataset = AVAClipDataset(train_examples, processor, train=True, **common)
    eval_dataset = AVAClipDataset(eval_examples, processor, train=False, **common)

    annotations = Path(data_args.data_dir) / "annotations"
    label_map_file = (data_args.label_map_file or data_args.label_map
                      or annotations / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")
    label_map = read_label_map(label_map_file)
    not_scored = sorted(set(label_map) - set(config.label_action_ids))
    if not_scored:
        raise ValueError(f"the evaluated classes of {label_map_file} include action ids {not_scored} that the model "
                         f"does not score (its actions: {config.label_action_ids}); pass --label_map_file with a "
                         "subset of them")
    excluded = annotations / "ava_val_excluded_timestamps_v2.2.csv"
    evaluation = AVAFrameMapEvaluation(eval_dataset, label_map, data_args.evaluation_protocol,
                                       str(excluded) if excluded.exists() else None,
                                       label_action_ids=config.label_action_ids)

    # Gathered in evaluation besides the logits: the labels (so that the loss is computed) and the example index.
    training_args.label_names = ["labels", "example_index"]
    results: list = []
    figures: list[tuple[str, str]] = []  # (file in the output folder, caption) linked from the model card

    def write_card(folder: Path):
        from .model_card import DATASETS, EvaluationResult, build_model_card, write_model_card

        name = Path(training_args.output_dir).name
        notes = (f"Trained with `training/run_action_detection.py` ({'toy data set' if toy else data_args.data_dir}, "
                 f"config `{data_args.dataset_config_name}`): {training_args.num_train_epochs:g} epochs, total batch "
                 f"{total_batch}, lr {training_args.learning_rate:.4g}, layer decay {layer_decay}, weight decay "
                 f"{training_args.weight_decay}, {training_args.warmup_epochs:g} warm-up epochs, clip "
                 f"{config.num_frames} x {data_args.frame_interval}.")
        card = build_model_card(name, config, repo_id=training_args.hub_model_id or name,
                                recipe=recipe if not toy else None, results=results, training_notes=notes,
                                datasets=() if toy else DATASETS, base_model=hub_base_model(model_args),
                                figures=figures)
        write_model_card(card, folder / "README.md")

    trainer = ActionDetectionTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collate_action_detection,
        compute_metrics=evaluation,
        processing_class=processor,
        layer_decay=layer_decay,
        card_builder=write_card,
        recipe_schedule=recipe_schedule,
    )

    if training_args.do_train or "do_eval" not in flags:  # --do_eval alone: evaluate the model as it is
        checkpoint = training_args.resume_from_checkpoint
        if checkpoint is None and os.path.isdir(training_args.output_dir) and not toy:
            checkpoint = get_last_checkpoint(training_args.output_dir)
            if checkpoint is not None:
                logger.info(f"resuming from {checkpoint}")
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_metrics("train", train_result.metrics)
        trainer.save_state()

    metrics = trainer.evaluate()
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    outcome = evaluation.last_outcome
    output_dir = Path(training_args.output_dir)
    dataset_name = "toy AVA-format set (training/toy_dataset.py)" if toy else f"AVA ({data_args.dataset_config_name})"
    from .model_card import EvaluationResult

    results.append(EvaluationResult(
        value=round(100 * metrics["eval_map"], 2),
        protocol=f"frame-mAP@0.5IoU, {PROTOCOL_DESCRIPTIONS[data_args.evaluation_protocol]}, over the "
                 f"{len(label_map)} classes of {Path(label_map_file).name}",
        measured_here=True,
        metric_config=data_args.evaluation_protocol,
        dataset_name=dataset_name,
        dataset_type="toy-ava" if toy else "ava",
        dataset_config=data_args.dataset_config_name,
        metric_name=f"frame-mAP@0.5IoU ({len(label_map)} classes)",
    ))
    if trainer.is_world_process_zero():
        detections_path = output_dir / "detections_val.csv"
        write_detections_csv(detections_path, evaluation.last_detections)
        chart = save_ap_chart(outcome, output_dir, dataset_name)
        if chart is not None:
            figures.append((chart.path.name, f"Per-class AP ({chart.title})"))
        trainer.save_model(str(output_dir))
        add_pipeline_code(output_dir)  # the "video-action-detection" pipeline as remote code
        write_card(output_dir)
    if training_args.push_to_hub:
        trainer.push_to_hub()

    wall = time.perf_counter() - started
    if trainer.is_world_process_zero():
        print("\n" + summary_table(outcome, data_args.evaluation_protocol))
        print(f"scored boxes: {int(metrics['eval_scored_boxes'])} of {int(metrics['eval_proposals'])} proposals on "
              f"{int(metrics['eval_scored_keyframes'])} keyframes")
        print(f"detections: {output_dir / 'detections_val.csv'}")
        if figures:
            print(f"per-class AP chart: {output_dir / figures[0][0]}")
        print(f"model, video processor and model card: {output_dir}")
        print(f"wall time: {wall:.0f} s ({wall / 60:.1f} min)")
    return metrics


def console_main(argv: list[str] | None = None) -> int:
    """`videomae-ava-train`: `main`, with the errors bad arguments or files cause (missing data folder, unreadable
    annotation or checkpoint, refused pickle) printed as one `error:` line and exit status 2, no traceback."""
    from ..processing.cli.conventions import EXIT_USAGE_OR_INPUT_ERROR, expected_errors

    try:
        main(argv)
    except expected_errors() as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USAGE_OR_INPUT_ERROR
    return 0


if __name__ == "__main__":
    main()
