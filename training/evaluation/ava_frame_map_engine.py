"""Vectorised AVA frame-mAP@IoU that reproduces the ActivityNet evaluator and mmaction2's re-implementation exactly.

What "exactly" takes (all of it checked against the reference outputs in `tests/fixtures/ava_eval/`):
- The precision-recall curve of a class sorts the concatenation of that class's per-keyframe score arrays with
  `np.argsort` (numpy's default, unstable sort), so tied scores keep whatever order that sort gives the array the
  reference builds. We build the same array (same keyframe order, same order inside a keyframe, same dtype) and sort
  it the same way.
- The official reader keeps the 50 best detections of a keyframe in a heap of `(score, action_id, y1, x1, y2, x2)`
  tuples fed in file order, then lists them by a stable sort on score. Where that order matters (a tie at the 50th
  score, two detections of one class with the same score and different boxes, or a detection whose best IoU is
  shared by two ground-truth boxes) the keyframe is replayed with the reference's own heap discipline; every
  other keyframe is handled with array operations, which give the same result there.
- IoU is computed with the reference's operations in the reference's dtypes (float32 boxes and areas in mmaction2).

Memory: detections are read in blocks and kept as (keyframe int32, class int16, score float64, box int32) with the
boxes of a block de-duplicated (a box is repeated once per class), about 18 bytes per row.
"""

from __future__ import annotations

import heapq
import logging
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ...processing.formats.ava_files import AvaCsvRows
from .ava_protocols import MMACTION2_GROUPS, Protocol

logger = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5


class AvaEvaluationWarning(UserWarning):
    """Input the evaluators ignore or score unchanged (unknown class ids, invalid or out-of-frame boxes, ...)."""


@dataclass
class FrameMapOutcome:
    """Everything one evaluation produced.

    Attributes:
        protocol: the Protocol that produced the numbers.
        class_names: {action id: name} of the label map.
        average_precision: {action id: AP} in the order the protocol reports them (official: by id, every class of
            the label map, NaN without ground truth; mmaction2: the classes with detections, in its order).
        mean_average_precision: the protocol's mean (official `PascalBoxes_Precision/mAP@0.5IOU`, mmaction2
            `overall`).
        group_means: mmaction2's person_movement / object_manipulation / person_interaction; None for the
            official protocols (which do not report them).
        num_groundtruth: {action id: positives counted}.
        num_detections: {action id: detections scored}.
        counts: what was read, evaluated and ignored (row and keyframe counts).
    """

    protocol: Protocol
    class_names: dict[int, str]
    average_precision: dict[int, float]
    mean_average_precision: float
    group_means: dict[str, float] | None
    num_groundtruth: dict[int, int]
    num_detections: dict[int, int]
    counts: dict[str, int] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------------------
# keyframes and classes


class _KeyframeIndex:
    """Keyframe key text (`video_id,<protocol's timestamp key>`) -> dense id, in order of first registration."""

    def __init__(self, protocol: Protocol):
        self.protocol = protocol
        self.ids: dict[str, int] = {}
        self._time_keys: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def time_key(self, text: str, where: Callable[[], str]) -> str:
        """The protocol's key of a timestamp text (cached); `where()` names it in errors."""
        key = self._time_keys.get(text)
        if key is None:
            try:
                key = self.protocol.keyframe_key(text)
            except ValueError as error:
                raise ValueError(f"{where()}: {error}") from None
            self._time_keys[text] = key
        return key

    def register(self, video_ids, timestamps, video_index, timestamp_index, where: Callable[[int], str]) -> np.ndarray:
        """(N,) keyframe ids of rows given by vocabulary indices; `where(row)` names a row in errors."""
        count = len(video_index)
        if count == 0:
            return np.zeros(0, dtype=np.int32)
        pair = video_index.astype(np.int64) * max(len(timestamps), 1) + timestamp_index
        run_starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        unique_pairs, first_run, run_to_unique = np.unique(pair[run_starts], return_index=True, return_inverse=True)
        unique_ids = np.empty(len(unique_pairs), dtype=np.int32)
        for unique in np.argsort(first_run, kind="stable").tolist():
            video, time = divmod(int(unique_pairs[unique]), max(len(timestamps), 1))
            first_row = int(run_starts[first_run[unique]])
            time_key = self.time_key(timestamps[time], lambda: where(first_row))
            unique_ids[unique] = self.ids.setdefault(f"{video_ids[video]},{time_key}", len(self.ids))
        run_lengths = np.diff(np.r_[run_starts, count])
        return np.repeat(unique_ids[run_to_unique], run_lengths)


