"""The action detector over a video, keyframe by keyframe: `detect_keyframe_actions` (the one loop the pipeline and
the `videomae-action-detection` command share) and its results as records (`results_to_records`).

Memory is bounded by the batch: keyframes are processed `batch_size` at a time (person boxes -> read clips ->
processor -> model) and only the per-person scores are kept. The clips of a batch are read with `read_clips`: a
video file is opened once and keyframes whose clips overlap (1 s apart with a 2.1 s clip) are decoded in one forward
pass. A keyframe without persons gives a result with no boxes (no clip is read for it).

Part of the pipeline's remote code: imports at top level only the stdlib, numpy, torch and its siblings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from .clip_reader import AVA_FPS, read_clips
from .video_keyframes import VideoInfo, keyframe_schedule, read_keyframe_frames, timestamp_value
from .video_processing_videomae_action_detection import VideoMAEActionDetectionVideoProcessor, top_action_order


DEFAULT_FRAME_INTERVAL = 4  # the AVA recipes' clip stride (1/30 s ticks between clip frames)


@dataclass
class KeyframeResult:
    """The persons of one keyframe.

    timestamp: keyframe second (exact); boxes: `(N, 4)` float64 normalised x1 y1 x2 y2; person_scores: `(N,)`;
    action_scores: `(N, num_labels)` float32 sigmoid scores, column `j` = classifier output `j` (AVA action id
    `j + 1` for the 80-action models; in general `config.label_action_ids[j]`).
    """

    timestamp: Fraction
    boxes: np.ndarray
    person_scores: np.ndarray
    action_scores: np.ndarray


@dataclass
class Timings:
    """Seconds spent per stage (wall clock): clip and keyframe-frame decoding, person detection, model (processor +
    forward + post-processing), drawing (the annotated video: decode + draw + encode); keyframes and clips counted."""

    decode: float = 0.0
    person_detection: float = 0.0
    model: float = 0.0
    drawing: float = 0.0
    keyframes: int = 0
    clips: int = 0


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def detect_keyframe_actions(
    source,
    info: VideoInfo,
    model,
    processor=None,
    person_boxes: Callable | None = None,
    *,
    video_id: str,
    stride=1,
    start=0,
    end=None,
    batch_size: int = 4,
    frame_interval: int = DEFAULT_FRAME_INTERVAL,
    person_threshold: float = 0.0,
    short_side: int | None = None,
    timings: Timings | None = None,
    progress: Callable | None = None,
) -> Iterator[KeyframeResult]:
    """Run the action detector over a video, one keyframe result at a time (a generator).

    Args:
        source: the video file path, or the timeline frames of `video_keyframes.frames_on_timeline`.
        info: the video's `VideoInfo` (`probe_video` / `frames_on_timeline`): its duration sets the schedule.
        model: a `VideoMAEForActionDetection` (in eval mode, on its device and dtype).
        processor: its video processor (default: `VideoMAEActionDetectionVideoProcessor.from_model_config`).
        person_boxes: a person-box source (see `person_boxes`): `(video_id, timestamps, frames) -> [PersonBoxes]`.
        video_id: the video's id, given to the person-box source.
        stride, start, end: the keyframe schedule in seconds (see `keyframe_schedule`).
        batch_size: keyframes per model call; memory is bounded by it.
        frame_interval: ticks (1/30 s) between clip frames; the clip length is `model.config.num_frames`.
        person_threshold: keep the person boxes scoring >= this.
        short_side: override the processor's `size["shortest_edge"]` (256 for the AVA models).
        timings: a `Timings` to accumulate the stage times in.
        progress: a callable `(total keyframes) -> bar` whose bar has `update(n)` and `close()` (None: no bar).

    Yields:
        `KeyframeResult` for every keyframe of the schedule, in order (with no boxes where no person was found).
    """
    if person_boxes is None:
        raise ValueError("give person_boxes: a person-box source (boxes per keyframe, a proposals file or a detector)")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}")
    if hasattr(person_boxes, "check_video_id"):
        person_boxes.check_video_id(video_id)
    processor = processor if processor is not None else VideoMAEActionDetectionVideoProcessor.from_model_config(model.config)
    timings = timings if timings is not None else Timings()
    processor_kwargs = {"size": {"shortest_edge": int(short_side)}} if short_side is not None else {}
    parameter = next(model.parameters())
    clip_len = int(model.config.num_frames)
    source = os.fspath(source) if isinstance(source, (str, os.PathLike)) else source

    schedule = keyframe_schedule(info.duration, stride=stride, start=start, end=end)
    if hasattr(person_boxes, "check_schedule"):
        person_boxes.check_schedule(schedule)
    bar = progress(len(schedule)) if progress is not None else None
    try:
        for batch in _batches(schedule, int(batch_size)):
            frames = None
            if getattr(person_boxes, "needs_frames", False):
                began = time.perf_counter()
                frames = read_keyframe_frames(source, batch)
                timings.decode += time.perf_counter() - began
            began = time.perf_counter()
            persons = [found.above(person_threshold) for found in person_boxes(video_id, batch, frames)]
            timings.person_detection += time.perf_counter() - began

            with_persons = [index for index, found in enumerate(persons) if len(found.boxes)]
            scores = {}
            if with_persons:
                began = time.perf_counter()
                clips = [
                    frames for frames, _ in read_clips(
                        source, [batch[index] for index in with_persons], timestamp_start=0, video_start=0,
                        fps=AVA_FPS, clip_len=clip_len, frame_interval=frame_interval,
                    )
                ]
                timings.decode += time.perf_counter() - began
                timings.clips += len(clips)
                began = time.perf_counter()
                boxes = [persons[index].boxes for index in with_persons]
                inputs = processor(clips, boxes=boxes, return_tensors="pt", **processor_kwargs)
                del clips
                with torch.no_grad():
                    outputs = model(
                        pixel_values=inputs["pixel_values"].to(device=parameter.device, dtype=parameter.dtype),
                        boxes=inputs["boxes"].to(parameter.device),
                        boxes_mask=inputs["boxes_mask"].to(parameter.device),
                    )
                logits = outputs.logits.float().cpu()
                for row, index in enumerate(with_persons):
                    count = len(persons[index].boxes)
                    scores[index] = logits[row, :count].sigmoid().numpy()
                timings.model += time.perf_counter() - began
            for index, timestamp in enumerate(batch):
                found = persons[index]
                action_scores = scores.get(index, np.zeros((0, model.config.num_labels), dtype=np.float32))
                timings.keyframes += 1
                yield KeyframeResult(timestamp, found.boxes, found.scores, action_scores)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()


def top_actions(scores: np.ndarray, id2label: dict, action_ids: Sequence[int], top_k: int | None = 3,
                threshold: float = 0.0) -> list[dict]:
    """The actions of one person, best first: `[{"action_id", "label", "score"}]`, at most `top_k`, scores > threshold.

    `id2label[i]` names score column `i` and `action_ids[i]` is its data set's action id (a model's
    `config.id2label` and `config.label_action_ids`)."""
    return [{"action_id": int(action_ids[i]), "label": id2label.get(int(i), str(action_ids[i])), "score": float(scores[i])}
            for i in top_action_order(scores, top_k, threshold)]


def results_to_records(results: Sequence[KeyframeResult], id2label: dict, action_ids: Sequence[int],
                       top_k: int | None = 3, label_threshold: float = 0.0,
                       frame_size: tuple[int, int] | None = None) -> list[dict]:
    """Keyframe results -> JSON-ready records: per keyframe `{"timestamp", "persons": [{"box": [x1, y1, x2, y2]
    normalised, "person_score", "actions": top_actions(...)}]}`; with `frame_size = (width, height)` each person also
    has `"pixel_box": {"xmin", "ymin", "xmax", "ymax"}` in pixels (as transformers' object-detection pipeline)."""
    records = []
    for result in results:
        persons = []
        for box, person_score, scores in zip(result.boxes, result.person_scores, result.action_scores):
            person = {
                "box": [float(value) for value in box],
                "person_score": float(person_score),
                "actions": top_actions(scores, id2label, action_ids, top_k, label_threshold),
            }
            if frame_size is not None:
                width, height = frame_size
                x1, y1, x2, y2 = person["box"]
                person["pixel_box"] = {"xmin": x1 * width, "ymin": y1 * height, "xmax": x2 * width, "ymax": y2 * height}
            persons.append(person)
        records.append({"timestamp": timestamp_value(result.timestamp), "persons": persons})
    return records


__all__ = [
    "DEFAULT_FRAME_INTERVAL",
    "KeyframeResult",
    "Timings",
    "detect_keyframe_actions",
    "results_to_records",
    "top_actions",
]
