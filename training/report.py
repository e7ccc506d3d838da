"""What a training run reports of its final evaluation: the per-class AP metrics for loggers, the mean AP per AVA
action group, the summary table printed at the end, and the per-class AP chart saved beside the model."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ..modeling import AVA_ACTION_NAMES, AVA_ACTION_TYPES
from .evaluation.ava_frame_map_engine import FrameMapOutcome

logger = logging.getLogger(__name__)


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
        from .evaluation.ap_chart import plot_class_ap

        output_dir.mkdir(parents=True, exist_ok=True)
        return plot_class_ap(outcome, output_dir / AP_CHART_FILE, subtitle=dataset_name)
    except ImportError as error:
        logger.warning(f"no per-class AP chart: {error}")
        return None