class _ClassSlots:
    """The label map's action ids as dense slots 0..S-1 (ascending id)."""

    def __init__(self, label_map: dict[int, str]):
        if not label_map:
            raise ValueError("the label map is empty")
        ids = sorted(label_map)
        if ids[0] < 1:
            raise ValueError(f"action ids in the label map must be >= 1 (classes are 1-indexed), got {ids[0]}")
        self.ids = np.array(ids, dtype=np.int64)
        self.max_id = ids[-1]
        self._dtype = np.int16 if len(ids) < 2**15 else np.int32
        self._lookup = None
        if self.max_id <= 1 << 20:  # a direct table; otherwise a binary search
            self._lookup = np.full(self.max_id + 1, -1, dtype=self._dtype)
            self._lookup[self.ids] = np.arange(len(ids))

    def __len__(self) -> int:
        return len(self.ids)

    def slots(self, action_ids: np.ndarray) -> np.ndarray:
        """(N,) slot of each action id, -1 for ids outside the label map."""
        slots = np.full(len(action_ids), -1, dtype=self._dtype)
        if self._lookup is not None:
            known = (action_ids >= 0) & (action_ids <= self.max_id)
            slots[known] = self._lookup[action_ids[known]]
        else:
            where = np.minimum(np.searchsorted(self.ids, action_ids), len(self.ids) - 1)
            known = self.ids[where] == action_ids
            slots[known] = where[known]
        return slots


# ----------------------------------------------------------------------------------------------------------------
# IoU and AP, with the references' operations


def _iou(detection_boxes: np.ndarray, groundtruth_boxes: np.ndarray, box_dtype) -> np.ndarray:
    """IoU of x1,y1,x2,y2 boxes (broadcasting), as np_box_ops.iou computes it in `box_dtype`.

    float64: the official evaluator. float32: mmaction2, whose boxes are float32 arrays: the clipped intersection
    sides become float64 (np.maximum with float64 zeros), the areas stay float32 and their sum is float32 before the
    float64 intersection is subtracted.
    """
    det = detection_boxes.astype(box_dtype, copy=False)
    gt = groundtruth_boxes.astype(box_dtype, copy=False)
    height = np.maximum(0.0, (np.minimum(det[..., 3], gt[..., 3]) - np.maximum(det[..., 1], gt[..., 1])))
    width = np.maximum(0.0, (np.minimum(det[..., 2], gt[..., 2]) - np.maximum(det[..., 0], gt[..., 0])))
    if box_dtype is np.float32:
        height = height.astype(np.float64)
        width = width.astype(np.float64)
    intersection = height * width
    det_area = (det[..., 3] - det[..., 1]) * (det[..., 2] - det[..., 0])
    gt_area = (gt[..., 3] - gt[..., 1]) * (gt[..., 2] - gt[..., 0])
    union = (det_area + gt_area).astype(np.float64) - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return intersection / union


