"""`videomae-ava-eval`: AVA frame-mAP of a detections CSV, printed as a report (protocol, mAP, per-group means,
per-class table), optionally written as JSON and drawn as a per-class AP chart.

    python -m videomae_action_detection.training.evaluation.evaluation_command --groundtruth ava_val_v2.2.csv \
        --detections detections.csv --label_map ava_action_list_v2.2_for_activitynet_2019.pbtxt \
        --excluded_timestamps ava_val_excluded_timestamps_v2.2.csv --protocol activitynet-2019
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from ...processing.cli.progress import set_quiet
from .action_groups import group_means
from .ava_evaluation import evaluate_ava_frame_map, mean_ap_key, outcome_to_metrics
from .ava_frame_map_engine import IOU_THRESHOLD, AvaEvaluationWarning, FrameMapOutcome
from .ava_protocols import PROTOCOLS


def format_report(outcome: FrameMapOutcome, iou_threshold: float = IOU_THRESHOLD) -> str:
    """A readable report: protocol, mAP, per-group means, per-class table."""
    protocol = outcome.protocol
    counts = outcome.counts
    lines = [
        f"AVA frame-mAP@{iou_threshold}IOU, protocol {protocol.name}: {protocol.description}",
        f"  reference: {protocol.reference}",
        f"  ground truth: {counts.get('groundtruth_rows', 0)} box rows, {counts.get('groundtruth_keyframes', 0)} "
        f"keyframes; detections: {counts.get('detection_rows', 0)} rows, {counts.get('detection_rows_evaluated', 0)} "
        f"on evaluated keyframes of evaluated classes; evaluated keyframes: {counts.get('evaluated_keyframes', 0)}",
        "",
        f"mAP ({'overall' if outcome.group_means is not None else mean_ap_key(iou_threshold)}): "
        f"{_percent(outcome.mean_average_precision)}",
    ]
    if outcome.group_means is not None:
        heading = "per group (mmaction2's sub-means)"
    else:
        heading = "per group (mean of the class APs above; not an official number)"
    lines.append(heading + ":")
    for group, value in group_means(outcome).items():
        lines.append(f"  {group:<22} {_percent(value)}")
    lines += ["", f"  {'id':>3}  {'action':<42} {'AP':>7} {'#gt':>7} {'#det':>9}"]
    for action_id, value in outcome.average_precision.items():
        lines.append(
            f"  {action_id:>3}  {outcome.class_names[action_id][:42]:<42} {_percent(value):>7} "
            f"{outcome.num_groundtruth.get(action_id, 0):>7} {outcome.num_detections.get(action_id, 0):>9}"
        )
    if outcome.protocol.classes_without_detections == "left_out":
        left_out = [action_id for action_id, count in outcome.num_groundtruth.items()
                    if count and action_id not in outcome.average_precision]
        if left_out:
            lines.append(f"  left out of the mean (ground truth, no detections): {sorted(left_out)}")
    return "\n".join(lines)


def _percent(value: float) -> str:
    return "nan" if math.isnan(value) else f"{100 * value:.2f}"


def build_parser() -> argparse.ArgumentParser:
    from ...processing.cli.conventions import HelpFormatter, add_log_level

    parser = argparse.ArgumentParser(
        prog="videomae-ava-eval",
        description="AVA frame-mAP@0.5IoU of a detections CSV, under the official ActivityNet protocol (2020 or "
        "2019) or mmaction2's.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--groundtruth", required=True, help="ground-truth CSV (e.g. ava_val_v2.2.csv)")
    parser.add_argument("--detections", required=True, help="detections CSV: video_id,timestamp,x1,y1,x2,y2,"
                        "action_id,score")
    parser.add_argument("--label_map", default=None, help="label map .pbtxt of the evaluated classes (None: the "
                        "60 AVA v2.2 classes)")
    parser.add_argument("--excluded_timestamps", default=None, help="excluded keyframes CSV (activitynet-2019, "
                        "mmaction2)")
    parser.add_argument("--protocol", default="activitynet-2020", choices=sorted(PROTOCOLS),
                        help="which evaluator's rules to follow")
    parser.add_argument("--iou_threshold", type=float, default=IOU_THRESHOLD,
                        help="IoU a detection needs with a ground-truth box to count")
    parser.add_argument("--output_json", default=None, help="also write the metrics (official names) to this file")
    parser.add_argument("--plot", default=None, metavar="PNG", help="also draw the per-class AP bar chart (grouped "
                        "by action type, mAP and protocol in the title) into this .png; needs matplotlib (the viz "
                        "extra)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (it only shows on a terminal anyway)")
    add_log_level(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: score a detections CSV; prints the report, optionally writes the metrics as JSON."""
    from ...processing.cli.conventions import run_command

    return run_command(_run, build_parser().parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    from ...processing.cli.conventions import check_output_file, write_text_atomic

    if args.quiet:
        set_quiet()
    if args.output_json:
        check_output_file(args.output_json, "--output_json")
    if args.plot is not None:
        try:
            from ...processing.cli.plotting import require_matplotlib
            from .ap_chart import plot_class_ap

            require_matplotlib()  # fails early, before the evaluation
            _check_plot_path(args.plot)
        except (ImportError, ValueError, FileNotFoundError) as error:
            print(f"error: --plot: {error}", file=sys.stderr)
            return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AvaEvaluationWarning)
        outcome = evaluate_ava_frame_map(args.groundtruth, args.detections, args.label_map,
                                         args.excluded_timestamps, args.protocol, args.iou_threshold)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(format_report(outcome, args.iou_threshold))
    if args.output_json:
        metrics = outcome_to_metrics(outcome, args.iou_threshold)
        write_text_atomic(args.output_json, json.dumps(metrics, indent=1) + "\n")
    if args.plot is not None:
        chart = plot_class_ap(outcome, args.plot, args.iou_threshold, subtitle=f"{Path(args.detections).name} vs "
                              f"{Path(args.groundtruth).name}")
        print(f"per-class AP chart ({len(chart.rows)} classes): {chart.path}")
    return 0


def _check_plot_path(path: str) -> None:
    """A chart path must end in .png and its folder must exist (checked before the evaluation runs)."""
    if Path(path).suffix.lower() != ".png":
        raise ValueError(f"the chart is written as PNG: give a path ending in .png, got {path!r}")
    if not Path(path).resolve().parent.is_dir():
        raise FileNotFoundError(f"folder of the chart does not exist: {Path(path).resolve().parent}")


if __name__ == "__main__":
    sys.exit(main())
