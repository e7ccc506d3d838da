"""Action detection on any video: person boxes at keyframes, AVA actions per person, a CSV, a JSON and an annotated
video.

One command (`videomae-action-detection`, or `python -m videomae_action_detection.processing.video_action_detection`)
and one Python call (`detect_actions`, or the `"video-action-detection"` pipeline) take a video file and give, for
each person at each keyframe, the 80 AVA action scores.

Timeline
--------
A user video is read on the timeline `read_clip` defines with `timestamp_start=0`, `video_start=0`, `fps=30`:
keyframe second `t` is `t` seconds of the video (from its first frame). Keyframes are `start, start + stride, ...`
(default every second from 0, as AVA annotates) while `t` is before the end of the video (and `end`, if given);
`stride` must be a whole number of 1/30 s ticks. The keyframe's clip is the one the AVA sampler takes (the recipe's
`clip_len = config.num_frames` frames, `frame_interval` ticks apart, centred one tick before `t`). Near the start and
the end of the video the clip reaches outside it: its frame numbers are clamped to the first and last frame, as
mmaction2's sampler clamps to the shot (so the first keyframe, at 0 s, repeats the first frame for half its clip).
Pass `start` (e.g. `1.1` s for a 16 x 4 clip) to keep only keyframes whose whole clip lies inside the video.

Person boxes
------------
- `ProposalsFile`: an AVA proposals pickle (dict `"video_id,%04d"` -> `(N, 5)` normalised x1 y1 x2 y2 score, read
  with the restricted unpickler) or an AVA-format CSV (`video_id, timestamp, x1, y1, x2, y2[, action_id[, score]]`,
  normalised; boxes repeated for several actions count once, with their highest score; 6 and 7 column rows score 1).
- `ObjectDetectorBoxes`: a transformers object detector (`AutoModelForObjectDetection` + `AutoImageProcessor`, e.g.
  DETR / RT-DETR) run on the frame shown at the keyframe time; the detections of the label named `person`.
Boxes scoring below `person_threshold` are dropped. A keyframe without persons gives no rows (no clip is read for it).

Outputs (`write_outputs`)
-------------------------
- `actions.csv`: the official AVA detections format `video_id, timestamp, x1, y1, x2, y2, action_id, score` (boxes
  normalised, action ids 1-80, 4 decimals), one row per (box, action scoring > `action_threshold`) per keyframe,
  written with `formats.detections.write_detections` (mmaction2's row order);
- `actions.json`: per keyframe, per person: box, person score and the `top_k` actions scoring > `label_threshold`;
- optionally an annotated video (`processing.annotated_video`).

Memory is bounded by the batch: keyframes are processed `batch_size` at a time (read clips -> processor -> model) and
only the per-person scores are kept. The clips of a batch are read with `read_clips`: the video is opened once and
keyframes whose clips overlap (1 s apart with a 2.1 s clip) are decoded in one forward pass.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..modeling import ava_id2label
from .clip_reader import open_video, read_clips, read_frames, video_rotation
from .cli.progress import progress_bar, set_quiet


TIMELINE_FPS = 30
DEFAULT_FRAME_INTERVAL = 4
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


# ------------------------------------------------------------------------------------------------------ the video
@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reads from a video file's header.

    duration: seconds from the first frame to the end of the video stream; fps: the stream's average frame rate;
    num_frames: the frame count the container declares (0 when unknown).
    """

    path: str
    width: int
    height: int
    duration: float
    fps: Fraction
    num_frames: int


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Displayed size, duration and frame rate of a video file (the header, and one frame for its rotation).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable video (corrupt, truncated header, no video stream, no duration).
    """
    path = os.fspath(path)
    container, stream = open_video(path)
    with container:
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000 - float((stream.start_time or 0) * (stream.time_base or 0))
        else:
            raise ValueError(f"video file {path} declares no duration")
        rate = stream.average_rate or stream.guessed_rate
        if not stream.width or not stream.height or not rate:
            raise ValueError(f"video file {path}: the video stream has no size or frame rate")
        width, height = int(stream.width), int(stream.height)
    if video_rotation(path) in (90, 270):  # the size a player shows (see clip_reader: rotation)
        width, height = height, width
    return VideoInfo(path, width, height, duration, Fraction(rate), int(stream.frames or 0))


def _seconds(value, name: str) -> Fraction:
    try:
        seconds = Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be a number of seconds, got {value!r}") from error
    return seconds


def keyframe_schedule(duration: float, stride=1, start=0, end=None) -> list[Fraction]:
    """Keyframe seconds `start, start + stride, ...` before `min(duration, end)`.

    `stride` and `start` must be whole numbers of 1/30 s (the timeline's ticks); returns exact Fractions.
    """
    stride, start = _seconds(stride, "stride"), _seconds(start, "start")
    if stride <= 0:
        raise ValueError(f"`stride` must be positive, got {float(stride)}")
    if start < 0:
        raise ValueError(f"`start` must be >= 0, got {float(start)}")
    for name, value in (("stride", stride), ("start", start)):
        if (value * TIMELINE_FPS).denominator != 1:
            raise ValueError(f"`{name}` must be a multiple of 1/{TIMELINE_FPS} s (the AVA timeline), got {float(value)}")
    stop = Fraction(str(float(duration)))
    if end is not None:
        stop = min(stop, _seconds(end, "end"))
    count = max(0, math.ceil((stop - start) / stride))
    return [start + index * stride for index in range(count)]


def timestamp_value(timestamp: Fraction) -> int | float:
    """A keyframe second as written in the CSV / JSON: an int when whole (`%04d` in the CSV), else a float."""
    return int(timestamp) if timestamp.denominator == 1 else float(timestamp)


def _timeline_number(timestamp: Fraction) -> int:
    """The 1-based timeline frame shown at second `timestamp` (frame k is shown from (k - 1) / 30 s)."""
    return int(timestamp * TIMELINE_FPS) + 1


def read_keyframe_frames(video: str | os.PathLike, timestamps: Sequence[Fraction]) -> list[np.ndarray]:
    """The frames shown at the given keyframe seconds, `(H, W, 3)` uint8 RGB each (one seek for all)."""
    if not timestamps:
        return []
    numbers = np.array([_timeline_number(timestamp) for timestamp in timestamps], dtype=np.int64)
    frames, _ = read_frames(os.fspath(video), numbers, timestamp_start=0, video_start=0, fps=TIMELINE_FPS)
    return list(frames)


# ------------------------------------------------------------------------------------------------- person boxes
@dataclass
class PersonBoxes:
    """Person boxes of one keyframe: `boxes (N, 4)` float64 normalised x1 y1 x2 y2, `scores (N,)` float64."""

    boxes: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> PersonBoxes:
        return cls(np.zeros((0, 4)), np.zeros(0))

    def above(self, threshold: float) -> PersonBoxes:
        keep = self.scores >= threshold
        return PersonBoxes(self.boxes[keep], self.scores[keep])


class ProposalsFile:
    """Person boxes from an AVA proposals pickle or an AVA-format CSV (see the module docstring).

    `boxes(video_id, timestamp)` -> `PersonBoxes` (empty when the file has none at that keyframe). Keyframes are
    matched on their numeric value (`"0902"` and `902.0` are the same second).
    """

    needs_frames = False

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"proposals file not found: {self.path}")
        if self.path.endswith((".pkl", ".pickle")):
            entries = self._read_pickle()
        else:
            entries = self._read_csv()
        self._entries = entries
        self.video_ids = sorted({video_id for video_id, _ in entries})

    def _read_pickle(self) -> dict:
        from .formats.untrusted_pickle import load_pickled_data

        data = load_pickled_data(self.path)
        if not isinstance(data, dict):
            raise ValueError(f"{self.path}: an AVA proposals pickle is a dict 'video_id,timestamp' -> (N, 5) array, got {type(data).__name__}")
        entries = {}
        for key, value in data.items():
            video_id, separator, stamp = str(key).rpartition(",")
            if not separator or not video_id:
                raise ValueError(f"{self.path}: key {key!r} is not 'video_id,timestamp'")
            array = np.asarray(value, dtype=np.float64)
            if array.size == 0:
                array = array.reshape(0, 5)
            if array.ndim != 2 or array.shape[1] not in (4, 5):
                raise ValueError(f"{self.path}: entry {key!r} must be (N, 5) normalised x1 y1 x2 y2 score, got {array.shape}")
            scores = array[:, 4] if array.shape[1] == 5 else np.ones(len(array))
            entries[(video_id, _seconds(stamp, f"timestamp of key {key!r}"))] = PersonBoxes(
                self._checked(array[:, :4], f"entry {key!r}"), scores
            )
        return entries

    def _read_csv(self) -> dict:
        from .formats.ava_files import open_annotation_text

        grouped: dict = {}
        with open_annotation_text(self.path) as handle:
            for line, row in enumerate(csv.reader(handle), start=1):
                if not row:
                    continue
                if len(row) not in (6, 7, 8):
                    raise ValueError(
                        f"{self.path}:{line}: expected video_id,timestamp,x1,y1,x2,y2[,action_id[,score]], got {len(row)} columns"
                    )
                try:
                    stamp = Fraction(row[1].strip())
                    box = tuple(float(value) for value in row[2:6])
                    score = float(row[7]) if len(row) == 8 else 1.0
                except ValueError as error:
                    raise ValueError(f"{self.path}:{line}: {error}") from error
                boxes = grouped.setdefault((row[0].strip(), stamp), {})
                boxes[box] = max(score, boxes.get(box, -math.inf))
        entries = {}
        for key, boxes in grouped.items():
            array = np.array(list(boxes), dtype=np.float64).reshape(-1, 4)
            entries[key] = PersonBoxes(self._checked(array, f"keyframe {key[0]},{float(key[1])}"), np.array(list(boxes.values())))
        return entries

    def _checked(self, boxes: np.ndarray, where: str) -> np.ndarray:
        if not np.isfinite(boxes).all() or (boxes < 0).any() or (boxes > 1).any():
            raise ValueError(f"{self.path}: {where}: boxes must be normalised x1 y1 x2 y2 in [0, 1]")
        if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
            raise ValueError(f"{self.path}: {where}: a box has x2 < x1 or y2 < y1")
        return boxes

    def check_video_id(self, video_id: str) -> None:
        if video_id not in self.video_ids:
            shown = ", ".join(self.video_ids[:5]) + (" ..." if len(self.video_ids) > 5 else "")
            raise ValueError(f"{self.path} has no boxes for video id {video_id!r} (it has: {shown}); pass video_id=")

    def __call__(self, video_id: str, timestamps: Sequence[Fraction], frames=None) -> list[PersonBoxes]:
        return [self._entries.get((video_id, Fraction(timestamp)), PersonBoxes.empty()) for timestamp in timestamps]


class ObjectDetectorBoxes:
    """Person boxes from a transformers object detector run on the frames shown at the keyframes.

    Args:
        model: an `AutoModelForObjectDetection` model, or a folder / Hub id to load it (and its image processor) from.
        image_processor: its `AutoImageProcessor` (loaded from the model folder when None).
        person_label: the `id2label` name of the person class (case-insensitive); `label_id` overrides it.
        device, dtype: where and how the detector runs.
    The detector's own threshold is 0: `detect_actions`' `person_threshold` selects the boxes.
    """

    needs_frames = True

    def __init__(self, model, image_processor=None, person_label: str = "person", label_id: int | None = None,
                 device=None, dtype=None):
        from transformers import AutoImageProcessor, AutoModelForObjectDetection

        if isinstance(model, (str, os.PathLike)):
            folder = os.fspath(model)
            model = AutoModelForObjectDetection.from_pretrained(folder)
            if image_processor is None:
                image_processor = AutoImageProcessor.from_pretrained(folder)
        elif image_processor is None:
            raise ValueError("pass the detector's image_processor with a model instance")
        self.model = model.eval()
        if device is not None or dtype is not None:
            self.model.to(device=device, dtype=dtype)
        self.image_processor = image_processor
        if label_id is None:
            names = {int(index): str(name) for index, name in model.config.id2label.items()}
            matches = [index for index, name in names.items() if name.lower() == person_label.lower()]
            if not matches:
                raise ValueError(
                    f"the detector has no label named {person_label!r} (labels: {sorted(set(names.values()))[:10]}...); "
                    "pass person_label= or label_id="
                )
            label_id = matches[0]
        self.label_id = int(label_id)

    @torch.no_grad()
    def __call__(self, video_id: str, timestamps: Sequence[Fraction], frames: Sequence[np.ndarray]) -> list[PersonBoxes]:
        if not len(frames):
            return []
        parameter = next(self.model.parameters())
        inputs = self.image_processor(images=list(frames), return_tensors="pt")
        inputs = {
            name: value.to(device=parameter.device, dtype=parameter.dtype if value.is_floating_point() else None)
            for name, value in inputs.items()
        }
        outputs = self.model(**inputs)
        sizes = [frame.shape[:2] for frame in frames]
        detections = self.image_processor.post_process_object_detection(outputs, threshold=0.0, target_sizes=sizes)
        results = []
        for (height, width), detection in zip(sizes, detections):
            person = detection["labels"] == self.label_id
            boxes = detection["boxes"][person].float().cpu().numpy().astype(np.float64)
            boxes = boxes / np.array([width, height, width, height], dtype=np.float64)
            boxes = np.clip(boxes, 0.0, 1.0)
            boxes[:, 2] = np.maximum(boxes[:, 2], boxes[:, 0])
            boxes[:, 3] = np.maximum(boxes[:, 3], boxes[:, 1])
            results.append(PersonBoxes(boxes, detection["scores"][person].float().cpu().numpy().astype(np.float64)))
        return results


# ---------------------------------------------------------------------------------------------------- the model
def load_action_detector(model, device=None, dtype: str | torch.dtype | None = None, trust_remote_code: bool = False):
    """(model, video processor) from our detection model folder / Hub id (or a model instance).

    The video processor is the folder's own (`AutoVideoProcessor`) when it has one, else `ava_video_processor`
    of the model's config (the AVA evaluation settings).
    """
    from transformers import AutoModel, AutoVideoProcessor

    from . import ava_video_processor

    torch_dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    processor = None
    if isinstance(model, (str, os.PathLike)):
        folder = os.fspath(model)
        if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, "config.json")):
            raise FileNotFoundError(f"{folder} holds no config.json: not a model folder")
        model = AutoModel.from_pretrained(folder, trust_remote_code=trust_remote_code)
        try:
            processor = AutoVideoProcessor.from_pretrained(folder, trust_remote_code=trust_remote_code)
        except (OSError, ValueError):
            processor = None
    if processor is None:
        processor = ava_video_processor(model.config)
    model = model.eval()
    if device is not None or torch_dtype is not None:
        model.to(device=device, dtype=torch_dtype)
    return model, processor


# ------------------------------------------------------------------------------------------------ the detection
@dataclass
class KeyframeResult:
    """The persons of one keyframe.

    timestamp: keyframe second (exact); boxes: `(N, 4)` float64 normalised x1 y1 x2 y2; person_scores: `(N,)`;
    action_scores: `(N, 80)` float32 sigmoid scores, column `j` = AVA action id `j + 1`.
    """

    timestamp: Fraction
    boxes: np.ndarray
    person_scores: np.ndarray
    action_scores: np.ndarray


@dataclass
class Timings:
    """Seconds spent per stage (wall clock): clip and keyframe-frame decoding, person detection, model (processor +
    forward + post-processing), drawing (the annotated video: decode + draw + encode)."""

    decode: float = 0.0
    person_detection: float = 0.0
    model: float = 0.0
    drawing: float = 0.0
    keyframes: int = 0
    clips: int = 0
    extra: dict = field(default_factory=dict)


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def detect_actions(
    video: str | os.PathLike,
    model,
    processor=None,
    person_boxes: Callable | None = None,
    *,
    video_id: str | None = None,
    stride=1,
    start=0,
    end=None,
    batch_size: int = 4,
    frame_interval: int = DEFAULT_FRAME_INTERVAL,
    person_threshold: float = 0.0,
    short_side: int | None = None,
    progress: bool = True,
    timings: Timings | None = None,
) -> Iterator[KeyframeResult]:
    """Run the action detector over a video, one keyframe result at a time (a generator).

    Args:
        video: the video file (read with PyAV seeking; never decoded whole).
        model: a `VideoMAEForActionDetection` (in eval mode, on its device and dtype; see `load_action_detector`).
        processor: its video processor (default: `ava_video_processor(model.config)`).
        person_boxes: a `ProposalsFile` or `ObjectDetectorBoxes` (any callable `(video_id, timestamps, frames) ->
            [PersonBoxes]`; `frames` are given when it has `needs_frames = True`).
        video_id: id for the proposals lookup and the CSV (default: the file stem).
        stride, start, end: the keyframe schedule in seconds (see `keyframe_schedule`).
        batch_size: keyframes per model call; memory is bounded by it.
        frame_interval: ticks (1/30 s) between clip frames; the clip length is `model.config.num_frames`.
        person_threshold: keep the person boxes scoring >= this.
        short_side: override the processor's `size["shortest_edge"]` (256 for the AVA models).
        progress: show a progress bar over keyframes (`processing.progress`: only on a terminal, off after
            `set_quiet()`).
        timings: a `Timings` to accumulate the stage times in.

    Yields:
        `KeyframeResult` for every keyframe of the schedule, in order (with no boxes where no person was found).
    """
    from . import ava_video_processor

    if person_boxes is None:
        raise ValueError("give person_boxes: a ProposalsFile or an ObjectDetectorBoxes")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}")
    info = probe_video(video)
    video_path = info.path
    video_id = video_id if video_id is not None else Path(video_path).stem
    if isinstance(person_boxes, ProposalsFile):
        person_boxes.check_video_id(video_id)
    processor = processor if processor is not None else ava_video_processor(model.config)
    timings = timings if timings is not None else Timings()
    processor_kwargs = {"size": {"shortest_edge": int(short_side)}} if short_side is not None else {}
    parameter = next(model.parameters())
    clip_len = int(model.config.num_frames)

    schedule = keyframe_schedule(info.duration, stride=stride, start=start, end=end)
    bar = progress_bar(total=len(schedule), unit="keyframe", desc=f"actions in {Path(video_path).name}",
                       enabled=progress)
    try:
        for batch in _batches(schedule, int(batch_size)):
            frames = None
            if getattr(person_boxes, "needs_frames", False):
                began = time.perf_counter()
                frames = read_keyframe_frames(video_path, batch)
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
                        video_path, [batch[index] for index in with_persons], timestamp_start=0, video_start=0,
                        fps=TIMELINE_FPS, clip_len=clip_len, frame_interval=frame_interval,
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
            bar.update(len(batch))
    finally:
        bar.close()


# ------------------------------------------------------------------------------------------------------ outputs
def top_actions(scores: np.ndarray, top_k: int | None = 3, threshold: float = 0.0, id2label: dict | None = None,
                action_ids: Sequence[int] | None = None) -> list[dict]:
    """The actions of one person, best first: `[{"action_id", "label", "score"}]`, at most `top_k`, scores > threshold.
    `action_ids[i]` is the action id of score column `i` (a model's `config.label_action_ids`; default `i + 1`)."""
    id2label = id2label or ava_id2label()
    if action_ids is not None:
        return [{"action_id": int(action_ids[i]), "label": id2label.get(int(i), str(action_ids[i])),
                 "score": float(scores[i])} for i in _top_order(scores, top_k, threshold)]
    order = _top_order(scores, top_k, threshold)
    return [{"action_id": int(i) + 1, "label": id2label.get(int(i), str(int(i) + 1)), "score": float(scores[i])} for i in order]


def _top_order(scores: np.ndarray, top_k: int | None, threshold: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] > threshold]
    return order[:top_k] if top_k is not None else order


def results_to_records(results: Sequence[KeyframeResult], top_k: int | None = 3, label_threshold: float = 0.0,
                       id2label: dict | None = None, action_ids: Sequence[int] | None = None) -> list[dict]:
    """Keyframe results -> JSON-ready records: per keyframe `{"timestamp", "persons": [{"box": [x1, y1, x2, y2]
    normalised, "person_score", "actions": top_actions(...)}]}`."""
    records = []
    for result in results:
        persons = [
            {
                "box": [float(value) for value in box],
                "person_score": float(person_score),
                "actions": top_actions(scores, top_k, label_threshold, id2label, action_ids),
            }
            for box, person_score, scores in zip(result.boxes, result.person_scores, result.action_scores)
        ]
        records.append({"timestamp": timestamp_value(result.timestamp), "persons": persons})
    return records


def write_actions_csv(path: str | os.PathLike, results: Sequence[KeyframeResult], video_id: str,
                      action_threshold: float | None = 0.002) -> int:
    """The official AVA detections CSV (see the module docstring); returns the number of rows."""
    from .formats.detections import write_detections

    keyframes = [(video_id, timestamp_value(result.timestamp)) for result in results]
    return write_detections(
        path, keyframes, [result.boxes for result in results], [result.action_scores for result in results],
        action_thr=action_threshold,
    )


@dataclass
class OutputPaths:
    csv: Path
    json: Path
    video: Path | None = None


def write_outputs(results: Sequence[KeyframeResult], output_dir: str | os.PathLike, video: str | os.PathLike, *,
                  video_id: str | None = None, action_threshold: float | None = 0.002, top_k: int | None = 3,
                  label_threshold: float = 0.0, id2label: dict | None = None, output_video: str | os.PathLike | None = None,
                  stride=1, lossless: bool = False, timings: Timings | None = None,
                  progress: bool = True) -> OutputPaths:
    """Write `actions.csv`, `actions.json` (and the annotated video when `output_video` is given) into `output_dir`."""
    from .annotated_video import write_annotated_video

    from .cli.conventions import atomic_output, check_output_dir, check_output_file

    output_dir = check_output_dir(output_dir, "output_dir")
    if output_video is not None:
        check_output_file(output_video, "output_video")
    video_id = video_id if video_id is not None else Path(os.fspath(video)).stem
    paths = OutputPaths(csv=output_dir / "actions.csv", json=output_dir / "actions.json")
    write_actions_csv(paths.csv, results, video_id, action_threshold=action_threshold)
    records = results_to_records(results, top_k, label_threshold, id2label)
    with atomic_output(paths.json) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"video": os.fspath(video), "video_id": video_id, "keyframes": records}, handle, indent=1)
    if output_video is not None:
        began = time.perf_counter()
        with atomic_output(output_video) as temporary:
            write_annotated_video(video, temporary, results, stride=stride, top_k=top_k, threshold=label_threshold,
                                  id2label=id2label, lossless=lossless, output_name=output_video, progress=progress)
        if timings is not None:
            timings.drawing += time.perf_counter() - began
        paths.video = Path(output_video)
    return paths