def average_precision(scores: np.ndarray, true_positive: np.ndarray, num_groundtruth: int) -> float:
    """VOC all-point AP of one class, as the ActivityNet `metrics.py` computes it.

    Args:
        scores: (D,) detection scores, float64 (official) or float32 (mmaction2), in the reference's array order.
        true_positive: (D,) bool.
        num_groundtruth: positives of the class; 0 gives NaN.
    """
    if num_groundtruth == 0:
        return float("nan")
    order = np.argsort(scores)[::-1]
    true_positives = true_positive.astype(int)[order]
    cumulative_true = np.cumsum(true_positives)
    cumulative_false = np.cumsum(1 - true_positives)
    precision = cumulative_true.astype(float) / (cumulative_true + cumulative_false)
    recall = cumulative_true.astype(float) / np.int64(num_groundtruth)
    if not precision.size:
        return 0.0
    recall = np.concatenate([[0], recall, [1]])
    precision = np.concatenate([[0], precision, [0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    changes = np.where(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[changes] - recall[changes - 1]) * precision[changes]))


# ----------------------------------------------------------------------------------------------------------------
# the evaluation


@dataclass
class _Detections:
    """Evaluated detections of evaluated classes, file order: keyframe, slot, score, box (into `box_table`)."""

    keyframe: np.ndarray
    slot: np.ndarray
    score: np.ndarray
    box: np.ndarray
    box_table: np.ndarray  # (B, 4) float64 x1 y1 x2 y2


class _Evaluation:
    def __init__(self, groundtruth: AvaCsvRows, label_map: dict[int, str], excluded, protocol: Protocol,
                 iou_threshold: float):
        self.protocol = protocol
        self.iou_threshold = iou_threshold
        self.label_map = dict(label_map)
        self.classes = _ClassSlots(label_map)
        self.slot_of_id = {int(action_id): slot for slot, action_id in enumerate(self.classes.ids.tolist())}
        self.index = _KeyframeIndex(protocol)
        self.counts: Counter = Counter()
        self.unknown_ids: Counter = Counter()
        self.ignored_keyframes: set[int] = set()
        self.messages: list[str] = []
        self._gt_groups = None
        self._read_groundtruth(groundtruth)
        self._register_excluded(excluded)

    # -- inputs ---------------------------------------------------------------------------------------------------

    def _read_groundtruth(self, gt: AvaCsvRows) -> None:
        self.gt_source = gt.source
        self.gt_keyframe = self.index.register(
            gt.video_ids, gt.timestamps, gt.video_index, gt.timestamp_index, gt.where
        )
        empty_keyframes = self.index.register(
            gt.video_ids, gt.timestamps, gt.empty_video_index, gt.empty_timestamp_index,
            lambda row: f"{gt.source}:{int(gt.empty_line_numbers[row])}",
        )
        self.num_groundtruth_keyframes = len(self.index)
        if gt.num_empty_keyframes and self.protocol.evaluated_keyframes != "groundtruth_rows":
            self.messages.append(
                f"{gt.num_empty_keyframes} 2-column ground-truth rows (keyframes without people, the "
                f"activitynet-2020 format) add nothing under protocol {self.protocol.name!r} (the {self.protocol.name} "
                "evaluator itself rejects such rows); they were ignored"
            )
        self.gt_slot = self.classes.slots(gt.action_ids)
        self.gt_boxes = gt.boxes
        self.gt_heap_score = gt.scores  # the official reader parses the person id as a score (1.0 without one)
        self.gt_action_ids = gt.action_ids
        evaluated_class = self.gt_slot >= 0
        inverted = evaluated_class & ((gt.boxes[:, 2] < gt.boxes[:, 0]) | (gt.boxes[:, 3] < gt.boxes[:, 1]))
        if inverted.any():
            row = int(np.flatnonzero(inverted)[0])
            raise ValueError(f"{gt.where(row)}: ground-truth box has x2 < x1 or y2 < y1: {gt.boxes[row].tolist()}")
        self._count_unknown(gt.action_ids[~evaluated_class], "ground_truth")
        self.counts["groundtruth_rows"] = gt.num_rows
        self.counts["groundtruth_empty_keyframe_rows"] = gt.num_empty_keyframes
        self.counts["groundtruth_keyframes"] = len(np.union1d(self.gt_keyframe, empty_keyframes))
        if not evaluated_class.any():
            raise ValueError(f"{gt.source}: no ground-truth box has an action id of the label map; nothing to evaluate")

    def _register_excluded(self, excluded: Sequence[tuple[str, str, str]]) -> None:
        ids = []
        for video_id, timestamp, where in excluded:
            time_key = self.index.time_key(timestamp, lambda: where)
            ids.append(self.index.ids.setdefault(f"{video_id},{time_key}", len(self.index.ids)))
        is_excluded = np.zeros(len(self.index), dtype=bool)
        is_excluded[np.array(ids, dtype=np.int64)] = True
        self.is_excluded = is_excluded
        gt_on_excluded = is_excluded[self.gt_keyframe]
        evaluated_class = self.gt_slot >= 0
        # keyframes with a ground-truth box of an evaluated class (mmaction2's evaluated keyframes)
        has_boxes = np.zeros(len(self.index), dtype=bool)
        has_boxes[self.gt_keyframe[evaluated_class]] = True
        rule = self.protocol.evaluated_keyframes
        if rule == "groundtruth_rows":
            evaluated = np.zeros(len(self.index), dtype=bool)
            evaluated[: self.num_groundtruth_keyframes] = True
            self.new_keyframes_evaluated = False
        elif rule == "not_excluded":
            evaluated = ~is_excluded
            self.new_keyframes_evaluated = True
        else:
            evaluated = has_boxes & ~is_excluded
            self.new_keyframes_evaluated = False
        self.keyframe_evaluated = evaluated
        self.gt_matched = evaluated_class & ~gt_on_excluded  # ground truth the detections are matched against
        positives = evaluated_class if self.protocol.excluded_groundtruth_counts else self.gt_matched
        self.num_positives = np.bincount(self.gt_slot[positives].astype(np.int64), minlength=len(self.classes))
        self.counts["excluded_keyframes"] = int(is_excluded.sum())
        self.counts["groundtruth_boxes_on_excluded_keyframes"] = int((evaluated_class & gt_on_excluded).sum())
        self.counts["groundtruth_rows_of_other_classes"] = int((~evaluated_class).sum())

    def _count_unknown(self, action_ids: np.ndarray, kind: str) -> None:
        if len(action_ids):
            ids, counts = np.unique(action_ids, return_counts=True)
            for action_id, count in zip(ids.tolist(), counts.tolist()):
                self.unknown_ids[(kind, action_id)] += count

    def read_detections(self, batches: Iterable[AvaCsvRows]) -> _Detections:
        keyframes, slots, scores, boxes, tables = [], [], [], [], []
        num_boxes = 0
        for batch in batches:
            self.counts["detection_rows"] += batch.num_rows
            self.counts["detection_keyframe_only_rows"] += batch.num_empty_keyframes
            if batch.num_rows == 0:
                continue
            keyframe = self.index.register(
                batch.video_ids, batch.timestamps, batch.video_index, batch.timestamp_index, batch.where
            )
            slot = self.classes.slots(batch.action_ids)
            evaluated_class = slot >= 0
            self._count_unknown(batch.action_ids[~evaluated_class], "detections")
            known = keyframe < len(self.keyframe_evaluated)
            evaluated = np.full(len(keyframe), self.new_keyframes_evaluated)
            evaluated[known] = self.keyframe_evaluated[keyframe[known]]
            ignored = evaluated_class & ~evaluated
            if ignored.any():
                self.counts["detection_rows_on_keyframes_not_evaluated"] += int(ignored.sum())
                self.ignored_keyframes.update(np.unique(keyframe[ignored]).tolist())
            keep = evaluated_class & evaluated
            kept_boxes = batch.boxes[keep]
            if not self.protocol.drops_invalid_detection_boxes:
                inverted = (kept_boxes[:, 2] < kept_boxes[:, 0]) | (kept_boxes[:, 3] < kept_boxes[:, 1])
                if inverted.any():
                    row = int(np.flatnonzero(keep)[np.flatnonzero(inverted)[0]])
                    raise ValueError(
                        f"{batch.where(row)}: detection box has x2 < x1 or y2 < y1 ({batch.boxes[row].tolist()}), "
                        f"which {self.protocol.name} rejects"
                    )
            self.counts["detection_rows_outside_unit_square"] += int(
                ((kept_boxes < 0.0) | (kept_boxes > 1.0)).any(axis=1).sum()
            )
            table, box_index = _deduplicate_boxes(kept_boxes)
            keyframes.append(keyframe[keep])
            slots.append(slot[keep].astype(np.int16))
            scores.append(batch.scores[keep])
            boxes.append((box_index + num_boxes).astype(np.int32))
            tables.append(table)
            num_boxes += len(table)
        if not keyframes:
            return _Detections(
                np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0), np.zeros(0, np.int32), np.zeros((0, 4))
            )
        return _Detections(  # one field at a time, freeing its blocks (a lower peak than all blocks + all fields)
            keyframe=_concatenate_and_clear(keyframes),
            slot=_concatenate_and_clear(slots),
            score=_concatenate_and_clear(scores),
            box=_concatenate_and_clear(boxes),
            box_table=_concatenate_and_clear(tables),
        )

    # -- matching ---------------------------------------------------------------------------------------------------

    def _groundtruth_groups(self):
        """Matchable ground truth grouped by (keyframe, slot), each group in the reference's order (descending
        person id, which the official reader parses as the score, then file order): (sorted rows, group keys,
        group starts, group sizes); computed once."""
        if self._gt_groups is None:
            rows = np.flatnonzero(self.gt_matched)
            keyframe = self.gt_keyframe[rows].astype(np.int64)
            slot = self.gt_slot[rows].astype(np.int64)
            rows = rows[np.lexsort((rows, -self.gt_heap_score[rows], slot, keyframe))]
            group = self.gt_keyframe[rows].astype(np.int64) * len(self.classes) + self.gt_slot[rows]
            keys, starts, sizes = np.unique(group, return_index=True, return_counts=True)
            self._gt_groups = (rows, keys, starts, sizes)
        return self._gt_groups

    def _match(self, det: _Detections, rows: np.ndarray, position: np.ndarray, ambiguity_check: bool):
        """Greedy matching of detections `rows` to the ground truth of their keyframe and class.

        Detections are taken in `position` order within their (keyframe, class); each is compared with its
        highest-IoU ground truth (the first such in the reference's order) and is a true positive when that IoU >=
        threshold and that ground truth is still unmatched (PerImageEvaluation / mmaction2's tpfp_single).

        Returns (true_positive (R,) bool, keyframes where two ground-truth boxes share a detection's best IoU at or
        above the threshold, so that the official ground-truth heap order decides; only with `ambiguity_check`).
        """
        count = len(rows)
        true_positive = np.zeros(count, dtype=bool)
        no_keyframes = np.zeros(0, dtype=np.int64)
        gt_order, group_keys, group_starts, group_sizes = self._groundtruth_groups()
        if count == 0 or len(group_keys) == 0:
            return true_positive, no_keyframes
        det_keyframe = det.keyframe[rows]
        det_group = det_keyframe.astype(np.int64) * len(self.classes) + det.slot[rows]
        where = np.minimum(np.searchsorted(group_keys, det_group), len(group_keys) - 1)
        num_pairs = np.where(group_keys[where] == det_group, group_sizes[where], 0)
        dets_with_gt = np.flatnonzero(num_pairs)
        if len(dets_with_gt) == 0:
            return true_positive, no_keyframes
        pair_counts = num_pairs[dets_with_gt]
        pair_starts = np.cumsum(pair_counts) - pair_counts
        total = int(pair_counts.sum())
        pair_det = np.repeat(dets_with_gt, pair_counts)
        offset = np.arange(total) - np.repeat(pair_starts, pair_counts)
        pair_gt = gt_order[np.repeat(group_starts[where[dets_with_gt]], pair_counts) + offset]
        iou = _iou(det.box_table[det.box[rows[pair_det]]], self.gt_boxes[pair_gt], self.protocol.box_dtype)
        best = np.maximum.reduceat(iou, pair_starts)  # NaN (0/0 for a zero-area pair) propagates: no match
        is_best = iou == np.repeat(best, pair_counts)
        first_best = np.minimum.reduceat(np.where(is_best, np.arange(total), total), pair_starts)
        matched = best >= self.iou_threshold
        candidate = np.full(count, -1, dtype=np.int64)
        candidate[dets_with_gt[matched]] = pair_gt[first_best[matched]]
        ambiguous = no_keyframes
        if ambiguity_check:
            shared = matched & (np.add.reduceat(is_best.astype(np.int64), pair_starts) > 1)
            ambiguous = np.unique(det_keyframe[dets_with_gt[shared]]).astype(np.int64)
        with_candidate = np.flatnonzero(candidate >= 0)
        if len(with_candidate):
            order = with_candidate[np.lexsort((position[with_candidate], candidate[with_candidate]))]
            first_of_candidate = np.r_[True, candidate[order][1:] != candidate[order][:-1]]
            true_positive[order[first_of_candidate]] = True
        return true_positive, ambiguous

    # -- official protocols -------------------------------------------------------------------------------------------

    def score_official(self, det: _Detections) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Per slot: (scores float64, true positives) in the official array order.

        Keyframes are processed in chunks of whole keyframes (bounded temporaries): the top-k rows of each by
        (score descending, file order), then the checks that send a keyframe to the exact replay, then matching.
        """
        cap = self.protocol.max_detections_per_keyframe
        records = {name: [] for name in ("slot", "keyframe", "position", "score", "true")}
        replay_keyframes = []
        first_row_of_keyframe = np.full(len(self.index), np.iinfo(np.int64).max, dtype=np.int64)
        valid_box = (det.box_table[:, 1] < det.box_table[:, 3]) & (det.box_table[:, 0] < det.box_table[:, 2])
        for rows in _keyframe_chunks(det.keyframe):
            order = rows[_order_by_group_then_descending_score(det.keyframe[rows], det.score[rows])]
            keyframe = det.keyframe[order]
            starts = np.flatnonzero(np.r_[True, keyframe[1:] != keyframe[:-1]])
            sizes = np.diff(np.r_[starts, len(order)])
            first_row_of_keyframe[keyframe[starts]] = np.minimum.reduceat(order, starts)
            group_of = np.repeat(np.arange(len(starts)), sizes)
            rank = np.arange(len(order)) - starts[group_of]
            ambiguous = np.zeros(len(starts), dtype=bool)
            # a tie at the cap: which of the tied detections the heap keeps depends on the arrival order
            large = np.flatnonzero(sizes > cap)
            at_cap = det.score[order[starts[large] + cap - 1]] == det.score[order[starts[large] + cap]]
            ambiguous[large[at_cap]] = True
            kept = rank < cap
            self.counts["detection_rows_beyond_top_k"] += int(len(order) - kept.sum())
            order, rank, group_of = order[kept], rank[kept], group_of[kept]
            # same class and score, different boxes: the heap's list order decides which is matched first
            score = det.score[order]
            tie = (group_of[1:] == group_of[:-1]) & (score[1:] == score[:-1])
            if tie.any():
                run = np.cumsum(np.r_[True, ~tie])
                members = np.flatnonzero(np.r_[tie, False] | np.r_[False, tie])
                members = members[np.lexsort((det.slot[order[members]], run[members]))]
                first, second = order[members[:-1]], order[members[1:]]
                same_slot = (run[members[:-1]] == run[members[1:]]) & (det.slot[first] == det.slot[second])
                different_box = (det.box_table[det.box[first]] != det.box_table[det.box[second]]).any(axis=1)
                ambiguous[group_of[members[:-1][same_slot & different_box]]] = True
            valid = valid_box[det.box[order]]
            use = ~ambiguous[group_of] & valid
            matched_rows, matched_rank = order[use], rank[use]
            true_positive, shared_best = self._match(det, matched_rows, matched_rank, ambiguity_check=True)
            if len(shared_best):  # two ground-truth boxes tie for a detection's best IoU: heap order decides
                ambiguous[np.isin(keyframe[starts], shared_best)] = True
                still_fast = ~np.isin(det.keyframe[matched_rows], shared_best)
                matched_rows, matched_rank = matched_rows[still_fast], matched_rank[still_fast]
                true_positive = true_positive[still_fast]
            self.counts["detection_rows_with_invalid_boxes"] += int((~ambiguous[group_of] & ~valid).sum())
            replay_keyframes.append(keyframe[starts[ambiguous]])
            records["slot"].append(det.slot[matched_rows])
            records["keyframe"].append(det.keyframe[matched_rows])
            records["position"].append(matched_rank)
            records["score"].append(det.score[matched_rows])
            records["true"].append(true_positive)
        replay = np.concatenate(replay_keyframes) if replay_keyframes else np.zeros(0, dtype=np.int64)
        self.counts["keyframes_replayed_exactly"] = len(replay)
        if len(replay):
            gt_candidates = np.flatnonzero(self.gt_matched)
            gt_rows = _rows_of_keyframes(self.gt_keyframe[gt_candidates], replay)
            det_rows = _rows_of_keyframes(det.keyframe, replay)
            for keyframe, rows, keyframe_gt_rows in zip(replay.tolist(), det_rows, gt_rows):
                slot, position, score, true = self._replay_official_keyframe(det, rows, gt_candidates[keyframe_gt_rows])
                records["slot"].append(slot)
                records["keyframe"].append(np.full(len(slot), keyframe, dtype=np.int64))
                records["position"].append(position)
                records["score"].append(score)
                records["true"].append(true)
        if not records["slot"]:
            return {}, {}
        slot, keyframe, position, score, true = (np.concatenate(records[name]) for name in records)
        # keyframes in the order the official reader meets them: first evaluated detection row of each
        seen = np.flatnonzero(first_row_of_keyframe < np.iinfo(np.int64).max)
        image_rank = np.zeros(len(self.index), dtype=np.int64)
        image_rank[seen[np.argsort(first_row_of_keyframe[seen], kind="stable")]] = np.arange(len(seen))
        final = np.argsort((slot.astype(np.int64) * (len(seen) + 1) + image_rank[keyframe]) * (cap + 1) + position,
                           kind="stable")
        return _split_by_slot(slot[final], score[final], true[final], len(self.classes))

    def _replay_official_keyframe(self, det: _Detections, rows: np.ndarray, gt_rows: np.ndarray):
        """One keyframe exactly as the official reader and PerImageEvaluation process it.

        Args:
            rows: the keyframe's detection rows (evaluated classes), in file order.
            gt_rows: its ground-truth rows (evaluated classes), in file order.

        Returns per scored detection: slot, position in the keyframe's list, score, true positive.
        """
        cap = self.protocol.max_detections_per_keyframe
        heap: list = []
        for score, action_id, (x1, y1, x2, y2) in zip(
            det.score[rows].tolist(), self.classes.ids[det.slot[rows]].tolist(), det.box_table[det.box[rows]].tolist()
        ):
            entry = (score, action_id, y1, x1, y2, x2)
            if cap < 1 or len(heap) < cap:
                heapq.heappush(heap, entry)
            elif score > heap[0][0]:
                heapq.heapreplace(heap, entry)
        listed = sorted(heap, key=lambda entry: -entry[0])  # stable: ties keep the heap's list order
        detections_by_class: dict[int, list] = {}
        position = 0
        for entry in listed:
            if entry[2] < entry[4] and entry[3] < entry[5]:  # PerImageEvaluation._remove_invalid_boxes
                detections_by_class.setdefault(entry[1], []).append((position, entry))
                position += 1
            else:
                self.counts["detection_rows_with_invalid_boxes"] += 1
        gt_heap: list = []
        for score, action_id, (x1, y1, x2, y2) in zip(
            self.gt_heap_score[gt_rows].tolist(), self.gt_action_ids[gt_rows].tolist(), self.gt_boxes[gt_rows].tolist()
        ):
            heapq.heappush(gt_heap, (score, action_id, y1, x1, y2, x2))
        gt_by_class: dict[int, list] = {}
        for entry in sorted(gt_heap, key=lambda entry: -entry[0]):
            gt_by_class.setdefault(entry[1], []).append(entry)
        slots, positions, scores, trues = [], [], [], []
        for action_id, class_detections in detections_by_class.items():
            labels = [False] * len(class_detections)
            class_gts = gt_by_class.get(action_id)
            if class_gts:
                det_xyxy = np.array([[e[3], e[2], e[5], e[4]] for _, e in class_detections], dtype=np.float64)
                gt_xyxy = np.array([[e[3], e[2], e[5], e[4]] for e in class_gts], dtype=np.float64)
                iou = _iou(det_xyxy[:, None, :], gt_xyxy[None, :, :], np.float64)
                best = np.argmax(iou, axis=1).tolist()
                best_iou = iou[np.arange(len(best)), best].tolist()
                taken = [False] * len(class_gts)
                for index, (gt_index, value) in enumerate(zip(best, best_iou)):
                    if value >= self.iou_threshold and not taken[gt_index]:
                        labels[index] = True
                        taken[gt_index] = True
            slot = self.slot_of_id[action_id]
            for (position, entry), label in zip(class_detections, labels):
                slots.append(slot)
                positions.append(position)
                scores.append(entry[0])
                trues.append(label)
        return (np.array(slots, dtype=np.int64), np.array(positions, dtype=np.int64),
                np.array(scores, dtype=np.float64), np.array(trues, dtype=bool))

    # -- mmaction2 ------------------------------------------------------------------------------------------------

    def score_mmaction2(self, det: _Detections):
        """Per slot: (scores float32, true positives) in mmaction2's array order, and its class order.

        mmaction2 walks the keyframes with ground truth in ground-truth file order; inside a keyframe a class's
        detections are in (score descending, file order). Classes are processed one at a time.
        """
        evaluated_gt = (self.gt_slot >= 0) & self.keyframe_evaluated[self.gt_keyframe]
        keyframes, first_row = np.unique(self.gt_keyframe[evaluated_gt], return_index=True)
        keyframes_in_order = keyframes[np.argsort(first_row, kind="stable")]
        image_rank = np.full(len(self.index), -1, dtype=np.int64)
        image_rank[keyframes_in_order] = np.arange(len(keyframes_in_order))
        scores, trues, first_image = {}, {}, {}
        by_slot = np.argsort(det.slot, kind="stable")
        bounds = np.searchsorted(det.slot[by_slot], np.arange(len(self.classes) + 1))
        for slot in range(len(self.classes)):
            rows = by_slot[bounds[slot]:bounds[slot + 1]]
            if len(rows) == 0:
                continue
            order = rows[_order_by_group_then_descending_score(image_rank[det.keyframe[rows]], det.score[rows])]
            true_positive, _ = self._match(det, order, np.arange(len(order)), ambiguity_check=False)
            scores[slot] = det.score[order].astype(np.float32)
            trues[slot] = true_positive
            first_image[slot] = int(image_rank[det.keyframe[order[0]]])
        del by_slot
        # the order mmaction2 first meets each class (its mean sums in that order): keyframes in order, and
        # inside a keyframe `list(set(labels))` of the keyframe's detection labels
        class_order = []
        for image in sorted(set(first_image.values())):
            rows = np.flatnonzero(det.keyframe == keyframes_in_order[image])
            rows = rows[np.lexsort((rows, -det.score[rows]))]
            labels = self.classes.ids[det.slot[rows]].tolist()
            new = {int(self.classes.ids[slot]) for slot, first in first_image.items() if first == image}
            class_order.extend(action_id for action_id in list(set(labels)) if action_id in new)
        return scores, trues, class_order

    # -- results --------------------------------------------------------------------------------------------------

    def warn(self) -> None:
        """Emit the counted warnings (one per kind)."""
        messages = list(self.messages)
        for kind in ("ground_truth", "detections"):
            ids = {action_id: count for (k, action_id), count in self.unknown_ids.items() if k == kind}
            if ids:
                shown = ", ".join(str(action_id) for action_id in sorted(ids)[:20]) + (", ..." if len(ids) > 20 else "")
                messages.append(
                    f"{sum(ids.values())} {kind.replace('_', ' ')} rows have action ids outside the label map "
                    f"({len(ids)} distinct: {shown}); ignored, as the evaluators do"
                )
        if self.counts["detection_rows_with_invalid_boxes"]:
            messages.append(
                f"{self.counts['detection_rows_with_invalid_boxes']} detections have x2 <= x1 or y2 <= y1; dropped "
                "after the top-50 cut, as the official evaluator does"
            )
        if self.counts["detection_rows_outside_unit_square"]:
            messages.append(
                f"{self.counts['detection_rows_outside_unit_square']} evaluated detection boxes reach outside [0, 1]; "
                "scored unchanged (no clipping), as the evaluators do"
            )
        for message in messages:
            warnings.warn(message, AvaEvaluationWarning, stacklevel=3)
        if self.ignored_keyframes:
            logger.info(
                "%d detection rows on %d keyframes that protocol %s does not evaluate were ignored",
                self.counts["detection_rows_on_keyframes_not_evaluated"], len(self.ignored_keyframes),
                self.protocol.name,
            )


def _concatenate_and_clear(blocks: list) -> np.ndarray:
    array = np.concatenate(blocks)
    blocks.clear()
    return array


def _order_by_group_then_descending_score(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Stable argsort by (group ascending, score descending), ties in input order; like
    `np.lexsort((-score, group))` but several times faster: numpy sorts complex numbers by real then imaginary part,
    and its stable sort (timsort) profits from rows already grouped, as detection files are."""
    key = np.empty(len(group), dtype=np.complex128)
    key.real = group
    key.imag = score
    np.negative(key.imag, out=key.imag)
    return np.argsort(key, kind="stable")


