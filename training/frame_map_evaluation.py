"""The Trainer's `compute_metrics`: the gathered logits of an evaluation -> AVA frame-mAP under the chosen protocol."""

from __future__ import annotations

import numpy as np

from ..modeling import index_to_action_id
from ..modeling.modeling_videomae_action_detection import PADDING_LOGIT
from ..processing.formats.detections import MMACTION2_ACTION_THRESHOLD, detections_from_outputs, keyframe_key
from .clip_dataset import AVAClipDataset
from .evaluation.ava_evaluation import evaluate_ava_frame_map, groundtruth_from_references
from .evaluation.ava_frame_map_engine import FrameMapOutcome
from .evaluation.ava_protocols import PROTOCOLS
from .evaluation.action_groups import group_means
from .report import class_ap_metrics


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
        gt_labels = [[[index_to_action_id(index) for index in box] for box in labels] for labels in examples["labels"]]
        self.groundtruth = groundtruth_from_references(self.keys, gt_boxes, gt_labels)
        self.last_outcome: FrameMapOutcome | None = None
        self.last_detections = None

    def __call__(self, eval_prediction) -> dict[str, float]:
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
            padding = row_logits == PADDING_LOGIT
            if count > len(row_logits) or not padding[count:].all() or padding[:count].all(-1).any():
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
