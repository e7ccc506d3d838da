"""Which frames a keyframe's clip uses, and reading them from a frame folder, a video file or frames in memory.

The annotation timeline
-----------------------
AVA and AVA-Kinetics annotate keyframes in seconds (`timestamp`) and mmaction2 reads clips from frames extracted at
`fps` = 30 with `ffmpeg -r 30`, numbered from 1: frame number `k` is the frame shown at timeline second
`timestamp_start + (k - 1) / fps`, where `timestamp_start` is the timeline second of frame 1 (900 for AVA, whose
frames start at 15:00; the clip start for a Kinetics clip `{id}_{start:06d}_{end:06d}`).
`ava_clip_frame_numbers` is the one place this project computes which frame numbers a keyframe's clip uses.

Sources
-------
- A frame folder (mmaction2's rawframes layout): `img_{:05d}.jpg`, 1-based. Frame `k` is the file numbered `k`.
  Decoded with torchvision (libjpeg-turbo): on the 120 reference JPEGs the frames equal OpenCV's `imread` (what
  mmaction2 uses) exactly.
- A video file (anything FFmpeg reads: mp4, mkv, webm, ...) read with PyAV. Frame `k` is the frame *shown* at
  video time `timestamp_start - video_start + (k - 1) / fps` seconds, i.e. the last frame whose presentation
  timestamp is <= that time, whatever the file's own frame rate (`video_start` is the timeline second at which the
  file starts: 0 for a full AVA movie, 900 for mmaction2's 15-minute cuts, the clip start for Kinetics clips).
  Video time 0 is the start time of the video stream (its first frame). The comparison is exact, on the
  timestamps the container stores: mkv/webm round them to milliseconds, so where a source frame is due at the same
  instant as a timeline tick (e.g. 24 fps frame 16 at 0.6667 s, stored as 0.667 s), the previous frame is the one
  shown at that tick. The reader seeks to the keyframe before the clip and decodes forward, so a clip late in a long
  video costs about as much as one at its start (about one GOP plus the clip's span of decoded frames); the frames
  are the same, pixel for pixel, as those of a full sequential decode (RGB via PyAV's `to_ndarray("rgb24")`). In an
  intra-only stretch (every packet a keyframe, as in the transcoded store) the frames shown are chosen from the
  packets' timestamps and only those are decoded: 16 frames for a 16-frame clip instead of its ~61-frame span.
  A file that stops before the duration it declares (a truncated download) is an error when a clip reaches the
  point where it stops; a clip entirely before that point still reads.
  Rotation: a file whose display matrix rotates the picture (phone videos: 90, 180 or 270 degrees) is read as a
  player shows it, i.e. the frames are rotated (`displayed_rgb`) and `(H, W)` are the displayed height and width;
  normalised boxes are relative to that displayed frame.
  Note: `ffmpeg -r 30` (how mmaction2's rawframes were made) rounds each source frame's time to the *nearest* 1/30 s
  tick, so for a file that is not 30 fps a frame may differ by one source frame from the extracted JPEG at some
  positions; for 30 fps files (AVA's cuts and Kinetics clips are re-encoded at 30 fps) the rules agree.
- Frames in memory: a `(N, H, W, 3)` uint8 array or tensor, or a sequence of `(H, W, 3)` arrays; frame `k` is
  element `k - 1` (the first element is frame 1 on the timeline).

Short clips (clamping)
----------------------
As mmaction2 does, frame numbers are clamped to `[1, num_frames]` when the shot length `num_frames` is given
(mmaction2: `shot_info = (1, (end - start) * fps + 1)`). Numbers past the end of the source itself are clamped to its
last frame (the folder's highest frame number, the video's last frame, the last array element), so a keyframe near
the end of a video repeats its last frame (mmaction2 only clamps to the shot length and fails on a missing JPEG).
The frame numbers returned are the ones actually used, after clamping; a missing JPEG inside the folder's range is
an error. A keyframe whose own (centre) frame lies outside the
source is an error, never a clip of repeated or black frames.

Part of the video processor's remote code: imports only numpy, torch, torchvision and (inside functions, in a
`try` block so that transformers' `check_imports` does not list it as a requirement) PyAV.
"""