_CHUNK_ROWS = 1 << 20


def _keyframe_chunks(keyframe: np.ndarray, chunk_rows: int = _CHUNK_ROWS):
    """Row indices in chunks of about `chunk_rows`, each holding whole keyframes, ascending within a keyframe.

    Detection files list a keyframe's rows together; then a chunk is a range of rows. Otherwise rows are grouped
    by a stable sort on the keyframe id first.
    """
    count = len(keyframe)
    if count == 0:
        return
    run_starts = np.flatnonzero(np.r_[True, keyframe[1:] != keyframe[:-1]])
    grouped = len(run_starts) == len(np.unique(keyframe[run_starts]))
    order = None if grouped else np.argsort(keyframe, kind="stable")
    if not grouped:
        sorted_keyframe = keyframe[order]
        run_starts = np.flatnonzero(np.r_[True, sorted_keyframe[1:] != sorted_keyframe[:-1]])
        del sorted_keyframe
    boundaries = np.r_[run_starts, count]
    start = 0
    while start < count:
        end = int(boundaries[min(np.searchsorted(boundaries, start + chunk_rows), len(boundaries) - 1)])
        end = max(end, int(boundaries[np.searchsorted(boundaries, start, side="right")]))
        yield np.arange(start, end) if grouped else order[start:end]
        start = end


