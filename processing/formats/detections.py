"""Model outputs -> AVA detection rows and CSV files, in mmaction2's row order; keyframe keys.

    from videomae_action_detection.processing.formats.detections import write_detections
    write_detections("detections.csv", ["1j20qq1JyX4,0902"], boxes=[boxes], scores=[scores])

`boxes` are normalised x1, y1, x2, y2 per keyframe, `scores` the (num_boxes, num_actions) sigmoid outputs; the rows
are the official detections CSV (video_id, timestamp, x1, y1, x2, y2, action_id, score).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from .ava_files import AvaCsvRows, round_decimals, timestamp_text, write_detections_csv

MMACTION2_ACTION_THRESHOLD = 0.002  # mmaction2's AVAMetric(action_thr): detections with score > 0.002 are written
CSV_DECIMALS = 4  # mmaction2 writes boxes and scores with "{:.4f}"


def split_keyframe_key(key) -> tuple[str, str]:
    """A keyframe given as "video_id,timestamp" or (video_id, timestamp) -> (video_id, timestamp text)."""
    if isinstance(key, str):
        video_id, separator, timestamp = key.rpartition(",")
        if not separator or not video_id:
            raise ValueError(f"keyframe key must be 'video_id,timestamp', got {key!r}")
        return video_id, timestamp
    video_id, timestamp = key
    return str(video_id), timestamp_text(timestamp)


def keyframe_key(video_id: str, timestamp) -> str:
    """The keyframe key of the metric inputs: "video_id,timestamp" (integer timestamps as `%04d`, like AVA)."""
    return f"{video_id},{timestamp_text(timestamp)}"



def _keyframe_vocabularies(keyframes: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    video_vocab: dict[str, int] = {}
    time_vocab: dict[str, int] = {}
    video_index, time_index = [], []
    for key in keyframes:
        video_id, time = split_keyframe_key(key)
        video_index.append(video_vocab.setdefault(video_id, len(video_vocab)))
        time_index.append(time_vocab.setdefault(time, len(time_vocab)))
    return (np.array(list(video_vocab), dtype=object), np.array(list(time_vocab), dtype=object),
            np.array(video_index, dtype=np.int32), np.array(time_index, dtype=np.int32))


def detections_from_outputs(keyframes: Sequence, boxes: Sequence, scores: Sequence, action_thr: float | None = None,
                            decimals: int | None = CSV_DECIMALS, action_ids: Iterable[int] | None = None,
                            source: str = "<model outputs>",
                            column_action_ids: Sequence[int] | None = None) -> AvaCsvRows:
    """Per-keyframe model outputs -> detection rows, in the row order mmaction2 writes them.

    Args:
        keyframes: K keyframes, each "video_id,timestamp" or (video_id, timestamp).
        boxes: K arrays (N_k, 4): normalised x1, y1, x2, y2 of the person boxes.
        scores: K arrays (N_k, C): action scores (sigmoid of the logits); column j is action id
            `column_action_ids[j]`, by default j + 1 (C = 80 for AVA).
        action_thr: keep a (box, class) only when its score > action_thr, compared in the scores' dtype (mmaction2
            uses 0.002 on float32 scores: `MMACTION2_ACTION_THRESHOLD`); None keeps every score.
        decimals: round boxes and scores exactly as writing them with "%.{decimals}f" and reading them back does
            (4: what mmaction2 writes; the published numbers were scored on such files); None keeps them exact.
        action_ids: write only these action ids (e.g. the label map's); None writes all C.
        column_action_ids: the action id of each score column (a model's `config.label_action_ids`, e.g. the 7
            AVA ids of a model trained on a subset); None: column j is action id j + 1.

    Returns:
        AvaCsvRows: per keyframe, for each score column in order, for each box (mmaction2's `results2csv` order),
        one row.
    """
    if not (len(keyframes) == len(boxes) == len(scores)):
        raise ValueError(f"keyframes, boxes and scores differ in length: {len(keyframes)}, {len(boxes)}, {len(scores)}")
    videos, times, keyframe_video, keyframe_time = _keyframe_vocabularies(keyframes)
    box_arrays = [np.asarray(item).reshape(-1, 4) if np.size(item) else np.zeros((0, 4)) for item in boxes]
    score_arrays = [np.asarray(item) for item in scores]
    widths = {array.shape[1] for array in score_arrays if array.ndim == 2 and array.shape[0]}
    if len(widths) > 1:
        raise ValueError(f"score arrays have different numbers of classes: {sorted(widths)}")
    num_classes = widths.pop() if widths else 0
    for index, (box_array, score_array) in enumerate(zip(box_arrays, score_arrays)):
        if len(box_array) and (score_array.ndim != 2 or score_array.shape[0] != len(box_array)):
            raise ValueError(
                f"keyframe {index} ({keyframes[index]!r}): scores must be (num_boxes={len(box_array)}, num_classes), "
                f"got {score_array.shape}"
            )
    counts = np.array([len(array) for array in box_arrays], dtype=np.int64)
    nonempty = [index for index, count in enumerate(counts.tolist()) if count]
    if not nonempty or num_classes == 0:
        return AvaCsvRows.empty(source)
    if column_action_ids is None:
        column_ids = np.arange(1, num_classes + 1, dtype=np.int64)
    else:
        column_ids = np.array([int(action_id) for action_id in column_action_ids], dtype=np.int64)
        if len(column_ids) != num_classes or len(np.unique(column_ids)) != num_classes:
            raise ValueError(f"{source}: column_action_ids must be {num_classes} distinct ids (one per score column), "
                             f"got {list(column_action_ids)}")
    all_boxes = np.concatenate([box_arrays[index] for index in nonempty]).astype(np.float64)
    all_scores = np.concatenate([score_arrays[index] for index in nonempty])
    if not (np.isfinite(all_boxes).all() and np.isfinite(all_scores.astype(np.float64)).all()):
        raise ValueError(f"{source}: boxes and scores must be finite numbers")
    box_keyframe = np.repeat(np.arange(len(box_arrays)), counts)
    box_starts = np.cumsum(counts) - counts
    within = np.arange(len(all_boxes)) - box_starts[box_keyframe]
    # output position of (box b, class c): keyframe's first row + c * (boxes in keyframe) + b's index in keyframe
    destination = (box_starts[box_keyframe] * num_classes)[:, None] + np.arange(num_classes)[None, :] * counts[
        box_keyframe][:, None] + within[:, None]
    flat_order = np.empty(destination.size, dtype=np.int64)
    flat_order[destination.ravel()] = np.arange(destination.size)
    row_box, row_class = np.divmod(flat_order, num_classes)
    keep = np.ones(len(flat_order), dtype=bool)
    if action_thr is not None:
        keep &= (all_scores > action_thr).ravel()[flat_order]
    if action_ids is not None:
        wanted_ids = np.array([int(action_id) for action_id in action_ids], dtype=np.int64)
        keep &= np.isin(column_ids, wanted_ids)[row_class]
    row_box, row_class = row_box[keep], row_class[keep]
    row_scores = all_scores.astype(np.float64)[row_box, row_class]
    row_boxes = all_boxes[row_box]
    if decimals is not None:
        row_scores = round_decimals(row_scores, decimals)
        row_boxes = round_decimals(row_boxes, decimals)
    row_keyframe = box_keyframe[row_box]
    return AvaCsvRows(
        video_ids=videos,
        timestamps=times,
        video_index=keyframe_video[row_keyframe],
        timestamp_index=keyframe_time[row_keyframe],
        boxes=row_boxes,
        action_ids=column_ids[row_class],
        last_column=row_scores,
        line_numbers=np.arange(1, len(row_box) + 1, dtype=np.int64),
        empty_video_index=np.zeros(0, dtype=np.int32),
        empty_timestamp_index=np.zeros(0, dtype=np.int32),
        empty_line_numbers=np.zeros(0, dtype=np.int64),
        source=source,
    )


def write_detections(path: str | os.PathLike, keyframes: Sequence, boxes: Sequence, scores: Sequence,
                     action_thr: float | None = None, action_ids: Iterable[int] | None = None,
                     decimals: int = CSV_DECIMALS, column_action_ids: Sequence[int] | None = None) -> int:
    """Write model outputs as an official detections CSV (see `detections_from_outputs`); returns the row count.

    `action_thr=MMACTION2_ACTION_THRESHOLD` writes what mmaction2's AVAMetric writes.
    """
    rows = detections_from_outputs(keyframes, boxes, scores, action_thr=action_thr, decimals=None,
                                   action_ids=action_ids, column_action_ids=column_action_ids)
    write_detections_csv(path, rows, decimals=decimals)
    return rows.num_rows
