"""Keyframe examples of the AVA builder -> model inputs: `AVAClipDataset` (reads each clip in a DataLoader worker,
applies the video processor) and `collate_action_detection` (the batch: stacked clips, padded boxes and labels)."""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from ..modeling import NUM_AVA_ACTIONS, action_id_to_index, index_to_action_id
from ..modeling.modeling_videomae_action_detection import PADDING_LOGIT
from ..processing import read_clip, read_clips
from .arguments import DataArguments

logger = logging.getLogger(__name__)


class AVAClipDataset(torch.utils.data.Dataset):
    """Keyframe examples of the AVA builder -> model inputs, reading each clip when it is asked for (in a worker).

    Item: `pixel_values (T, 3, H, W)` float32, `boxes (N, 4)` pixels of the processed clip (the example's
    proposals, which the builder filtered with mmaction2's score rule), `gt_boxes (G, 4)` pixels,
    `labels (G, num_labels)` multi-hot float32, `example_index` int.

    `label_action_ids[i]` is the action id of model output `i` (the config's `label_action_ids`; `num_labels=N`
    means ids 1..N); the builder's labels are AVA classifier indices (`action_id_to_index`). Ground-truth actions the
    model does not learn are left out, and boxes left with none are dropped (mmaction2's `custom_classes`).
    """

    def __init__(self, examples, processor, *, train: bool, clip_len: int, frame_interval: int,
                 label_action_ids: list[int] | None = None, num_labels: int | None = None, seed: int = 0,
                 slow_clip_seconds: float = 30.0):
        if (label_action_ids is None) == (num_labels is None):
            raise ValueError("give label_action_ids (the action id of each model output) or num_labels (ids 1..N)")
        if label_action_ids is None:
            label_action_ids = [index_to_action_id(index) for index in range(num_labels)]
        self.examples = examples
        self.processor = processor
        self.train = train
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_labels = len(label_action_ids)
        # builder label (AVA classifier index) -> model output, -1 where the model does not learn that action
        self.output_of_label = np.full(NUM_AVA_ACTIONS, -1, dtype=np.int64)
        self.output_of_label[[action_id_to_index(action_id) for action_id in label_action_ids]] = np.arange(
            len(label_action_ids))
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
        """One box's builder labels (AVA classifier indices) -> the model outputs it learns (possibly none)."""
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
    padded = pad_sequence(tensors, batch_first=True, padding_value=value)
    lengths = torch.tensor([len(tensor) for tensor in tensors])
    return padded, torch.arange(padded.shape[1]) < lengths[:, None]


def collate_action_detection(samples: list[dict]) -> dict:
    """Stack clips; pad boxes, ground truth and labels batch-first (labels' padded rows are `PADDING_LOGIT`, -100, the
    value the model's loss skips and its padded logit rows hold), so the Trainer's
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
    labels, _ = _pad([sample["labels"] for sample in samples], PADDING_LOGIT)
    return {
        "pixel_values": torch.stack([sample["pixel_values"] for sample in samples]),
        "boxes": boxes,
        "boxes_mask": boxes_mask,
        "gt_boxes": gt_boxes,
        "gt_boxes_mask": gt_boxes_mask,
        "labels": labels,
        "example_index": torch.tensor([sample["example_index"] for sample in samples], dtype=torch.long),
    }



def load_examples(data_args: DataArguments):
    """(train, validation) keyframe examples from the builder."""
    from .data.ava_dataset import load_ava_dataset

    dataset = load_ava_dataset(data_args.data_dir, data_args.dataset_config_name, cache_dir=data_args.dataset_cache_dir,
                               person_det_score_thr=data_args.person_det_score_thr,
                               transcoded_dir=data_args.transcoded_dir)
    train, validation = dataset["train"], dataset["validation"]
    if data_args.max_train_samples is not None:
        train = train.select(range(min(data_args.max_train_samples, len(train))))
    if data_args.max_eval_samples is not None:
        validation = validation.select(range(min(data_args.max_eval_samples, len(validation))))
    return train, validation