def _rows_of_keyframes(keyframe: np.ndarray, wanted: np.ndarray) -> list[np.ndarray]:
    """For each keyframe id in `wanted`, the indices i (ascending) with keyframe[i] == it."""
    if len(keyframe) == 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(len(wanted))]
    member = np.zeros(int(max(keyframe.max(), wanted.max())) + 1, dtype=bool)
    member[wanted] = True
    rows = np.flatnonzero(member[keyframe])
    rows = rows[np.argsort(keyframe[rows], kind="stable")]
    sorted_keyframes = keyframe[rows]
    starts = np.searchsorted(sorted_keyframes, wanted)
    ends = np.searchsorted(sorted_keyframes, wanted, side="right")
    return [rows[start:end] for start, end in zip(starts.tolist(), ends.tolist())]


def _split_by_slot(slot: np.ndarray, score: np.ndarray, true_positive: np.ndarray, num_slots: int):
    """Arrays sorted by slot -> {slot: scores}, {slot: true positives}."""
    bounds = np.searchsorted(slot, np.arange(num_slots + 1))
    scores, trues = {}, {}
    for index in range(num_slots):
        start, end = int(bounds[index]), int(bounds[index + 1])
        if end > start:
            scores[index] = score[start:end]
            trues[index] = true_positive[start:end]
    return scores, trues


