"""The keyframes of a user video: what the video is (`probe_video`, or `frames_on_timeline` for frames in memory),
which keyframes it has (`keyframe_schedule`) and the frame shown at each (`read_keyframe_frames`).

Timeline
--------
A user video is read on the timeline `clip_reader.read_clip` defines with `timestamp_start=0`, `video_start=0`,
`fps=AVA_FPS` (30): keyframe second `t` is `t` seconds of the video (from its first frame). Keyframes are
`start, start + stride, ...` (default every second from 0, as AVA annotates) while `t` is before the end of the
video (and `end`, if given); `stride` and `start` must be whole numbers of 1/30 s ticks. A keyframe's clip is the one
the AVA sampler takes (`clip_len` frames, `frame_interval` ticks apart, centred one tick before `t`); near the start
and the end of the video its frame numbers are clamped to the first and last frame, as mmaction2's sampler clamps to
the shot. Pass `start` (e.g. `1.1` s for a 16 x 4 clip) to keep only keyframes whose whole clip lies inside the video.

Frames in memory (a list of PIL images or `(H, W, 3)` uint8 arrays at a stated `fps`) follow the rule a video file
follows: timeline frame `k` is the last frame whose time `i / fps` is <= `(k - 1) / 30`.

Part of the pipeline's remote code: imports at top level only the stdlib, numpy and its siblings (PyAV inside
`clip_reader`'s functions).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .clip_reader import AVA_FPS, frame_number_shown_at, open_video, read_frames, video_rotation


@dataclass(frozen=True)
class VideoInfo:
    """What a video is: `path` (the file, or `"<frames>"` for frames in memory), displayed `width` and `height` in
    pixels, `duration` in seconds from the first frame to the end, `fps` the frame rate (the stream's average for a
    file), `num_frames` (the count the container declares, 0 when unknown)."""

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


def as_seconds(value, name: str) -> Fraction:
    """A number of seconds as an exact Fraction (a float by its decimal text: 0.1 -> 1/10); ValueError naming `name`."""
    try:
        return Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be a number of seconds, got {value!r}") from error


def _frame_array(frame, index: int) -> np.ndarray:
    """One frame in memory as `(H, W, 3)` uint8 RGB (a PIL image is converted to RGB)."""
    if hasattr(frame, "convert") and hasattr(frame, "size"):  # a PIL image
        frame = frame.convert("RGB")
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(f"frame {index}: frames must be PIL images or (H, W, 3) uint8 RGB arrays, got "
                         f"{array.dtype} {array.shape}")
    return array


def frames_on_timeline(frames: Sequence, fps) -> tuple[list[np.ndarray], VideoInfo]:
    """Frames in memory at `fps` frames per second -> (the frames of the 30-fps timeline, the video's `VideoInfo`).

    Element `k - 1` of the returned list is timeline frame `k`: the last given frame whose time `i / fps` is
    <= `(k - 1) / 30` (the rule `clip_reader` applies to a video file's timestamps); the list holds references to
    the given frames, not copies.

    Args:
        frames: a sequence of PIL images or `(H, W, 3)` uint8 RGB arrays (or one `(N, H, W, 3)` uint8 array), all of
            one size.
        fps: their frame rate (frames per second, > 0).
    Raises:
        ValueError: no frames, frames of different sizes or types, a bad `fps`.
    """
    rate = as_seconds(fps, "fps")
    if rate <= 0:
        raise ValueError(f"`fps` must be positive, got {fps!r}")
    if len(frames) == 0:
        raise ValueError("the list of frames is empty")
    arrays = [_frame_array(frame, index) for index, frame in enumerate(frames)]
    shapes = {array.shape for array in arrays}
    if len(shapes) != 1:
        raise ValueError(f"the frames must all have one size, got {sorted(shapes)}")
    height, width = arrays[0].shape[:2]
    duration = Fraction(len(arrays)) / rate
    ticks = math.ceil(duration * AVA_FPS)
    timeline = [arrays[math.floor(Fraction(tick, AVA_FPS) * rate)] for tick in range(ticks)]
    return timeline, VideoInfo("<frames>", int(width), int(height), float(duration), rate, len(arrays))


def keyframe_schedule(duration: float, stride=1, start=0, end=None) -> list[Fraction]:
    """Keyframe seconds `start, start + stride, ...` before `min(duration, end)`.

    `stride` and `start` must be whole numbers of 1/30 s (the timeline's ticks); returns exact Fractions.
    """
    stride, start = as_seconds(stride, "stride"), as_seconds(start, "start")
    if stride <= 0:
        raise ValueError(f"`stride` must be positive, got {float(stride)}")
    if start < 0:
        raise ValueError(f"`start` must be >= 0, got {float(start)}")
    for name, value in (("stride", stride), ("start", start)):
        if (value * AVA_FPS).denominator != 1:
            raise ValueError(f"`{name}` must be a multiple of 1/{AVA_FPS} s (the AVA timeline), got {float(value)}")
    stop = Fraction(str(float(duration)))
    if end is not None:
        stop = min(stop, as_seconds(end, "end"))
    count = max(0, math.ceil((stop - start) / stride))
    return [start + index * stride for index in range(count)]


def timestamp_value(timestamp: Fraction) -> int | float:
    """A keyframe second as written in the CSV / JSON: an int when whole (`%04d` in the CSV), else a float."""
    return int(timestamp) if timestamp.denominator == 1 else float(timestamp)


def read_keyframe_frames(source, timestamps: Sequence[Fraction]) -> list[np.ndarray]:
    """The frames shown at the given keyframe seconds, `(H, W, 3)` uint8 RGB each (one seek for all).

    `source`: a video file path, or the timeline frames of `frames_on_timeline`."""
    if not timestamps:
        return []
    numbers = np.array([frame_number_shown_at(timestamp) for timestamp in timestamps], dtype=np.int64)
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
    frames, _ = read_frames(source, numbers, timestamp_start=0, video_start=0, fps=AVA_FPS)
    return list(frames)


__all__ = [
    "VideoInfo",
    "as_seconds",
    "frames_on_timeline",
    "keyframe_schedule",
    "probe_video",
    "read_keyframe_frames",
    "timestamp_value",
]
