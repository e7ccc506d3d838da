"""The three AVA frame-mAP protocols in use, as data: what each evaluator does differently.

- `activitynet-2020`: the official ActivityNet `Evaluation/get_ava_performance.py` as it is today (since commit
  c070fdb, 2020): the evaluated keyframes are those of the ground-truth CSV, including 2-column rows
  (`video_id,timestamp`: evaluated, nobody in it); detections elsewhere are ignored. Keyframe keys are
  `"%s,%.6f" % (video_id, Decimal(timestamp))`, so float timestamps (AVA-Kinetics) work.
- `activitynet-2019`: the same script before c070fdb, with an excluded-timestamps file (`-e`): every keyframe
  that is not excluded is evaluated, so detections on keyframes without ground truth are false positives; ground
  truth on excluded keyframes is dropped. Keys are `"%s,%04d" % (video_id, int(timestamp))`.
- `mmaction2`: mmaction2's re-implementation (`ava_eval(..., ignore_empty_frames=True)`, v1.2.0), which produced
  the published VideoMAE numbers: only keyframes with ground truth of an evaluated class count, excluded ones are
  skipped but their ground truth still counts as positives, no cap on detections per keyframe, boxes and scores
  in float32, classes without any detection are left out of the mean (not scored 0).

Both official protocols keep at most 50 detections per keyframe (a heap on (score, class, box)), drop detections
with x2 <= x1 or y2 <= y1, and score a class with ground truth and no detection as AP 0.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass

import numpy as np


def _key_decimal_microseconds(timestamp: str) -> str:
    """2020 key of a timestamp text: `"%.6f" % Decimal(text)`."""
    try:
        value = decimal.Decimal(timestamp)
    except decimal.InvalidOperation:
        raise ValueError(f"timestamp is not a number: {timestamp!r}") from None
    if not value.is_finite():
        raise ValueError(f"timestamp is not a finite number: {timestamp!r}")
    return "%.6f" % value


def _key_whole_seconds(timestamp: str) -> str:
    """2019 / mmaction2 key of a timestamp text: `"%04d" % int(text)` (fractional seconds are an error there)."""
    try:
        return "%04d" % int(timestamp)
    except ValueError:
        raise ValueError(
            f"timestamp {timestamp!r} is not a whole number of seconds, which this protocol's keyframe keys "
            "(int(timestamp)) require; fractional timestamps (AVA-Kinetics) need protocol 'activitynet-2020'"
        ) from None


@dataclass(frozen=True)
class Protocol:
    """What an AVA evaluator does; see the module docstring for the three instances."""

    name: str
    description: str
    keyframe_key: object  # timestamp text -> key text; raises ValueError
    max_detections_per_keyframe: int  # 0: no cap
    evaluated_keyframes: str  # "groundtruth_rows" | "not_excluded" | "groundtruth_boxes_not_excluded"
    takes_excluded_timestamps: bool
    excluded_groundtruth_counts: bool  # ground truth on excluded keyframes still counts as positives
    classes_without_detections: str  # "ap_zero" | "left_out"
    box_dtype: type  # dtype of boxes in the IoU computation
    score_dtype: type  # dtype of the scores sorted for the precision-recall curve
    drops_invalid_detection_boxes: bool  # official: x2 <= x1 or y2 <= y1 dropped; mmaction2: x2 < x1 is an error
    reference: str


PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (
        Protocol(
            name="activitynet-2020",
            description="official ActivityNet get_ava_performance.py (2020+): evaluated keyframes from the ground "
            "truth incl. 2-column rows, top 50 detections per keyframe, AP 0 for classes without detections",
            keyframe_key=_key_decimal_microseconds,
            max_detections_per_keyframe=50,
            evaluated_keyframes="groundtruth_rows",
            takes_excluded_timestamps=False,
            excluded_groundtruth_counts=False,
            classes_without_detections="ap_zero",
            box_dtype=np.float64,
            score_dtype=np.float64,
            drops_invalid_detection_boxes=True,
            reference="activitynet/ActivityNet Evaluation/get_ava_performance.py @ 82304fa (af461c3)",
        ),
        Protocol(
            name="activitynet-2019",
            description="official ActivityNet get_ava_performance.py before 2020 (-e excluded timestamps): every "
            "non-excluded keyframe evaluated, top 50 detections per keyframe, AP 0 for classes without detections",
            keyframe_key=_key_whole_seconds,
            max_detections_per_keyframe=50,
            evaluated_keyframes="not_excluded",
            takes_excluded_timestamps=True,
            excluded_groundtruth_counts=False,
            classes_without_detections="ap_zero",
            box_dtype=np.float64,
            score_dtype=np.float64,
            drops_invalid_detection_boxes=True,
            reference="activitynet/ActivityNet Evaluation/get_ava_performance.py @ 3fee089 (c070fdb^)",
        ),
        Protocol(
            name="mmaction2",
            description="mmaction2 1.2.0 ava_eval(ignore_empty_frames=True): keyframes with ground truth only, no "
            "cap, float32, classes without detections left out of the mean, excluded keyframes' ground truth "
            "still counted",
            keyframe_key=_key_whole_seconds,
            max_detections_per_keyframe=0,
            evaluated_keyframes="groundtruth_boxes_not_excluded",
            takes_excluded_timestamps=True,
            excluded_groundtruth_counts=True,
            classes_without_detections="left_out",
            box_dtype=np.float32,
            score_dtype=np.float32,
            drops_invalid_detection_boxes=False,
            reference="open-mmlab/mmaction2 v1.2.0 mmaction/evaluation/functional/ava_utils.py (ava_eval)",
        ),
    )
}

# mmaction2's sub-means, by action id (ava_utils.ava_eval: id <= 14, 14 < id < 64, id >= 64); for AVA these are
# exactly the label types PERSON_MOVEMENT, OBJECT_MANIPULATION and PERSON_INTERACTION of modeling/ava_labels.py.
MMACTION2_GROUPS: dict[str, tuple[int, int]] = {
    "person_movement": (-(2**62), 14),
    "object_manipulation": (15, 63),
    "person_interaction": (64, 2**62),
}


def get_protocol(name: str) -> Protocol:
    """The Protocol called `name`; ValueError listing the names otherwise."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown AVA protocol {name!r}; choose one of {', '.join(PROTOCOLS)}") from None
