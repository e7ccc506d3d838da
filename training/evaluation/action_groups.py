"""AVA's three action groups under one naming, for every report of per-group means (the Trainer's metrics, the
training summary, `videomae-ava-eval`) and the per-class AP chart.

A group is an AVA label type of `modeling/ava_labels.py` (`PERSON_MOVEMENT`, `OBJECT_MANIPULATION`,
`PERSON_INTERACTION`); reports name it in lower case (`person_movement`, ...), the names mmaction2 gives its
sub-means. A class belongs to a group when its action id and name are AVA's (a user's own label map reusing an id
for another action belongs to none).
"""

from __future__ import annotations

import math

import numpy as np

from ...modeling.ava_labels import AVA_ACTION_NAMES, AVA_ACTION_TYPES
from .ava_frame_map_engine import FrameMapOutcome

AVA_ACTION_GROUPS: tuple[str, ...] = tuple(dict.fromkeys(AVA_ACTION_TYPES.values()))  # label types, in AVA's order


def group_name(label_type: str) -> str:
    """The report name of a group: `PERSON_MOVEMENT` -> `person_movement`."""
    return label_type.lower()


def ava_action_group(action_id: int, name: str) -> str | None:
    """The AVA label type of a class, or None when its id and name are not AVA's."""
    return AVA_ACTION_TYPES[action_id] if AVA_ACTION_NAMES.get(action_id) == name else None


def _group_values(outcome: FrameMapOutcome) -> dict[str, list[float]]:
    """{group name: the finite class APs of its AVA classes}, every group present (possibly empty)."""
    values: dict[str, list[float]] = {group_name(label_type): [] for label_type in AVA_ACTION_GROUPS}
    for action_id, value in outcome.average_precision.items():
        label_type = ava_action_group(action_id, outcome.class_names[action_id])
        if label_type is not None and not math.isnan(value):
            values[group_name(label_type)].append(value)
    return values


def group_means(outcome: FrameMapOutcome) -> dict[str, float]:
    """{group name: mean AP}: mmaction2's own sub-means under its protocol, else the mean of the finite class APs of
    each group's AVA classes (NaN for a group without any)."""
    if outcome.group_means is not None:
        return dict(outcome.group_means)
    return {name: float(np.mean(values)) if values else float("nan") for name, values in _group_values(outcome).items()}


def group_class_counts(outcome: FrameMapOutcome) -> dict[str, int]:
    """{group name: number of its AVA classes with a finite AP}."""
    return {name: len(values) for name, values in _group_values(outcome).items()}
