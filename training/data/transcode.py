"""A training-ready video store: each AVA movie / Kinetics clip re-encoded once so that reading a clip is cheap.

    videomae-ava-dataset DATA --config ava --transcode DATA_320      # prepare, then transcode every video used
    load_ava_dataset("DATA", "ava", transcoded_dir="DATA_320")      # examples point at the transcoded files

What a transcoded file is
-------------------------
- the source's frames on AVA's 30 fps timeline: output frame `j` (0-based, pts `j / 30` s) is timeline frame `j + 1`
  of the source file, i.e. the frame `read_clip` shows at file time `j / 30` s (the last source frame whose
  presentation time is <= it), for every tick before the end of the source stream. So a transcoded file starts at
  the same timeline second as its source (`video_start` is unchanged) and `read_clip` returns the same frame numbers
  from both;
- resized to short side `short_side` (default 320, the largest short side the training augmentation draws: mmaction2's
  RandomRescale 256-320; evaluation resizes to 256) with the video processor's resize (torchvision bilinear, no
  antialiasing, `rescaled_size`; dimensions rounded to even numbers); sources whose short side is at most
  `short_side` keep their size (rounded down to even);
- H.264 (libx264, yuv444p: no chroma subsampling, which alone costs about 1.3 grey levels of mean error on the toy
  frames), a keyframe every `gop` frames, no B-frames, constant 30 fps, libx264 `tune` none or `fastdecode` (no
  CABAC, no deblocking filter: faster to decode, more bytes). Defaults: `gop` 1, `crf` 14, no tune. With `gop` 1
  every frame is a keyframe (intra-only), so `read_clip` decodes only the 16 frames a training clip shows
  (`clip_reader`'s intra-only path), where a GOP of `g` frames decodes the clip's whole span (about 61 frames) plus
  up to `g - 1` frames before it. The lower crf keeps an intra-only store as close to the source as the earlier
  GOP 16, crf 18 store was. Measured on 720p sources, 1 core (`benchmarks/bench_video_store.py`, synthetic video):
  a training clip reads in about 34 ms from the default store, 78 ms from GOP 16 / crf 18, 26 ms with
  `--transcode_tune fastdecode` at crf 15, for 0.78, 0.35 and 1.02 GB per video hour (an intra-only store costs
  relatively more bytes on film, where motion compensation saves more).

Frames equal a direct decode of the source + the same resize within the encoding error, which is stated by
measurement against mmaction2's rawframes (JPEG quality 95) of the same resized frames: on the toy set
(`tests/test_throughput.py`, short side 96 -> 64, textured backgrounds) mean absolute difference 2.41 grey levels
(99th percentile 10) for the default store, 2.70 (99th percentile 21) for JPEG q95. The store is a lossy copy, like
the rawframes; `crf 0` is lossless in YUV (0.34 levels from the RGB round trip).

Resumable: files are written as `NAME.partial.mp4` and renamed when complete; `manifest.json` (written atomically
after every finished video) records each source (path relative to the data folder, size, mtime), its transcoded file
and the settings. A rerun skips the videos whose manifest entry matches the source and settings and whose file
exists; a killed run leaves at most `workers` partial files, which are redone.
"""

from __future__ import annotations

import json
import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ...processing.cli.progress import progress_bar
from ...processing.clip_reader import AVA_FPS as TIMELINE_FPS

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 2
READABLE_MANIFEST_VERSIONS = (1, 2)  # version 1: GOP 16 stores without `tune`; still read, not extended
DEFAULT_SHORT_SIDE = 320
DEFAULT_GOP = 1
DEFAULT_TUNE = "none"
TUNES = ("none", "fastdecode")
DEFAULT_CRF = 14
PIXEL_FORMAT = "yuv444p"