def _deduplicate_boxes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) float64 -> (table (B, 4), (N,) index into it); rows of one box (repeated per class) share an entry."""
    if len(boxes) == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    bits = np.ascontiguousarray(boxes).view(np.uint64)
    digest = np.full(len(boxes), 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(4):
            digest ^= bits[:, column]
            digest *= np.uint64(0xBF58476D1CE4E5B9)
            digest ^= digest >> np.uint64(31)
    order = np.argsort(digest)
    sorted_digest = digest[order]
    new = np.r_[True, sorted_digest[1:] != sorted_digest[:-1]]
    index = np.empty(len(boxes), dtype=np.int64)
    index[order] = np.cumsum(new) - 1
    table = boxes[order[new]]
    if not np.array_equal(table[index].view(np.uint64), bits):  # a digest collision: exact fallback
        _, first, index = np.unique(bits, axis=0, return_index=True, return_inverse=True)
        table = boxes[first]
    return table, index.ravel()


def score_frame_map(groundtruth: AvaCsvRows, detection_batches: Iterable[AvaCsvRows], label_map: dict[int, str],
                    excluded: Sequence[tuple[str, str, str]], protocol: Protocol,
                    iou_threshold: float = IOU_THRESHOLD) -> FrameMapOutcome:
    """Frame-mAP of detections against ground truth under `protocol`.

    Args:
        groundtruth: the ground-truth rows.
        detection_batches: detection rows, in file order, in one or more batches.
        label_map: {action id: name} of the evaluated classes (the class whitelist).
        excluded: excluded keyframes (video_id, timestamp text, where-for-errors); only for protocols that take them.
        protocol: one of `ava_protocols.PROTOCOLS`.
        iou_threshold: 0.5 for the AVA benchmark.
    """
    evaluation = _Evaluation(groundtruth, label_map, excluded, protocol, iou_threshold)
    detections = evaluation.read_detections(detection_batches)
    evaluation.counts["detection_rows_evaluated"] = len(detections.keyframe)
    classes = evaluation.classes
    names = evaluation.label_map
    num_positives = {int(classes.ids[slot]): int(evaluation.num_positives[slot]) for slot in range(len(classes))}
    if protocol.classes_without_detections == "ap_zero":
        scores, trues = evaluation.score_official(detections)
        ap_by_index = np.full(classes.max_id, np.nan)
        for slot in range(len(classes)):
            num_gt = evaluation.num_positives[slot]
            if num_gt == 0:
                continue
            ap_by_index[classes.ids[slot] - 1] = average_precision(
                scores.get(slot, np.zeros(0)), trues.get(slot, np.zeros(0, dtype=bool)), num_gt
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = float(np.nanmean(ap_by_index))
        per_class = {action_id: float(ap_by_index[action_id - 1]) for action_id in range(1, classes.max_id + 1)
                     if action_id in names}
        groups = None
    else:
        scores, trues, class_order = evaluation.score_mmaction2(detections)
        slot_of = {int(action_id): slot for slot, action_id in enumerate(classes.ids.tolist())}
        per_class = {}
        for action_id in class_order:
            slot = slot_of[action_id]
            per_class[action_id] = average_precision(
                scores[slot].astype(np.float32), trues[slot], evaluation.num_positives[slot]
            )
        if not per_class:
            evaluation.messages.append(
                "no detection of a label-map class on an evaluated keyframe: mmaction2 leaves classes without "
                "detections out of its mean, so every mean is NaN (the official protocols give 0)"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = float(np.nanmean(list(per_class.values())))
            groups = {
                group: float(np.nanmean([ap for action_id, ap in per_class.items() if low <= action_id <= high]))
                for group, (low, high) in MMACTION2_GROUPS.items()
            }
    evaluation.counts["evaluated_keyframes"] = _num_evaluated_keyframes(evaluation, detections)
    evaluation.counts["keyframes_not_evaluated_with_detections"] = len(evaluation.ignored_keyframes)
    evaluation.warn()
    num_detections = {int(classes.ids[slot]): len(array) for slot, array in scores.items()}
    return FrameMapOutcome(
        protocol=protocol,
        class_names=names,
        average_precision=per_class,
        mean_average_precision=mean,
        group_means=groups,
        num_groundtruth=num_positives,
        num_detections=num_detections,
        counts=dict(evaluation.counts),
    )


def _num_evaluated_keyframes(evaluation: _Evaluation, detections: _Detections) -> int:
    """Keyframes the protocol evaluates: with ground truth, or (2019) any non-excluded keyframe seen."""
    evaluated = evaluation.keyframe_evaluated
    if evaluation.new_keyframes_evaluated:
        seen = np.zeros(len(evaluation.index), dtype=bool)
        seen[: evaluation.num_groundtruth_keyframes] = True
        seen[detections.keyframe] = True
        padded = np.ones(len(evaluation.index), dtype=bool)
        padded[: len(evaluated)] = evaluated
        return int((seen & padded).sum())
    return int(evaluated.sum())
