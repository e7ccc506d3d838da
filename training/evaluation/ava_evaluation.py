"""AVA frame-mAP@0.5IoU under the three protocols in use, from files or from model outputs (the command line is
`evaluation_command.py`, `videomae-ava-eval`).

    from videomae_action_detection.training.evaluation.ava_evaluation import ava_frame_map
    result = ava_frame_map("ava_val_v2.2.csv", "detections.csv", "ava_action_list_v2.2_for_activitynet_2019.pbtxt",
                           excluded_timestamps="ava_val_excluded_timestamps_v2.2.csv", protocol="mmaction2")
    result["protocol"], result["overall"]

    python -m videomae_action_detection.training.evaluation.evaluation_command --groundtruth ava_val_v2.2.csv \
        --detections detections.csv --label_map ava_action_list_v2.2_for_activitynet_2019.pbtxt \
        --excluded_timestamps ava_val_excluded_timestamps_v2.2.csv --protocol activitynet-2019

Protocols (`ava_protocols.py` has the details): `activitynet-2020` (the official script today), `activitynet-2019`
(the official script with an excluded-timestamps file) and `mmaction2` (which produced the published VideoMAE
numbers). They give different numbers for the same detections; a result always names its protocol.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ...processing.formats.ava_files import (
    AvaCsvRows,
    iter_ava_csv,
    read_ava_csv,
    read_keyframe_list,
    read_label_map,
    timestamp_text,
)
from ...processing.formats.detections import keyframe_key, split_keyframe_key
from ...processing.cli.progress import progress_bar
from .ava_frame_map_engine import IOU_THRESHOLD, FrameMapOutcome, score_frame_map
from .ava_protocols import get_protocol


PathOrRows = str | os.PathLike | AvaCsvRows | Iterable[Sequence]


def mean_ap_key(iou_threshold: float = IOU_THRESHOLD) -> str:
    """The official name of the mean AP: `PascalBoxes_Precision/mAP@0.5IOU`."""
    return f"PascalBoxes_Precision/mAP@{iou_threshold}IOU"


def class_ap_key(name: str, iou_threshold: float = IOU_THRESHOLD) -> str:
    """The official name of a class AP: `PascalBoxes_PerformanceByCategory/AP@0.5IOU/<name>`."""
    return f"PascalBoxes_PerformanceByCategory/AP@{iou_threshold}IOU/{name}"


def ava_label_map() -> dict[int, str]:
    """{action id: name} of the 60 evaluated AVA v2.2 classes (ava_action_list_v2.2_for_activitynet_2019.pbtxt)."""
    from videomae_action_detection.modeling.ava_labels import AVA_ACTION_NAMES, AVA_EVALUATED_ACTION_IDS

    return {action_id: AVA_ACTION_NAMES[action_id] for action_id in AVA_EVALUATED_ACTION_IDS}


def ava_frame_map(groundtruth: PathOrRows, detections: PathOrRows, label_map=None, excluded_timestamps=None,
                  protocol: str = "activitynet-2020", iou_threshold: float = IOU_THRESHOLD) -> dict[str, float | str]:
    """AVA frame-mAP of detections under one of the three protocols.

    Args:
        groundtruth: official ground-truth CSV (path), or AvaCsvRows, or rows as sequences (2, 7 or 8 values).
        detections: official detections CSV (path; read in blocks), or AvaCsvRows, or rows as sequences. Values are
            scored as given: a CSV carries 4-decimal values, in-memory rows are not rounded (see
            `detections_from_outputs(decimals=4)` to round like the CSV).
        label_map: the evaluated classes: a `.pbtxt` path, a {action id: name} mapping, or None for the 60 AVA v2.2
            classes. Rows of other classes are ignored (counted in a warning), as the evaluators do.
        excluded_timestamps: `video_id,timestamp` CSV path or (video_id, timestamp) pairs; for `activitynet-2019`
            and `mmaction2` (AVA's `ava_val_excluded_timestamps_v2.2.csv`); `activitynet-2020` takes none.
        protocol: "activitynet-2020", "activitynet-2019" or "mmaction2".
        iou_threshold: 0.5 for the benchmark.

    Returns:
        {"protocol": name, <metric name>: value, ...}: for the official protocols `PascalBoxes_Precision/mAP@0.5IOU`
        and `PascalBoxes_PerformanceByCategory/AP@0.5IOU/<name>` for every label-map class (NaN without ground
        truth, 0.0 with ground truth and no detection); for mmaction2 `overall`, `person_movement`,
        `object_manipulation`, `person_interaction` and the class APs of the classes with detections (NaN where a
        class has detections and no ground truth).
    """
    outcome = evaluate_ava_frame_map(groundtruth, detections, label_map, excluded_timestamps, protocol, iou_threshold)
    return outcome_to_metrics(outcome, iou_threshold)


def evaluate_ava_frame_map(groundtruth: PathOrRows, detections: PathOrRows, label_map=None, excluded_timestamps=None,
                           protocol: str = "activitynet-2020",
                           iou_threshold: float = IOU_THRESHOLD) -> FrameMapOutcome:
    """`ava_frame_map` with everything it computed (per-class positives and detections, counts) as a FrameMapOutcome."""
    rules = get_protocol(protocol)
    if excluded_timestamps is not None and not rules.takes_excluded_timestamps:
        raise ValueError(
            f"protocol {protocol!r} takes no excluded timestamps: it evaluates the keyframes of the ground-truth "
            "file, where 2-column rows mark evaluated keyframes without people. Use 'activitynet-2019' or "
            "'mmaction2' to score with an excluded-timestamps file."
        )
    return score_frame_map(
        groundtruth=_groundtruth_rows(groundtruth),
        detection_batches=_detection_batches(detections),
        label_map=_label_map(label_map),
        excluded=_excluded_keyframes(excluded_timestamps),
        protocol=rules,
        iou_threshold=iou_threshold,
    )


def outcome_to_metrics(outcome: FrameMapOutcome, iou_threshold: float = IOU_THRESHOLD) -> dict[str, float | str]:
    """FrameMapOutcome -> the flat result dict of `ava_frame_map` (official metric names, plus "protocol")."""
    metrics: dict[str, float | str] = {"protocol": outcome.protocol.name}
    if outcome.group_means is None:
        metrics[mean_ap_key(iou_threshold)] = outcome.mean_average_precision
    else:
        metrics["overall"] = outcome.mean_average_precision
        metrics.update(outcome.group_means)
    for action_id, value in outcome.average_precision.items():
        metrics[class_ap_key(outcome.class_names[action_id], iou_threshold)] = value
    return metrics


# ----------------------------------------------------------------------------------------------------------------
# inputs


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _groundtruth_rows(groundtruth: PathOrRows) -> AvaCsvRows:
    if _is_path(groundtruth):
        return read_ava_csv(groundtruth)
    if isinstance(groundtruth, AvaCsvRows):
        return groundtruth
    return AvaCsvRows.from_rows(groundtruth, source="<in-memory ground truth>")


def _detection_batches(detections: PathOrRows) -> Iterable[AvaCsvRows]:
    if _is_path(detections):
        return _with_row_progress(iter_ava_csv(detections), f"scoring {Path(detections).name}")
    if isinstance(detections, AvaCsvRows):
        return [detections]
    return [AvaCsvRows.from_rows(detections, source="<in-memory detections>")]


def _with_row_progress(batches: Iterable[AvaCsvRows], description: str) -> Iterable[AvaCsvRows]:
    """Yield `batches`, counting their rows on a progress bar (a detections file can hold millions)."""
    with progress_bar(desc=description, unit="row", unit_scale=True) as bar:
        for batch in batches:
            yield batch
            bar.update(batch.num_rows)


def _label_map(label_map) -> dict[int, str]:
    if label_map is None:
        return ava_label_map()
    if _is_path(label_map):
        return read_label_map(label_map)
    if isinstance(label_map, Mapping):
        checked = {}
        for action_id, name in label_map.items():
            if isinstance(action_id, bool) or not isinstance(action_id, (int, np.integer)) or not isinstance(name, str):
                raise ValueError(f"label_map must map integer action ids to names, got {action_id!r}: {name!r}")
            checked[int(action_id)] = name
        return checked
    raise ValueError(f"label_map must be a .pbtxt path, a {{id: name}} mapping or None, got {type(label_map).__name__}")


def _excluded_keyframes(excluded_timestamps) -> list[tuple[str, str, str]]:
    if excluded_timestamps is None:
        return []
    if _is_path(excluded_timestamps):
        return [(video, time, f"{excluded_timestamps}:{line}") for video, time, line in
                read_keyframe_list(excluded_timestamps)]
    keyframes = []
    for index, item in enumerate(excluded_timestamps, start=1):
        where = f"<in-memory excluded timestamps>:{index}"
        if isinstance(item, str):
            item = item.rsplit(",", 1)
        if len(item) != 2:
            raise ValueError(f"{where}: expected (video_id, timestamp), got {item!r}")
        try:
            keyframes.append((str(item[0]), timestamp_text(item[1]), where))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    return keyframes


def groundtruth_from_references(keyframes: Sequence, boxes: Sequence, labels: Sequence,
                                empty_keyframe_rows: bool = True,
                                source: str = "<references>") -> AvaCsvRows:
    """Per-keyframe annotations -> ground-truth rows (one per box and action; person id = box index).

    Args:
        keyframes: K keyframes, "video_id,timestamp" or (video_id, timestamp).
        boxes: K arrays (M_k, 4), normalised x1, y1, x2, y2.
        labels: K sequences of M_k entries, each the box's action ids (e.g. [12, 79]) or a multi-hot vector
            (entry j = action id j + 1).
        empty_keyframe_rows: a keyframe without any (box, action) becomes a 2-column row (the 2020 format's
            "evaluated, nobody in it"); False leaves it out.
    """
    if not (len(keyframes) == len(boxes) == len(labels)):
        raise ValueError(f"keyframes, boxes and labels differ in length: {len(keyframes)}, {len(boxes)}, {len(labels)}")
    rows = []
    for index, (key, box_array, box_labels) in enumerate(zip(keyframes, boxes, labels)):
        video_id, time = split_keyframe_key(key)
        box_array = np.asarray(box_array, dtype=np.float64).reshape(-1, 4)
        if len(box_labels) != len(box_array):
            raise ValueError(f"keyframe {index} ({key!r}): {len(box_array)} boxes but {len(box_labels)} label entries")
        written = 0
        for person, (box, action_ids) in enumerate(zip(box_array.tolist(), box_labels)):
            for action_id in _action_ids(action_ids, f"keyframe {index} ({key!r}) box {person}"):
                rows.append((video_id, time, *box, action_id, person))
                written += 1
        if not written and empty_keyframe_rows:
            rows.append((video_id, time))
    return AvaCsvRows.from_rows(rows, source=source)


def _action_ids(entry, where: str) -> list[int]:
    """A box's labels: a list of action ids (>= 1), or a multi-hot vector (entry j = action id j + 1).

    A bool array, or one containing a 0 (never an action id), is a multi-hot vector and must hold only 0 and 1.
    """
    array = np.asarray(entry)
    if array.ndim != 1:
        raise ValueError(f"{where}: labels must be a list of action ids or a multi-hot vector, got shape {array.shape}")
    if array.size == 0:
        return []
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{where}: labels must be numbers, got {entry!r}")
    if array.dtype == bool or (array == 0).any():
        if not np.isin(array, (0, 1)).all():
            raise ValueError(f"{where}: a multi-hot label vector must hold only 0 and 1, got {entry!r}")
        return (np.flatnonzero(array) + 1).tolist()
    if not np.all(np.mod(array, 1) == 0):
        raise ValueError(f"{where}: action ids must be integers, got {entry!r}")
    return [int(value) for value in array.tolist()]


def build_metric_inputs(keys: Sequence, boxes: Sequence, scores: Sequence, gt_boxes: Sequence,
                        gt_labels: Sequence) -> dict[str, list[dict]]:
    """Per-keyframe arrays -> `predictions` / `references` for the `ava_frame_map` evaluate module's `add_batch`.

    For a Trainer `compute_metrics`: gather, per evaluated keyframe, its key ("video_id,timestamp"), the scored
    person boxes (N, 4, normalised x1 y1 x2 y2), their scores (N, 80; sigmoid of the logits), the ground-truth
    boxes (M, 4) and their labels (M lists of action ids, or an (M, 80) multi-hot array), then
    `metric.add_batch(**build_metric_inputs(...))` and `metric.compute(protocol=...)`.
    """
    if not (len(keys) == len(boxes) == len(scores) == len(gt_boxes) == len(gt_labels)):
        raise ValueError("keys, boxes, scores, gt_boxes and gt_labels must have one entry per keyframe")
    predictions, references = [], []
    for index, key in enumerate(keys):
        key_text = keyframe_key(*split_keyframe_key(key))
        box_array = np.asarray(boxes[index], dtype=np.float64).reshape(-1, 4)
        score_array = np.asarray(scores[index], dtype=np.float64).reshape(len(box_array), -1)
        gt_array = np.asarray(gt_boxes[index], dtype=np.float64).reshape(-1, 4)
        labels = [_action_ids(entry, f"keyframe {key_text!r} box {box}") for box, entry in enumerate(gt_labels[index])]
        predictions.append({"key": key_text, "boxes": box_array.tolist(), "scores": score_array.tolist()})
        references.append({"key": key_text, "boxes": gt_array.tolist(), "labels": labels})
    return {"predictions": predictions, "references": references}
