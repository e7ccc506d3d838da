"""`videomae-action-detection`: AVA action detection on a video file, from the command line.

    videomae-action-detection video.mp4 --model path/or/hub-id --proposals proposals.pkl --output_dir out \
        --output_video out/annotated.mp4
    python -m videomae_action_detection.processing.inference.command ...  # the same

Person boxes come from `--proposals` (an AVA proposals pickle or CSV: `inference.proposals_file`) or `--detector`
(a transformers object detector: `processing.person_boxes.ObjectDetectorBoxes`); the keyframes and their clips
follow `processing.video_keyframes` (every second from 0 by default, clips clamped at the video's ends); the outputs
are `actions.csv`, `actions.json` and optionally an annotated video and a timeline chart (`inference.writers`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..cli.conventions import HelpFormatter, add_log_level, check_output_dir, check_output_file, run_command
from ..cli.progress import set_quiet
from ..formats.detections import MMACTION2_ACTION_THRESHOLD
from ..keyframe_actions import DEFAULT_FRAME_INTERVAL, Timings
from ..person_boxes import ObjectDetectorBoxes
from .model_loading import DTYPES, load_action_detector
from .proposals_file import ProposalsFile
from .video_detection import detect_actions
from .writers import write_outputs


# ----------------------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videomae-action-detection",
        description="AVA action detection on a video: actions.csv (official AVA format), actions.json and an "
        "optional annotated video.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("video", help="input video file")
    parser.add_argument("--model", required=True, help="VideoMAE action detection model folder or Hub id")
    boxes = parser.add_mutually_exclusive_group(required=True)
    boxes.add_argument("--proposals", help="person boxes: AVA proposals .pkl or AVA-format CSV (normalised boxes)")
    boxes.add_argument("--detector", help="person boxes: a transformers object-detection model folder or Hub id")
    parser.add_argument("--person_label", default="person", help="the detector's person label name")
    parser.add_argument("--person_threshold", type=float, default=0.9,
                        help="keep person boxes scoring >= this")
    parser.add_argument("--output_dir", default=".", help="where actions.csv and actions.json go")
    parser.add_argument("--output_video", help="write the annotated video here (e.g. annotated.mp4)")
    parser.add_argument("--lossless", action="store_true",
                        help="encode the annotated video losslessly (libx264rgb, qp 0): pixels outside the boxes equal the input's decode")
    parser.add_argument("--video_id", help="video id in the CSV and for the proposals lookup")
    parser.add_argument("--stride", type=float, default=1.0, help="seconds between keyframes")
    parser.add_argument("--start", type=float, default=0.0, help="first keyframe second")
    parser.add_argument("--end", type=float, help="no keyframes at or after this second")
    parser.add_argument("--frame_interval", type=int, default=DEFAULT_FRAME_INTERVAL,
                        help="1/30 s ticks between clip frames")
    parser.add_argument("--short_side", type=int, help="override the processor's short side (256 for the AVA models)")
    parser.add_argument("--batch_size", type=int, default=4, help="keyframes per model call")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32", help="model dtype")
    parser.add_argument("--action_threshold", type=float, default=MMACTION2_ACTION_THRESHOLD,
                        help="CSV rows for actions scoring > this")
    parser.add_argument("--top_k", type=int, default=3, help="actions per person in the JSON and the video")
    parser.add_argument("--label_threshold", type=float, default=0.5,
                        help="JSON / video actions scoring > this")
    parser.add_argument("--trust_remote_code", action="store_true", help="load the model with trust_remote_code")
    parser.add_argument("--timeline", metavar="PNG",
                        help="also draw each person's top actions over time as a strip chart into this .png, boxes "
                        "linked across keyframes by IoU; needs matplotlib (the viz extra)")
    parser.add_argument("--track_iou", type=float, default=0.3,
                        help="--timeline: least IoU between a person's boxes at consecutive keyframes to keep one row")
    parser.add_argument("--no_tracking", action="store_true",
                        help="--timeline: one row per box position instead of IoU-linked tracks")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars (the same as --quiet)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (they only show on a terminal anyway)")
    add_log_level(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_run, build_parser().parse_args(argv))


def _run(args) -> int:
    if args.quiet or args.no_progress:
        set_quiet()
    # Outputs first: a bad output path fails before the model loads and runs.
    check_output_dir(args.output_dir, "--output_dir")
    if args.output_video:
        check_output_file(args.output_video, "--output_video")
    if args.timeline is not None:
        from ..cli.plotting import require_matplotlib

        require_matplotlib()
        if not args.timeline.lower().endswith(".png"):
            raise ValueError(f"--timeline is written as PNG: give a path ending in .png, got {args.timeline!r}")
        check_output_file(args.timeline, "--timeline")
    model, processor = load_action_detector(args.model, device=args.device, dtype=args.dtype,
                                            trust_remote_code=args.trust_remote_code)
    if args.proposals:
        person_boxes = ProposalsFile(args.proposals)
    else:
        person_boxes = ObjectDetectorBoxes(args.detector, person_label=args.person_label, device=args.device)
    timings = Timings()
    results = list(
        detect_actions(
            args.video, model, processor, person_boxes, video_id=args.video_id, stride=args.stride,
            start=args.start, end=args.end, batch_size=args.batch_size, frame_interval=args.frame_interval,
            person_threshold=args.person_threshold, short_side=args.short_side, progress=not args.no_progress,
            timings=timings,
        )
    )
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    paths = write_outputs(
        results, args.output_dir, args.video, video_id=args.video_id, action_threshold=args.action_threshold,
        top_k=args.top_k, label_threshold=args.label_threshold, id2label=id2label,
        action_ids=model.config.label_action_ids, output_video=args.output_video,
        stride=args.stride, lossless=args.lossless, timings=timings,
    )
    if args.timeline is not None:
        from .timeline import plot_timeline

        tracks = plot_timeline(results, args.timeline, id2label,
                               top_actions=args.top_k, iou_threshold=args.track_iou, link=not args.no_tracking)
    persons = sum(len(result.boxes) for result in results)
    if args.timeline is not None:
        print(f"timeline: {len(tracks)} {'tracks' if not args.no_tracking else 'box rows'} -> {args.timeline}")
    print(f"{len(results)} keyframes, {persons} person boxes -> {paths.csv}, {paths.json}"
          + (f", {paths.video}" if paths.video else ""))
    print(f"time: decode {timings.decode:.2f} s, persons {timings.person_detection:.2f} s, model {timings.model:.2f} s, "
          f"drawing {timings.drawing:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