def transcoded_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) of the transcoded frames: the processor's `rescaled_size` to `short_side` when the source is
    larger, else the source size; rounded down to even numbers (libx264 needs even sizes)."""
    from ...processing.video_processing_videomae_action_detection import rescaled_size

    if min(height, width) > short_side:
        height, width = rescaled_size(height, width, short_side)
    return height - height % 2, width - width % 2


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(H, W, 3)` uint8 -> `(size[0], size[1], 3)` uint8 with the video processor's evaluation resize (bilinear,
    no antialiasing, rounded to whole levels)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as tvF

    if frame.shape[:2] == tuple(size):
        return frame
    tensor = torch.from_numpy(frame).permute(2, 0, 1).to(torch.float32)
    resized = tvF.resize(tensor, list(size), interpolation=InterpolationMode.BILINEAR, antialias=False)
    return resized.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def timeline_frames(path: str | os.PathLike):
    """Yield the source's frames on the 30 fps timeline, in order: `(H, W, 3)` uint8 RGB of timeline frame 1, 2, ...
    (frame `k` is the last frame with pts <= file time `(k - 1) / 30`, as `read_clip` reads it: rotated as a player
    shows it), up to the last tick before the end of the stream. One sequential decode."""
    from av.video.reformatter import VideoReformatter

    from ...processing.clip_reader import _frame_ticks, displayed_rgb, open_video

    reformatter = VideoReformatter()

    container, stream = open_video(path)
    with container:
        time_base = stream.time_base
        origin = stream.start_time or 0
        tick = 0  # 0-based index of the next timeline frame

        def threshold(index: int) -> int:
            return origin + math.floor(Fraction(index, TIMELINE_FPS) / time_base)

        previous, previous_array = None, None
        for frame in container.decode(stream):
            if frame.pts is None:
                raise ValueError(f"{path}: a decoded video frame has no presentation timestamp")
            while threshold(tick) < frame.pts:
                if previous is None:  # before the first frame: the first frame is shown
                    previous, previous_array = frame, displayed_rgb(frame, reformatter)
                yield previous_array
                tick += 1
            previous, previous_array = frame, displayed_rgb(frame, reformatter)
        if previous is None:
            raise ValueError(f"{path}: the video stream holds no decodable frames")
        end = previous.pts + _frame_ticks(previous, stream)
        while threshold(tick) < end:
            yield previous_array
            tick += 1


def transcode_video(source: str | os.PathLike, destination: str | os.PathLike, *, short_side: int = DEFAULT_SHORT_SIDE,
                    gop: int = DEFAULT_GOP, crf: int = DEFAULT_CRF, tune: str = DEFAULT_TUNE,
                    preset: str = "veryfast") -> dict:
    """Write the transcoded copy of `source` (see the module docstring) to `destination` (via a `.partial` file
    renamed at the end). Returns `{"frames", "width", "height"}` of the output."""
    import av

    if gop < 1:
        raise ValueError(f"`gop` must be at least 1 (a keyframe every `gop` frames), got {gop}")
    if tune not in TUNES:
        raise ValueError(f"`tune` must be one of {TUNES}, got {tune!r}")

    source, destination = Path(source), Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.stem + ".partial" + destination.suffix)
    count, size = 0, None
    with av.open(str(partial), "w") as output:
        stream = None
        for frame in timeline_frames(source):
            if stream is None:
                size = transcoded_size(frame.shape[0], frame.shape[1], short_side)
                stream = output.add_stream("libx264", rate=TIMELINE_FPS)
                stream.height, stream.width = size
                stream.pix_fmt = PIXEL_FORMAT
                stream.gop_size = gop
                stream.max_b_frames = 0
                # One encoder thread per video: the parallelism is across videos (--transcode_workers).
                stream.options = {"crf": str(crf), "preset": preset, "bf": "0", "keyint_min": str(gop),
                                  "sc_threshold": "0", "threads": "1", **({} if tune == "none" else {"tune": tune})}
            image = av.VideoFrame.from_ndarray(resize_frame(frame, size), format="rgb24")
            image.pts = count
            for packet in stream.encode(image):
                output.mux(packet)
            count += 1
        if stream is None:
            raise ValueError(f"{source}: no frames to transcode")
        for packet in stream.encode():
            output.mux(packet)
    os.replace(partial, destination)
    return {"frames": count, "height": size[0], "width": size[1]}


def _settings(short_side: int, gop: int, crf: int, tune: str) -> dict:
    return {"version": MANIFEST_VERSION, "short_side": short_side, "gop": gop, "crf": crf, "tune": tune,
            "fps": TIMELINE_FPS, "codec": "libx264", "pixel_format": PIXEL_FORMAT, "b_frames": 0}


def _source_stamp(path: Path) -> dict:
    status = path.stat()
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns}


def read_manifest(store: str | os.PathLike) -> dict:
    """The store's manifest (`{"settings", "videos": {source relative path: {"file", "size", "mtime_ns", "frames",
    "width", "height"}}}`); FileNotFoundError naming it when the store has none."""
    path = Path(store) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no transcoded video store at {store}: {path} is missing "
                                "(make it with videomae-ava-dataset DATA --transcode DIR)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a valid manifest: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("settings", {}).get("version") not in READABLE_MANIFEST_VERSIONS:
        raise ValueError(f"{path}: not a transcoded store manifest of version "
                         + " or ".join(str(version) for version in READABLE_MANIFEST_VERSIONS))
    return manifest


def _write_manifest(store: Path, manifest: dict) -> None:
    partial = store / (MANIFEST_NAME + ".partial")
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, store / MANIFEST_NAME)


def _transcode_one(job: tuple) -> tuple:
    relative, source, destination, short_side, gop, crf, tune = job
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core per video
    try:
        info = transcode_video(source, destination, short_side=short_side, gop=gop, crf=crf, tune=tune)
    finally:
        torch.set_num_threads(threads)
    return relative, info


def transcode_videos(data_dir: str | os.PathLike, videos, store: str | os.PathLike, *,
                     short_side: int = DEFAULT_SHORT_SIDE, gop: int = DEFAULT_GOP, crf: int = DEFAULT_CRF,
                     tune: str = DEFAULT_TUNE, workers: int = 1, progress: bool = True) -> dict:
    """Transcode `videos` (paths under `data_dir`) into `store`, mirroring their paths relative to `data_dir`, in
    `workers` processes; resumable (see the module docstring). Returns the manifest."""
    data_dir, store = Path(os.path.abspath(data_dir)), Path(store)
    store.mkdir(parents=True, exist_ok=True)
    settings = _settings(short_side, gop, crf, tune)
    try:
        manifest = read_manifest(store)
    except FileNotFoundError:
        manifest = {"settings": settings, "videos": {}}
    if manifest["settings"] != settings:
        raise ValueError(f"{store} holds videos transcoded with {manifest['settings']}, not {settings}: "
                         "use another folder or the same settings")
    jobs = []
    for video in sorted({Path(os.path.abspath(v)) for v in videos}):
        try:
            relative = video.relative_to(data_dir).as_posix()
        except ValueError as error:
            raise ValueError(f"video {video} is not inside the data folder {data_dir}") from error
        destination = store / Path(relative).with_suffix(".mp4")
        entry = manifest["videos"].get(relative)
        if entry is not None and entry.get("size") == _source_stamp(video)["size"] \
                and entry.get("mtime_ns") == _source_stamp(video)["mtime_ns"] and destination.is_file():
            continue
        jobs.append((relative, str(video), str(destination), short_side, gop, crf, tune))
    logger.info("transcoding %d videos into %s (%d already done)", len(jobs), store, len(manifest["videos"]))
    bar = progress_bar(total=len(jobs), unit="video", desc=f"transcoding into {store.name}",
                       enabled=progress and bool(jobs))

    def finished(relative: str, info: dict) -> None:
        source = data_dir / relative
        manifest["videos"][relative] = {"file": Path(relative).with_suffix(".mp4").as_posix(),
                                        **_source_stamp(source), **info}
        _write_manifest(store, manifest)
        bar.update(1)

    try:
        if workers <= 1:
            for job in jobs:
                finished(*_transcode_one(job))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for relative, info in pool.map(_transcode_one, jobs):
                    finished(relative, info)
    finally:
        bar.close()
    _write_manifest(store, manifest)
    return manifest


def transcoded_paths(data_dir: str | os.PathLike, store: str | os.PathLike) -> dict[str, str]:
    """{absolute source path: absolute transcoded path} of every video in the store's manifest; an error naming the
    video when its transcoded file is missing or its source changed since it was transcoded."""
    data_dir, store = Path(os.path.abspath(data_dir)), Path(os.path.abspath(store))
    manifest = read_manifest(store)
    paths = {}
    for relative, entry in manifest["videos"].items():
        source, transcoded = data_dir / relative, store / entry["file"]
        if not transcoded.is_file():
            raise FileNotFoundError(f"{store / MANIFEST_NAME}: transcoded file {transcoded} of {relative} is missing")
        if source.is_file() and _source_stamp(source)["size"] != entry["size"]:
            raise ValueError(f"{source} changed since it was transcoded into {transcoded}: transcode again")
        paths[str(source)] = str(transcoded)
    return paths


__all__ = ["read_manifest", "timeline_frames", "transcode_video", "transcode_videos", "transcoded_paths",
           "transcoded_size"]
