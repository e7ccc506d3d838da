"""Where each keyframe's frames come from: video files under `videos/` or frame folders under `rawframes/`.

Layout under the data directory (mmaction2's):

- `videos/<clip name>.<ext>`: an AVA movie `<video_id>.<ext>`, either the full movie (keyframe seconds are video
  seconds: `video_start` 0) or mmaction2's 15-minute cut `ffmpeg -ss 900 -t 901` (`video_start` 900); a Kinetics clip
  `{youtube_id}_{start:06d}_{end:06d}.<ext>` starts at second `start` of the YouTube video (`video_start` = start).
- `rawframes/<clip name>/img_{:05d}.jpg`: frames extracted at 30 fps, 1-based, frame 1 at `timestamp_start`.

`read_clip(video_path or frame_dir, timestamp, timestamp_start=, video_start=, fps=, num_frames=)` then reads the
clip (see `processing/clip_reader.py` for the frame arithmetic).

Which start an AVA movie file has is detected from its duration unless given: a file that lasts longer than the
movie's last keyframe second is the full movie (start 0); otherwise, if it lasts longer than that second minus 900,
it is the cut (start 900); a file too short for either is reported as unreadable.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ...processing.cli.progress import progress_bar
from ...processing.clip_reader import AVA_TIMESTAMP_START
from .ava_annotations import KeyframeRecord, KineticsClip, parse_clip_name

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")
FIRST_FRAME = "img_00001.jpg"
MEDIA_KINDS = ("auto", "videos", "rawframes")
CHECKS = ("open", "exists")


@dataclass
class MediaSource:
    """Where a clip is read from: `video_path` ("" for frames) or `frame_dir` ("" for a video), and the timeline
    second at which a video file starts (`video_start`, None until known; for frames: the clip's `timestamp_start`)."""

    clip_name: str
    video_path: str = ""
    frame_dir: str = ""
    video_start: float | None = None
    duration: float | None = None


@dataclass
class MissingMedia:
    """A video / frame folder that is missing or unreadable, and the keyframes that need it."""

    name: str
    reason: str
    keyframes: int = 0


class MediaIndex:
    """The clips present under `data_dir/videos` and `data_dir/rawframes` (one directory listing each).

    Args:
        data_dir: the data set root.
        media: "auto" (a video file if there is one, else a frame folder), "videos" or "rawframes" (only that kind).
    """

    def __init__(self, data_dir: str | os.PathLike, media: str = "auto"):
        if media not in MEDIA_KINDS:
            raise ValueError(f"`media` must be one of {MEDIA_KINDS}, got {media!r}")
        self.root = Path(os.path.abspath(data_dir))
        self.media = media
        self.videos: dict[str, str] = {}
        self.frame_dirs: dict[str, str] = {}
        video_root, frame_root = self.root / "videos", self.root / "rawframes"
        if media in ("auto", "videos") and video_root.is_dir():
            ranked = {extension: rank for rank, extension in enumerate(VIDEO_EXTENSIONS)}
            candidates: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
            with os.scandir(video_root) as entries:
                for entry in entries:
                    stem, extension = os.path.splitext(entry.name)
                    if extension.lower() in ranked and not entry.is_dir():
                        candidates[stem].append((ranked[extension.lower()], entry.name, entry.path))
            self.videos = {stem: min(options)[2] for stem, options in candidates.items()}
        if media in ("auto", "rawframes") and frame_root.is_dir():
            with os.scandir(frame_root) as entries:
                self.frame_dirs = {entry.name: entry.path for entry in entries if entry.is_dir()}
        self._kinetics: dict[str, list[KineticsClip]] | None = None

    def locate(self, clip_name: str) -> MediaSource | None:
        """The video file (preferred) or frame folder of `clip_name`; None when neither is there."""
        if clip_name in self.videos:
            return MediaSource(clip_name, video_path=self.videos[clip_name])
        if clip_name in self.frame_dirs:
            return MediaSource(clip_name, frame_dir=self.frame_dirs[clip_name])
        return None

    def kinetics_clips(self, youtube_id: str) -> list[KineticsClip]:
        """The Kinetics clips of a YouTube video on disk, sorted by (start, end)."""
        if self._kinetics is None:
            clips: dict[str, set[KineticsClip]] = defaultdict(set)
            for name in (*self.videos, *self.frame_dirs):
                clip = parse_clip_name(name)
                if clip is not None:
                    clips[clip.youtube_id].add(clip)
            self._kinetics = {key: sorted(value, key=lambda c: (c.start, c.end)) for key, value in clips.items()}
        return self._kinetics.get(youtube_id, [])

    def describe(self) -> str:
        return f"{self.root / 'videos'} ({len(self.videos)} videos), {self.root / 'rawframes'} ({len(self.frame_dirs)} frame folders)"


def video_duration(path: str) -> float | None:
    """Seconds of the first video stream of a file (PyAV); None when the file does not say.

    Raises:
        ValueError: the file cannot be opened or has no video stream.
    """
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as error:
        raise ValueError(f"cannot open ({type(error).__name__}: {error})") from None
    with container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * Fraction(stream.time_base))
        if container.duration:
            return container.duration / 1_000_000
        return None


def assign_kinetics_clips(records: Sequence[KeyframeRecord], index: MediaIndex) -> None:
    """Give each keyframe of the official Kinetics CSV (bare YouTube id, `clip_name == ""`) the clip on disk whose
    span holds it (`start < timestamp < end`; the earliest such clip). Keyframes without one keep `clip_name == ""`."""
    for record in records:
        if record.clip_name:
            continue
        for clip in index.kinetics_clips(record.video_id):
            if clip.holds(record.timestamp):
                record.clip_name = clip.name
                record.timestamp_start, record.timestamp_end = float(clip.start), float(clip.end)
                break