import bisect
import itertools
import math
import os
from fractions import Fraction

import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_image

from .random_draws import randint


FILENAME_TEMPLATE = "img_{:05d}.jpg"
AVA_FPS = 30  # AVA's timeline: mmaction2's frames are extracted with `ffmpeg -r 30`
AVA_TIMESTAMP_START = 900  # AVA's annotated 15 minutes are seconds 900-1800 of each movie
AVA_TIMESTAMP_END = 1800


def _as_fraction(value, name: str) -> Fraction:
    try:
        return Fraction(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be a real number, got {value!r}") from error


def _centre_frame_number(timestamp, timestamp_start, fps) -> int:
    """mmaction2's centre index `fps * (timestamp - timestamp_start)` (start_index 0), checked to be whole."""
    fps_fraction = _as_fraction(fps, "fps")
    if fps_fraction <= 0:
        raise ValueError(f"`fps` must be positive, got {fps!r}")
    seconds = _as_fraction(timestamp, "timestamp") - _as_fraction(timestamp_start, "timestamp_start")
    if seconds < 0:
        raise ValueError(f"`timestamp` {timestamp} is before `timestamp_start` {timestamp_start} (frame 1 of the timeline)")
    centre = fps_fraction * seconds
    if abs(centre - round(centre)) > Fraction(1, 10**6):
        raise ValueError(
            f"`timestamp` {timestamp} is not on the {fps}-fps frame grid of `timestamp_start` {timestamp_start} "
            f"(centre frame {float(centre)}); mmaction2 needs whole-frame keyframes"
        )
    return int(round(centre))


def frame_number_shown_at(timestamp, *, timestamp_start=0, fps=AVA_FPS) -> int:
    """The 1-based timeline number of the frame shown at second `timestamp` (frame `k` is shown from
    `timestamp_start + (k - 1) / fps`): one past the centre frame `ava_clip_frame_numbers` gives the keyframe's clip.
    `fps * (timestamp - timestamp_start)` must be a whole number of frames."""
    return _centre_frame_number(timestamp, timestamp_start, fps) + 1


def ava_clip_frame_numbers(
    timestamp,
    *,
    timestamp_start=0,
    fps=30,
    clip_len: int = 16,
    frame_interval: int = 4,
    num_frames: int | None = None,
    train: bool = False,
    generator=None,
    offsets=None,
) -> np.ndarray:
    """Frame numbers (1-based, on the `fps` timeline) of the clip around a keyframe, as mmaction2's
    `SampleAVAFrames(clip_len, frame_interval)` computes them when `AVAKineticsDataset` drives it (start_index 0).

    - centre `c = fps * (timestamp - timestamp_start)` (the frame one tick before the keyframe second);
    - numbers `c - (clip_len // 2) * frame_interval + frame_interval * i`, i = 0 .. clip_len - 1 (for 16 x 4:
      c-32, c-28, ..., c+28; the centre is at position clip_len // 2);
    - training (`train=True`): plus one independent offset per frame, uniform in
      `[-frame_interval // 2, (frame_interval + 1) // 2)` ({-2, -1, 0, 1} for an interval of 4), drawn from
      `generator` (see `random_draws`), or the given `offsets` (shape `(clip_len,)`) to replay known choices;
    - clamped to `[1, num_frames]` (`num_frames`: the shot length, `(end - start) * fps` for mmaction2); to `>= 1` only
      when `num_frames` is None.

    Args:
        timestamp: keyframe second on the timeline (int or float; `fps * (timestamp - timestamp_start)` must be a
            whole number of frames).
        timestamp_start: timeline second of frame 1.
        num_frames: optional shot length in frames.
        generator: numpy Generator / RandomState, torch Generator, or None (unseeded) for the training offsets.
        offsets: optional `(clip_len,)` integers replacing the random offsets (implies training sampling).

    Returns:
        `(clip_len,)` int64 array of frame numbers.
    """
    if int(clip_len) != clip_len or clip_len < 1:
        raise ValueError(f"`clip_len` must be a positive integer, got {clip_len!r}")
    if int(frame_interval) != frame_interval or frame_interval < 1:
        raise ValueError(f"`frame_interval` must be a positive integer, got {frame_interval!r}")
    clip_len, frame_interval = int(clip_len), int(frame_interval)
    centre = _centre_frame_number(timestamp, timestamp_start, fps)
    if num_frames is not None:
        if int(num_frames) != num_frames or num_frames < 1:
            raise ValueError(f"`num_frames` must be a positive integer or None, got {num_frames!r}")
        num_frames = int(num_frames)
        if centre > num_frames:
            raise ValueError(
                f"`timestamp` {timestamp} is past the end of the shot: its centre frame {centre} > num_frames {num_frames}"
            )

    numbers = centre - (clip_len // 2) * frame_interval + frame_interval * np.arange(clip_len, dtype=np.int64)
    low, high = (-frame_interval) // 2, (frame_interval + 1) // 2
    if offsets is not None:
        offsets = np.asarray(offsets)
        if offsets.shape != (clip_len,) or not np.issubdtype(offsets.dtype, np.integer):
            raise ValueError(f"`offsets` must be {clip_len} integers, got {offsets.dtype} {offsets.shape}")
        if offsets.min() < low or offsets.max() >= high:
            raise ValueError(f"`offsets` must lie in [{low}, {high}) for frame_interval {frame_interval}, got {offsets}")
        numbers = numbers + offsets.astype(np.int64)
    elif train:
        numbers = numbers + randint(generator, low, high, size=clip_len)
    return np.clip(numbers, 1, num_frames if num_frames is not None else None).astype(np.int64)


def read_clip(
    source,
    timestamp,
    *,
    timestamp_start=0,
    video_start=None,
    fps=30,
    clip_len: int = 16,
    frame_interval: int = 4,
    train: bool = False,
    generator=None,
    num_frames: int | None = None,
    filename_tmpl: str = FILENAME_TEMPLATE,
) -> tuple[np.ndarray, np.ndarray]:
    """The clip of `clip_len` frames around keyframe `timestamp`, as mmaction2 samples it.

    Args:
        source: a frame folder (`filename_tmpl`, 1-based), a video file path, or frames in memory (see the module
            docstring for what frame number `k` means in each).
        timestamp: keyframe second on the timeline.
        timestamp_start: timeline second of frame 1 (900 for AVA; the clip start for Kinetics clips).
        video_start: timeline second at which a video file starts (0 for a full AVA movie, 900 for a 15-minute
            cut); None means `timestamp_start`. Only used for video files.
        fps: frame rate of the timeline (30 for AVA / AVA-Kinetics), not of the file.
        clip_len, frame_interval: clip length and stride in timeline frames (16 and 4 in the recipe).
        train: add mmaction2's random per-frame offsets (see `ava_clip_frame_numbers`).
        generator: numpy Generator / RandomState or torch Generator for those offsets (None: unseeded).
        num_frames: optional shot length; frame numbers are clamped to `[1, num_frames]` as in mmaction2.
        filename_tmpl: frame file names in a folder.

    Returns:
        frames: `(clip_len, H, W, 3)` uint8 RGB numpy array;
        frame_numbers: `(clip_len,)` int64, the 1-based timeline frame numbers used (after clamping).

    Raises:
        FileNotFoundError: missing video file or folder, or a missing frame file inside the folder's range.
        ValueError: corrupt or truncated video, empty frame folder, keyframe outside the source, bad arguments.
    """
    numbers = ava_clip_frame_numbers(
        timestamp,
        timestamp_start=timestamp_start,
        fps=fps,
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_frames=num_frames,
        train=train,
        generator=generator,
    )
    return _read(
        source,
        numbers,
        timestamp_start=timestamp_start,
        video_start=video_start,
        fps=fps,
        filename_tmpl=filename_tmpl,
        keyframe_number=max(1, _centre_frame_number(timestamp, timestamp_start, fps)),
        keyframe_description=f"timestamp {timestamp}",
    )


def read_frames(
    source,
    frame_numbers,
    *,
    timestamp_start=0,
    video_start=None,
    fps=30,
    filename_tmpl: str = FILENAME_TEMPLATE,
    decode_info: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames with the given 1-based timeline numbers (e.g. replayed from a log) from any source.

    Same sources, timeline and clamping as `read_clip` (numbers past the end of the source become its last frame;
    numbers < 1 are an error). `decode_info`, when a dict, receives for video files `decoded_frames` (frames
    decoded, all seek attempts included), `seeks` and `reached_end`.

    Returns:
        frames `(len(frame_numbers), H, W, 3)` uint8 RGB, and the frame numbers used.
    """
    return _read(
        source,
        frame_numbers,
        timestamp_start=timestamp_start,
        video_start=video_start,
        fps=fps,
        filename_tmpl=filename_tmpl,
        decode_info=decode_info,
    )


def read_clips(
    source,
    timestamps,
    *,
    timestamp_start=0,
    video_start=None,
    fps=30,
    clip_len: int = 16,
    frame_interval: int = 4,
    num_frames: int | None = None,
    filename_tmpl: str = FILENAME_TEMPLATE,
    decode_info: dict | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (evaluation, offset-free) clips of several keyframes of one source, each equal to what `read_clip` returns
    for it; a video file is opened once, and keyframes whose clips' frame ranges overlap (e.g. AVA keyframes 1 s
    apart with 16 x 4 clips spanning 2 s) are read with one seek and one forward decode over the union of their
    frame numbers, instead of one seek and decode per keyframe.

    Args: as `read_clip`, with `timestamps` a sequence of keyframe seconds (any order; results follow it).
    `decode_info`, when a dict, receives for video files `decoded_frames`, `seeks`, `passes` (forward decodes) and
    `reached_end`, summed over the clips.

    Returns:
        `[(frames (clip_len, H, W, 3) uint8 RGB, frame_numbers (clip_len,) int64)]`, one per timestamp.
    """
    timestamps = list(timestamps)
    if not timestamps:
        return []
    numbers = [
        ava_clip_frame_numbers(timestamp, timestamp_start=timestamp_start, fps=fps, clip_len=clip_len,
                               frame_interval=frame_interval, num_frames=num_frames)
        for timestamp in timestamps
    ]
    keyframes = [max(1, _centre_frame_number(timestamp, timestamp_start, fps)) for timestamp in timestamps]
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    if path is None or not os.path.isfile(path):
        return [
            _read(source, clip_numbers, timestamp_start=timestamp_start, video_start=video_start, fps=fps,
                  filename_tmpl=filename_tmpl, keyframe_number=keyframe, keyframe_description=f"timestamp {timestamp}")
            for clip_numbers, keyframe, timestamp in zip(numbers, keyframes, timestamps)
        ]
    start = timestamp_start if video_start is None else video_start
    offset = _as_fraction(timestamp_start, "timestamp_start") - _as_fraction(start, "video_start")
    descriptions = [f"timestamp {timestamp}" for timestamp in timestamps]
    results = _read_video_clips(path, list(zip(numbers, keyframes, descriptions)), offset=offset,
                                fps=_as_fraction(fps, "fps"), decode_info=decode_info)
    clips = []
    for (frames, used, last), keyframe, description in zip(results, keyframes, descriptions):
        if last is not None and keyframe > last:
            raise ValueError(
                f"{description} is outside video {path}: its centre frame is timeline frame {keyframe} "
                f"but the source ends at frame {last}"
            )
        clips.append((frames, used))
    return clips


def _read(
    source,
    frame_numbers,
    *,
    timestamp_start,
    video_start,
    fps,
    filename_tmpl,
    keyframe_number=None,
    keyframe_description=None,
    decode_info=None,
):
    numbers = np.asarray(frame_numbers)
    if numbers.ndim != 1 or numbers.size == 0 or not np.issubdtype(numbers.dtype, np.integer):
        raise ValueError(f"`frame_numbers` must be a non-empty 1-D sequence of integers, got {numbers.dtype} {numbers.shape}")
    numbers = numbers.astype(np.int64)
    if numbers.min() < 1:
        raise ValueError(f"frame numbers are 1-based, got {numbers.min()}")

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            frames, used, last = _read_folder(path, numbers, filename_tmpl)
            where = f"frame folder {path}"
        elif os.path.isfile(path):
            start = timestamp_start if video_start is None else video_start
            offset = _as_fraction(timestamp_start, "timestamp_start") - _as_fraction(start, "video_start")
            frames, used, last = _read_video(
                path, numbers, offset=offset, fps=_as_fraction(fps, "fps"), keyframe_number=keyframe_number,
                keyframe_description=keyframe_description, decode_info=decode_info,
            )
            where = f"video {path}"
        else:
            raise FileNotFoundError(f"no such frame folder or video file: {path}")
    else:
        frames, used, last = _read_memory(source, numbers)
        where = "the frames given"
    if keyframe_number is not None and last is not None and keyframe_number > last:
        raise ValueError(
            f"{keyframe_description} is outside {where}: its centre frame is timeline frame {keyframe_number} "
            f"but the source ends at frame {last}"
        )
    return frames, used


def _read_memory(frames, numbers):
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise ValueError(f"frames in memory must be (num_frames, H, W, 3), got {frames.shape}")
        dtype = frames.dtype
    elif isinstance(frames, (list, tuple)):
        if len(frames) == 0:
            raise ValueError("frames in memory: the sequence is empty")
        dtype = np.asarray(frames[0]).dtype
    else:
        raise TypeError(
            f"`source` must be a frame folder or video path, or frames in memory (array, tensor, list); got {type(frames).__name__}"
        )
    if dtype != np.uint8:
        raise ValueError(f"frames in memory must be uint8 RGB, got {dtype}")
    last = len(frames)
    used = np.minimum(numbers, last)
    picked = [np.asarray(frames[k - 1]) for k in used]
    return _stack(picked, "the frames given"), used, last


def _stack(frames, where):
    shapes = {frame.shape for frame in frames}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[-1] != 3:
        raise ValueError(f"{where}: frames must all be (H, W, 3) of one size, got {sorted(shapes)}")
    return np.stack(frames)


def _frame_numbers_on_disk(folder, filename_tmpl):
    prefix, _, rest = filename_tmpl.partition("{")
    suffix = rest.partition("}")[2]
    numbers = []
    for name in os.listdir(folder):
        if name.startswith(prefix) and name.endswith(suffix):
            middle = name[len(prefix) : len(name) - len(suffix)]
            if middle.isdigit():
                numbers.append(int(middle))
    return numbers


def _read_folder(folder, numbers, filename_tmpl):
    last = None
    paths = {k: os.path.join(folder, filename_tmpl.format(k)) for k in sorted(set(numbers.tolist()))}
    missing = [k for k, path in paths.items() if not os.path.isfile(path)]
    if missing:
        on_disk = _frame_numbers_on_disk(folder, filename_tmpl)
        if not on_disk:
            raise ValueError(f"frame folder {folder} holds no frames named like {filename_tmpl.format(1)}")
        last = max(on_disk)
        for k in missing:
            if k <= last:
                raise FileNotFoundError(f"frame file {paths[k]} is missing (the folder has frames up to {last})")
        numbers = np.minimum(numbers, last)
        paths = {k: os.path.join(folder, filename_tmpl.format(k)) for k in sorted(set(numbers.tolist()))}
        missing = [k for k, path in paths.items() if not os.path.isfile(path)]
        if missing:
            raise FileNotFoundError(f"frame file {paths[missing[0]]} is missing")
    decoded = {}
    for k, path in paths.items():
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            image = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
        except RuntimeError as error:
            raise ValueError(f"cannot decode frame file {path}: {error}") from error
        decoded[k] = image.permute(1, 2, 0).numpy()
    return _stack([decoded[k] for k in numbers.tolist()], f"frame folder {folder}"), numbers, last


def _import_av():
    try:
        import av
    except ImportError as error:  # PyAV is needed for video files only
        raise ImportError("reading video files needs PyAV: `pip install av`") from error
    return av


def frame_rotation(frame) -> int:
    """Counter-clockwise rotation (0, 90, 180 or 270 degrees) that the frame's display matrix asks a player for."""
    degrees = getattr(frame, "rotation", 0) or 0
    return int(round(degrees / 90.0)) % 4 * 90


def displayed_rgb(frame, reformatter=None) -> np.ndarray:
    """A decoded PyAV frame as a player shows it: `(H, W, 3)` uint8 RGB with the display-matrix rotation applied.

    `reformatter`: an `av.video.reformatter.VideoReformatter` shared by the frames of one read. It keeps its FFmpeg
    conversion context between frames of the same size and format, where a frame's own conversion sets one up each
    time (at 320 x 569, 0.85 ms instead of 2.3 ms a frame); the pixels are the same.
    """
    if reformatter is not None:
        image = reformatter.reformat(frame, format="rgb24").to_ndarray()
    else:
        image = frame.to_ndarray(format="rgb24")
    quarter_turns = frame_rotation(frame) // 90
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns)) if quarter_turns else image


def video_rotation(path) -> int:
    """The display rotation (counter-clockwise degrees, a multiple of 90) of a video file's first frame."""
    container, stream = open_video(path)
    with container:
        for frame in container.decode(stream):
            return frame_rotation(frame)
    return 0


def _declared_end(container, stream):
    """(end pts of the video stream as the file declares it, tolerance in pts) or (None, None)."""
    time_base = stream.time_base
    origin = stream.start_time or 0
    rate = stream.average_rate or stream.guessed_rate
    frame_ticks = int(math.ceil(1 / (Fraction(rate) * time_base))) if rate else 0
    if stream.duration:
        return origin + stream.duration, 2 * frame_ticks + 1
    if container.duration:  # microseconds, all streams (mkv / webm): audio may run a little longer or shorter
        return origin + int(Fraction(container.duration, 1_000_000) / time_base), int(1 / time_base) + 2 * frame_ticks
    return None, None


def open_video(path):
    """Open a video file with PyAV.

    Returns:
        `(container, stream)`: the open container (a context manager: close it) and its first video stream.

    Raises:
        FileNotFoundError: no such file. ValueError: corrupt, truncated or not a video, or no video stream.
    """
    av = _import_av()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video file not found: {path}")
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot open video file {path} (corrupt, truncated or not a video): {error}") from error
    if not container.streams.video:
        container.close()
        raise ValueError(f"video file {path} has no video stream")
    return container, container.streams.video[0]


def _read_video(path, numbers, *, offset, fps, keyframe_number, keyframe_description, decode_info):
    (result,) = _read_video_clips(path, [(numbers, keyframe_number, keyframe_description)], offset=offset, fps=fps,
                                  decode_info=decode_info)
    return result


def overlapping_groups(frame_ranges) -> list[list[int]]:
    """Indices of `(first, last)` frame ranges grouped so that each group's ranges, sorted by `first`, overlap or
    touch a range before them in the group (`first <= max last so far + 1`); groups are ordered by their first frame
    and hold indices in that order. One forward decode covers a group without decoding frames no clip uses between
    two of them beyond a clip's own stride."""
    order = sorted(range(len(frame_ranges)), key=lambda index: (frame_ranges[index][0], index))
    groups, reach = [], None
    for index in order:
        first, last = frame_ranges[index]
        if reach is not None and first <= reach + 1:
            groups[-1].append(index)
            reach = max(reach, last)
        else:
            groups.append([index])
            reach = last
    return groups


def _read_video_clips(path, clips, *, offset, fps, decode_info):
    """Clips of one video file with one open container: `clips` is a list of `(numbers (int64 array),
    keyframe_number or None, keyframe_description)`. Clips whose frame ranges overlap (`overlapping_groups`) are read
    with one seek and one forward decode over the union of their frame numbers, each decoded frame converted to RGB
    once. Returns `[(frames (N, H, W, 3) uint8, used numbers, last frame or None)]` in the order of `clips`;
    `decode_info` receives the totals `decoded_frames`, `seeks`, `passes` (forward decodes) and `reached_end`."""
    av = _import_av()
    container, stream = open_video(path)
    with container:
        time_base = stream.time_base
        if not time_base:
            raise ValueError(f"video file {path}: the video stream has no time base")
        origin = stream.start_time or 0
        declared_end, tolerance = _declared_end(container, stream)
        thresholds = {}
        for numbers, keyframe_number, keyframe_description in clips:
            for k in sorted(set(numbers.tolist()) - set(thresholds)):
                seconds = offset + Fraction(k - 1) / fps
                if seconds < 0:
                    raise ValueError(
                        f"timeline frame {k} lies {float(-seconds):.3f} s before the start of video {path} "
                        "(check `timestamp_start` and `video_start`)"
                    )
                thresholds[k] = origin + math.floor(seconds / time_base)
            if keyframe_number is not None and declared_end is not None:
                key_seconds = offset + Fraction(keyframe_number - 1) / fps
                if origin + math.floor(key_seconds / time_base) >= declared_end + tolerance:
                    raise ValueError(
                        f"{keyframe_description} is outside video {path}: its centre frame is at "
                        f"{float(key_seconds):.3f} s of the file, which lasts "
                        f"{float((declared_end - origin) * time_base):.3f} s"
                    )
        totals = {"decoded_frames": 0, "seeks": 0, "passes": 0, "reached_end": False}
        reformatter = av.video.reformatter.VideoReformatter()
        results = [None] * len(clips)
        for group in overlapping_groups([(int(numbers.min()), int(numbers.max())) for numbers, _, _ in clips]):
            wanted = sorted(set().union(*(clips[index][0].tolist() for index in group)))
            try:
                picked, end_pts, stats = _decode_at(container, stream, {k: thresholds[k] for k in wanted}, origin)
            except av.error.FFmpegError as error:
                raise ValueError(f"error while decoding video {path} (corrupt or truncated file): {error}") from error
            totals["decoded_frames"] += stats["decoded_frames"]
            totals["seeks"] += stats["seeks"]
            totals["passes"] += 1
            totals["reached_end"] = totals["reached_end"] or stats["reached_end"]
            last = None
            if end_pts is not None:  # decoding reached the end of the stream
                if declared_end is not None and end_pts + tolerance < declared_end:
                    raise ValueError(
                        f"video file {path} is truncated or corrupt: its frames end at "
                        f"{float((end_pts - origin) * time_base):.3f} s but the file declares "
                        f"{float((declared_end - origin) * time_base):.3f} s"
                    )
                # The last timeline frame still showing a decoded frame: k with offset + (k - 1) / fps < end time.
                last = max(1, math.ceil(((end_pts - origin) * time_base - offset) * fps))
            arrays = {}
            for index in group:
                numbers = clips[index][0].tolist()
                used = np.array([min(k, last) if last is not None else k for k in numbers], dtype=np.int64)
                frames = []
                for k in numbers:
                    frame = picked[k]
                    if id(frame) not in arrays:
                        arrays[id(frame)] = displayed_rgb(frame, reformatter)
                    frames.append(arrays[id(frame)])
                results[index] = (_stack(frames, f"video {path}"), used, last)
        if decode_info is not None:
            decode_info.update(totals)
        return results


def _frame_ticks(frame, stream):
    if getattr(frame, "duration", None):
        return frame.duration
    rate = stream.average_rate or stream.guessed_rate
    return max(1, int(round(1 / (Fraction(rate) * stream.time_base)))) if rate else 1


def _decoded(packets):
    """The frames of `packets` decoded in order (what `container.decode(stream)` gives for the packets it demuxes)."""
    for packet in packets:
        yield from packet.decode()


def _intra_only_head(packets, last_threshold):
    """Demux from a seek point while every packet is a keyframe (an intra-only stream: no frame refers to another),
    up to the first packet shown after `last_threshold` or the end of the stream.

    Returns `(head, intra_only)`: the packets demuxed (the end-of-stream packet included when reached) and whether
    they allow decoding only the frames wanted: all keyframes, presentation timestamps increasing, at least one.
    When not, `head` is followed by the rest of `packets` and decoded in full.
    """
    head = []
    previous_pts = None
    for packet in packets:
        head.append(packet)
        if packet.size == 0 and packet.pts is None:  # end of the stream (PyAV's flush packet)
            return head, previous_pts is not None
        if not packet.is_keyframe or packet.pts is None or (previous_pts is not None and packet.pts <= previous_pts):
            return head, False
        previous_pts = packet.pts
        if packet.pts > last_threshold:
            return head, True
    return head, previous_pts is not None


def _decode_intra_only(stream, head, order, thresholds, stats):
    """`_decode_at` for an intra-only stretch of packets (`_intra_only_head`): each timeline frame `k` is assigned,
    from the packets' presentation timestamps alone, the last packet with pts <= thresholds[k] (the first packet for a
    time before it, as at the start of a stream), and only those packets are decoded, plus the last packet of the
    stream when the end was reached (its duration gives the end time). Same frames as decoding every packet."""
    reached_end = head[-1].size == 0 and head[-1].pts is None
    packets = head[:-1] if reached_end else head
    starts = [packet.pts for packet in packets]
    chosen = {}
    for k in order:
        chosen[k] = max(0, bisect.bisect_right(starts, thresholds[k]) - 1)
    to_decode = sorted(set(chosen.values()) | ({len(packets) - 1} if reached_end else set()))
    by_index = {}
    for index in to_decode:
        frames = packets[index].decode()
        if not frames:  # a decoder that holds frames back (frame threading): drain it, then accept packets again
            frames = stream.codec_context.decode(None)
            stream.codec_context.flush_buffers()
        if len(frames) != 1:
            raise ValueError(f"a keyframe packet (pts {packets[index].pts}) decoded to {len(frames)} frames")
        by_index[index] = frames[0]
    stats["decoded_frames"] += len(to_decode)
    picked = {k: by_index[index] for k, index in chosen.items()}
    if not reached_end:
        return picked, None, stats
    stats["reached_end"] = True
    last = by_index[len(packets) - 1]
    return picked, last.pts + _frame_ticks(last, stream), stats


def _decode_at(container, stream, thresholds, origin):
    """Seek to the keyframe before the first threshold and decode forward, picking for each timeline frame `k` the
    last frame with pts <= thresholds[k].

    Frames decoded after a seek but before its first keyframe are not used (they may reference frames before the
    seek point). If the first keyframe comes after the first threshold (the container's seek index can land late,
    e.g. when it is ordered by decoding time), it seeks further back and tries again; at the start of the stream
    every frame counts and a time before the first frame shows the first frame.

    Returns ({k: av.VideoFrame}, end pts of the stream if decoding reached it else None, statistics).
    """
    order = sorted(thresholds, key=lambda k: (thresholds[k], k))
    first = thresholds[order[0]]
    one_second = max(1, int(1 / stream.time_base))
    back_off = one_second
    target = first
    stats = {"decoded_frames": 0, "seeks": 0, "reached_end": False}
    while True:
        at_start = target <= origin
        container.seek(origin if at_start else target, stream=stream, backward=True, any_frame=False)
        stats["seeks"] += 1
        packets = container.demux(stream)
        head, intra_only = _intra_only_head(packets, thresholds[order[-1]])
        if intra_only:
            if not at_start and head[0].pts > first:
                target = min(target, first) - back_off
                back_off *= 2
                continue
            return _decode_intra_only(stream, head, order, thresholds, stats)
        picked, previous, index, started, retry = {}, None, 0, False, False
        for frame in _decoded(itertools.chain(head, packets)):
            stats["decoded_frames"] += 1
            pts = frame.pts
            if pts is None:
                raise ValueError("a decoded video frame has no presentation timestamp")
            if not started:
                if not at_start and not frame.key_frame:
                    continue
                if not at_start and pts > first:
                    retry = True
                    break
                started = True
            while index < len(order) and thresholds[order[index]] < pts:
                picked[order[index]] = previous if previous is not None else frame
                index += 1
            if index == len(order):
                return picked, None, stats
            previous = frame
        if retry or (previous is None and not at_start):
            target = min(target, first) - back_off
            back_off *= 2
            continue
        if previous is None:
            raise ValueError("the video stream holds no decodable frames")
        stats["reached_end"] = True
        end_pts = previous.pts + _frame_ticks(previous, stream)
        for k in order[index:]:  # shown by the last frame, or past the end (the caller clamps those to the last one)
            picked[k] = previous
        return picked, end_pts, stats
