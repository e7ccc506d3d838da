"""What a training run reports of its final evaluation: the per-class AP metrics for loggers, the mean AP per AVA
action group, the summary table printed at the end, and the per-class AP chart saved beside the model."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from .evaluation.action_groups import group_class_counts, group_means
from .evaluation.ava_frame_map_engine import FrameMapOutcome

logger = logging.getLogger(__name__)


def class_ap_metrics(outcome: FrameMapOutcome) -> dict[str, float]:
    """`{"AP/<action name>": AP}` for every class of the evaluation's label map that has an AP under its protocol (in
    the label map's order); classes without one (no ground truth; mmaction2: no detections) are left out, so that
    loggers (TensorBoard, trackio, W&B through `report_to`) get numbers only. The Trainer prefixes them `eval_`."""
    return {f"AP/{outcome.class_names[action_id]}": float(value)
            for action_id, value in outcome.average_precision.items() if not math.isnan(value)}


def summary_table(outcome: FrameMapOutcome, protocol: str, extremes: int = 3) -> str:
    """mAP with its protocol, per-group means (`evaluation/action_groups.py`) and the lowest / highest scoring
    classes."""
    lines = [f"frame-mAP@0.5IoU ({protocol}): {100 * outcome.mean_average_precision:.2f}",
             f"  {'group':<20} {'mAP':>7} {'classes':>8}"]
    counts = group_class_counts(outcome)
    for group, value in group_means(outcome).items():
        shown = "-" if math.isnan(value) else f"{100 * value:.2f}"
        lines.append(f"  {group:<20} {shown:>7} {counts[group]:>8}")
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