def resolve_media(
    records: Sequence[KeyframeRecord],
    index: MediaIndex,
    *,
    video_start: float | None = None,
    check: str = "open",
    num_workers: int = 8,
) -> tuple[list[tuple[KeyframeRecord, MediaSource]], list[MissingMedia]]:
    """Find each keyframe's video or frame folder and check it.

    Args:
        records: keyframes (Kinetics ones already matched by `assign_kinetics_clips`).
        index: what is on disk.
        video_start: the timeline second at which AVA movie files start (0: full movies, 900: 15-minute cuts); None
            detects it per movie from the file's duration.
        check: "open" opens every video file with PyAV (unreadable files and keyframes past the end of a file are
            reported); "exists" only checks that files exist (AVA movies are still opened when `video_start` is
            None). Frame folders must hold `img_00001.jpg`.

    Returns:
        (keyframe, source) pairs for the keyframes whose media is there, in record order, and the missing or
        unreadable media with the number of keyframes each one lacks.
    """
    if check not in CHECKS:
        raise ValueError(f"`check` must be one of {CHECKS}, got {check!r}")
    problems: dict[str, MissingMedia] = {}

    def problem(name: str, reason: str) -> MissingMedia:
        if name not in problems:
            problems[name] = MissingMedia(name, reason)
        return problems[name]

    sources: dict[str, MediaSource | None] = {}
    last_keyframe: dict[str, float] = {}
    for record in records:
        if not record.clip_name:
            continue
        name = record.clip_name
        if name not in sources:
            sources[name] = index.locate(name)
        last_keyframe[name] = max(last_keyframe.get(name, -1.0), record.timestamp)

    # Open the videos that need it (in threads: the work is in FFmpeg).
    to_open = [
        name for name, source in sources.items()
        if source is not None and source.video_path
        and (check == "open" or (video_start is None and parse_clip_name(name) is None))
    ]
    if to_open:
        def probe(name):
            try:
                return name, video_duration(sources[name].video_path), None
            except ValueError as error:
                return name, None, str(error)

        with ThreadPoolExecutor(max(1, num_workers)) as pool, progress_bar(
                desc="probing videos", total=len(to_open), unit="video") as bar:
            for name, duration, error in bar_over(pool.map(probe, to_open), bar):
                if error is not None:
                    problem(name, f"unreadable video {sources[name].video_path}: {error}")
                    sources[name] = None
                else:
                    sources[name].duration = duration

    for name, source in sources.items():
        if name in problems:
            continue
        if source is None:
            problem(name, f"no video {index.root / 'videos' / name}.* or frame folder {index.root / 'rawframes' / name}")
            continue
        clip = parse_clip_name(name)
        if source.frame_dir:
            if not os.path.isfile(os.path.join(source.frame_dir, FIRST_FRAME)):
                problem(name, f"frame folder {source.frame_dir} has no {FIRST_FRAME}")
                sources[name] = None
            continue
        if clip is not None:
            source.video_start = float(clip.start)
        elif video_start is not None:
            source.video_start = float(video_start)
        else:
            detected = _detect_movie_start(source.duration, last_keyframe[name])
            if isinstance(detected, str):
                problem(name, f"video {source.video_path}: {detected}")
                sources[name] = None
                continue
            source.video_start = detected

    resolved: list[tuple[KeyframeRecord, MediaSource]] = []
    for record in records:
        if not record.clip_name:
            missing = problem(
                f"{record.video_id} (Kinetics)",
                f"no Kinetics clip {record.video_id}_<start>_<end> under {index.root / 'videos'} or "
                f"{index.root / 'rawframes'} holds its keyframes",
            )
            missing.keyframes += 1
            continue
        source = sources[record.clip_name]
        if source is None:
            problems[record.clip_name].keyframes += 1
            continue
        if source.video_path and source.duration is not None:
            seconds_into_file = record.timestamp - source.video_start
            if seconds_into_file >= source.duration:
                missing = problem(
                    f"{record.clip_name} (too short)",
                    f"video {source.video_path} lasts {source.duration:.3f} s, keyframes lie past its end",
                )
                missing.keyframes += 1
                continue
        resolved.append((record, source))
    return resolved, list(problems.values())


def bar_over(items, bar):
    """Yield `items`, advancing `bar` by one after each."""
    for item in items:
        yield item
        bar.update(1)


def _detect_movie_start(duration: float | None, last_keyframe: float) -> float | str:
    """AVA movie file start: 0 when the file holds the last keyframe as a full movie, 900 as a 15-minute cut; an
    explanation (str) when neither fits."""
    if duration is None:
        return "its duration is unknown, so whether it is the full movie or the 15-minute cut cannot be told: set `video_start`"
    if duration > last_keyframe:
        return 0.0
    if duration > last_keyframe - AVA_TIMESTAMP_START:
        return float(AVA_TIMESTAMP_START)
    return (
        f"lasts {duration:.3f} s, too short for its keyframe at {last_keyframe:g} s as a full movie (starting at 0 s) "
        f"or as a 15-minute cut (starting at {AVA_TIMESTAMP_START} s)"
    )


def format_missing(problems: Sequence[MissingMedia], total_keyframes: int, split: str, limit: int = 50) -> str:
    """A report of missing or unreadable media: counts, then one line per item (the first `limit`)."""
    keyframes = sum(item.keyframes for item in problems)
    lines = [
        f"split {split!r}: {len(problems)} videos / frame folders missing or unreadable, "
        f"needed by {keyframes} of {total_keyframes} keyframes:"
    ]
    for item in sorted(problems, key=lambda item: item.name)[:limit]:
        lines.append(f"  {item.name}: {item.reason} ({item.keyframes} keyframes)")
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)