# ----------------------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    from .cli.conventions import HelpFormatter, add_log_level

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
    parser.add_argument("--action_threshold", type=float, default=0.002,
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
    from .cli.conventions import run_command

    return run_command(_run, build_parser().parse_args(argv))


def _run(args) -> int:
    from .cli.conventions import check_output_dir, check_output_file

    if args.quiet or args.no_progress:
        set_quiet()
    # Outputs first: a bad output path fails before the model loads and runs.
    check_output_dir(args.output_dir, "--output_dir")
    if args.output_video:
        check_output_file(args.output_video, "--output_video")
    if args.timeline is not None:
        from .cli.plotting import require_matplotlib

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
    paths = write_outputs(
        results, args.output_dir, args.video, video_id=args.video_id, action_threshold=args.action_threshold,
        top_k=args.top_k, label_threshold=args.label_threshold,
        id2label={int(k): v for k, v in model.config.id2label.items()}, output_video=args.output_video,
        stride=args.stride, lossless=args.lossless, timings=timings,
    )
    if args.timeline is not None:
        from .timeline import plot_timeline

        tracks = plot_timeline(results, args.timeline, {int(k): v for k, v in model.config.id2label.items()},
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


__all__ = [
    "KeyframeResult",
    "ObjectDetectorBoxes",
    "PersonBoxes",
    "ProposalsFile",
    "Timings",
    "VideoInfo",
    "detect_actions",
    "keyframe_schedule",
    "load_action_detector",
    "main",
    "probe_video",
    "read_keyframe_frames",
    "results_to_records",
    "top_actions",
    "write_actions_csv",
    "write_outputs",
]
