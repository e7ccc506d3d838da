"""A small AVA-format data set whose actions are learnable from motion and appearance: the embedded default of the
training script and of the end-to-end tests.

`generate_toy_dataset(output_dir, seed=0)` writes, in the official AVA layout and formats:

    output_dir/
      annotations/
        ava_{train,val}_v2.2.csv                       video_id,timestamp,x1,y1,x2,y2,action_id,person_id
        ava_{train,val}_excluded_timestamps_v2.2.csv    video_id,timestamp (keyframes left out of the annotation)
        ava_action_list_v2.2.pbtxt                      the 80 AVA actions (`label { name label_id label_type }`)
        ava_action_list_v2.2_for_activitynet_2019.pbtxt the evaluated subset: the toy actions (`item { name id }`)
        ava_dense_proposals_{train,val}.FAIR.recall_93.9.pkl  {"video_id,%04d": (N, 5) float64 x1 y1 x2 y2 score}
      videos/<video_id>.mp4                             H.264, 30 fps, AVA's 15-minute cut layout (starts at 900 s)
      toy_dataset.json                                  the settings and counts it was made with

and, with `style="ava_kinetics"`, also a Kinetics part as AVA-Kinetics ships it (the builder's `ava_kinetics`
config): clips `videos/{youtube_id}_{start:06d}_{end:06d}.mp4` that start at second `start` of their YouTube video,
`annotations/kinetics_{train,val}_v1.0.csv` (bare YouTube id, keyframe second of the YouTube video) and
`annotations/kinetics_proposals_{train,val}.pkl` (keyed `"youtube_id,%04d"`), as many clips as AVA videos.

The scene: a static textured background, up to `max_people` people (a coloured body with a skin-coloured head and
arm) each in their own horizontal band, each doing one pose action and up to two others for the whole video:

- pose (exactly one; AVA's pose actions are exclusive): stand (12, still), walk (14, moves ~0.6 px per frame), run/jog
  (10, ~2 px per frame), jump/leap (7, vertical oscillation, 0.8 s period), lie/sleep (8, the figure lies flat);
- carry/hold an object (17): a small yellow object in the hand (appearance);
- hand wave (69): the arm swings up and down (0.67 s period; motion) instead of hanging still.

Stand, walk, run and jump look alike in a single frame: telling them apart needs the motion across the clip (a
stride-8 x 8-frame or stride-4 x 16-frame window spans 64 frames, 2.1 s). Ground-truth boxes are the person boxes at
the keyframe second. Proposals are noisy copies of the person boxes (scores mostly >= 0.9, a few just below),
background false positives with lower scores, occasional duplicates, and some keyframes have no proposals at all.

Everything is a deterministic function of the seed and the settings (videos are encoded single-threaded).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import string
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ...modeling.ava_labels import AVA_ACTION_NAMES, AVA_ACTION_TYPES, AVA_ACTIONS
from ...processing.cli.progress import progress_bar, set_quiet
from ...processing.clip_reader import AVA_FPS, AVA_TIMESTAMP_START
from ...processing.formats.detections import keyframe_key

TOY_DATASET_VERSION = 1

STAND, WALK, RUN, JUMP, LIE = 12, 14, 10, 7, 8
CARRY, WAVE = 17, 69
POSE_ACTIONS = (STAND, WALK, RUN, JUMP, LIE)
POSE_WEIGHTS = (0.25, 0.25, 0.2, 0.15, 0.15)
TOY_ACTION_IDS = tuple(sorted(POSE_ACTIONS + (CARRY, WAVE)))
STYLES = ("ava", "ava_kinetics")

_SPEEDS = {STAND: 0.0, WALK: 0.6, RUN: 2.0, JUMP: 0.0, LIE: 0.0}  # pixels per frame
_JUMP_PERIOD, _JUMP_HEIGHT = 24, 8  # frames, pixels
_WAVE_PERIOD = 20
_YOUTUBE_ID_CHARACTERS = string.ascii_letters + string.digits + "-_"
_SKIN = (233, 190, 150)
_OBJECT = (250, 230, 40)
_BODY_COLOURS = (
    (220, 40, 40), (40, 90, 230), (30, 170, 60), (200, 60, 200), (240, 130, 20), (20, 190, 200), (140, 70, 20),
    (110, 40, 190),
)


@dataclass(frozen=True)
class ToyDatasetSettings:
    """What `generate_toy_dataset` makes (all sizes in pixels, durations in seconds).

    Each video has `keyframes_per_video` annotated keyframes, one per second from 2 s after its start; the video is
    2 s longer than its last keyframe so that every 64-frame window lies inside it.
    """

    seed: int = 0
    style: str = "ava"
    train_videos: int = 300
    val_videos: int = 40
    keyframes_per_video: int = 2
    width: int = 160
    height: int = 144
    min_people: int = 2
    max_people: int = 3
    carry_probability: float = 0.35
    wave_probability: float = 0.35
    no_proposal_rate: float = 0.02
    low_score_rate: float = 0.04
    duplicate_rate: float = 0.05
    false_positive_rate: float = 0.5
    box_noise: float = 0.04
    crf: int = 20
    version: int = field(default=TOY_DATASET_VERSION)

    def check(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")
        if self.width % 2 or self.height % 2 or self.width < 64 or self.height < 48:
            raise ValueError(f"width and height must be even and at least 64 x 48, got {self.width} x {self.height}")
        if not 1 <= self.min_people <= self.max_people:
            raise ValueError(f"need 1 <= min_people <= max_people, got {self.min_people}, {self.max_people}")
        if self.height // self.max_people < 48:
            raise ValueError(f"max_people={self.max_people} people need a height of at least {48 * self.max_people}")
        if self.train_videos < 1 or self.val_videos < 1 or self.keyframes_per_video < 1:
            raise ValueError("train_videos, val_videos and keyframes_per_video must be >= 1")


@dataclass
class _Person:
    person_id: int
    actions: tuple[int, ...]
    colour: tuple[int, int, int]
    band_top: int
    band_height: int
    x0: float
    direction: float
    phase: float

    @property
    def pose(self) -> int:
        return next(action for action in self.actions if action in POSE_ACTIONS)

    def size(self) -> tuple[int, int]:
        """(width, height) of the person box."""
        return (34, 14) if self.pose == LIE else (18, 40)  # room above the head for a raised arm

    def box_at(self, frame_index: int, width: int) -> tuple[float, float, float, float]:
        """Pixel box x1, y1, x2, y2 (exclusive ends) at 0-based video frame `frame_index`."""
        box_width, box_height = self.size()
        travel = width - box_width
        position = self.x0 + self.direction * _SPEEDS[self.pose] * frame_index
        position = position % (2 * travel)  # bounce between the borders
        x = position if position <= travel else 2 * travel - position
        bottom = self.band_top + self.band_height - 2
        if self.pose == JUMP:
            lift = _JUMP_HEIGHT * abs(np.sin(np.pi * frame_index / _JUMP_PERIOD + self.phase))
            bottom -= lift
        return x, bottom - box_height, x + box_width, bottom

    def draw(self, frame: np.ndarray, frame_index: int) -> None:
        height, width = frame.shape[:2]
        x1, y1, x2, y2 = (int(round(v)) for v in self.box_at(frame_index, width))
        if self.pose == LIE:
            _fill(frame, x1 + 8, y1 + 3, x2, y2, self.colour)  # body, flat
            _fill(frame, x1, y1 + 3, x1 + 8, y1 + 11, _SKIN)  # head
            if CARRY in self.actions:
                _fill(frame, x1 + 16, y1, x1 + 23, y1 + 4, _OBJECT)
            return
        _fill(frame, x1 + 5, y1 + 6, x1 + 13, y1 + 14, _SKIN)  # head
        _fill(frame, x1 + 3, y1 + 15, x1 + 15, y2, self.colour)  # body
        if WAVE in self.actions:
            swing = (1 - np.cos(2 * np.pi * frame_index / _WAVE_PERIOD + self.phase)) / 2  # 0 down .. 1 up
            arm_top = int(round(y1 + 22 - 22 * swing))  # from hanging down to raised above the head
        else:
            arm_top = y1 + 22
        _fill(frame, x1 + 13, arm_top, x1 + 18, arm_top + 12, _SKIN)  # arm on the right
        if CARRY in self.actions:
            _fill(frame, x1, y1 + 20, x1 + 7, y1 + 27, _OBJECT)  # object in the left hand


def _fill(frame: np.ndarray, x1: int, y1: int, x2: int, y2: int, colour) -> None:
    height, width = frame.shape[:2]
    x1, x2 = max(0, x1), min(width, x2)
    y1, y2 = max(0, y1), min(height, y2)
    if x2 > x1 and y2 > y1:
        frame[y1:y2, x1:x2] = colour


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A static muted texture: a low-frequency colour field plus fine grain."""
    coarse = rng.uniform(60, 150, size=(height // 16 + 2, width // 16 + 2, 3))
    rows = np.linspace(0, coarse.shape[0] - 1.001, height)
    cols = np.linspace(0, coarse.shape[1] - 1.001, width)
    r0, c0 = rows.astype(int), cols.astype(int)
    fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
    smooth = (coarse[r0][:, c0] * (1 - fr) * (1 - fc) + coarse[r0 + 1][:, c0] * fr * (1 - fc)
              + coarse[r0][:, c0 + 1] * (1 - fr) * fc + coarse[r0 + 1][:, c0 + 1] * fr * fc)
    grain = rng.normal(0, 8, size=(height, width, 1))
    grey = smooth.mean(axis=2, keepdims=True)
    muted = 0.6 * grey + 0.4 * smooth  # desaturated, so people stand out by colour
    return np.clip(muted + grain, 0, 255).astype(np.uint8)


def _people(rng: np.random.Generator, settings: ToyDatasetSettings) -> list[_Person]:
    count = int(rng.integers(settings.min_people, settings.max_people + 1))
    band_height = settings.height // count
    colours = rng.permutation(len(_BODY_COLOURS))[:count]
    people = []
    for index in range(count):
        pose = int(rng.choice(POSE_ACTIONS, p=POSE_WEIGHTS))
        actions = [pose]
        if rng.random() < settings.carry_probability:
            actions.append(CARRY)
        if pose != LIE and rng.random() < settings.wave_probability:
            actions.append(WAVE)
        people.append(
            _Person(
                person_id=index,
                actions=tuple(sorted(actions)),
                colour=_BODY_COLOURS[int(colours[index])],
                band_top=index * band_height,
                band_height=band_height,
                x0=float(rng.uniform(0, settings.width - 34)),
                direction=float(rng.choice((-1.0, 1.0))),
                phase=float(rng.uniform(0, 2 * np.pi)),
            )
        )
    return people


def _youtube_id(rng: np.random.Generator) -> str:
    return "".join(_YOUTUBE_ID_CHARACTERS[i] for i in rng.integers(0, len(_YOUTUBE_ID_CHARACTERS), size=11))


def _rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (3H/2, W) planar YUV 4:2:0, BT.601 limited range (FFmpeg's default for rgb24 -> yuv420p).

    Converted here rather than by FFmpeg's swscale, whose output was seen to vary between runs on the same input.
    """
    rgb = frame.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 0.256788 * r + 0.504129 * g + 0.097906 * b
    u = 128 - 0.148223 * r - 0.290993 * g + 0.439216 * b
    v = 128 + 0.439216 * r - 0.367788 * g - 0.071427 * b
    height, width = y.shape

    def subsample(plane):
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [y, subsample(u).reshape(height // 4, width), subsample(v).reshape(height // 4, width)]
    return np.clip(np.rint(np.concatenate(planes)), 0, 255).astype(np.uint8)


def _write_video(path: Path, frames: np.ndarray, crf: int) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(AVA_FPS))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.gop_size = AVA_FPS
        stream.options = {"preset": "veryfast", "crf": str(crf), "bf": "2", "keyint_min": str(AVA_FPS),
                          "sc_threshold": "0", "threads": "1"}
        stream.thread_count = 1
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(_rgb_to_yuv420p(frame), format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _normalised(box, width: int, height: int) -> np.ndarray:
    x1, y1, x2, y2 = box
    return np.clip(np.array([x1 / width, y1 / height, x2 / width, y2 / height], dtype=np.float64), 0.0, 1.0)


def _jitter(rng: np.random.Generator, box: np.ndarray, scale: float) -> np.ndarray:
    """A detector-like copy of a normalised box: each side moved by N(0, scale x box size)."""
    size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
    moved = box + rng.normal(0, scale, size=4) * size
    moved = np.clip(moved, 0.0, 1.0)
    return np.array([min(moved[0], moved[2]), min(moved[1], moved[3]), max(moved[0], moved[2]),
                     max(moved[1], moved[3])])


def _proposals(rng: np.random.Generator, boxes: list[np.ndarray], settings: ToyDatasetSettings) -> np.ndarray:
    rows = []
    for box in boxes:
        low = rng.random() < settings.low_score_rate
        score = rng.uniform(0.8, 0.9) if low else min(1.0, 0.9 + abs(rng.normal(0, 0.05)))
        rows.append([*_jitter(rng, box, settings.box_noise), score])
        if rng.random() < settings.duplicate_rate:  # a looser second detection of the same person
            rows.append([*_jitter(rng, box, 3 * settings.box_noise), rng.uniform(0.9, 0.95)])
    if rng.random() < settings.false_positive_rate:  # a background detection
        w, h = rng.uniform(0.08, 0.2), rng.uniform(0.15, 0.3)
        x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        rows.append([x, y, x + w, y + h, rng.uniform(0.1, 0.85)])
    order = rng.permutation(len(rows))  # detector output order, not sorted by score
    return np.array([rows[i] for i in order], dtype=np.float64).reshape(-1, 5)


def _label_map_full() -> str:
    blocks = [f'label {{\n  name: "{name}"\n  label_id: {action_id}\n  label_type: {label_type}\n}}\n'
              for action_id, name, label_type in AVA_ACTIONS]
    return "".join(blocks)


def _label_map_evaluated() -> str:
    return "".join(f'item {{\n  name: "{AVA_ACTION_NAMES[i]}"\n  id: {i}\n}}\n' for i in TOY_ACTION_IDS)


def _split(rng: np.random.Generator, split: str, num_videos: int, settings: ToyDatasetSettings, root: Path,
           used_ids: set, kinetics: bool = False, bar=None) -> dict:
    """Write one split's videos and annotation files: AVA movie cuts, or (`kinetics`) the Kinetics part; `bar` (a
    progress bar) advances by one per video written."""
    csv_lines, excluded_lines, proposals = [], [], {}
    counts = {"videos": num_videos, "keyframes": 0, "boxes": 0, "keyframes_without_proposals": 0}
    duration = settings.keyframes_per_video + 3  # seconds: 2 s before the first keyframe, 1 s + 1 s after the last
    for _ in range(num_videos):
        video_rng = np.random.default_rng(rng.integers(0, 2**63))
        youtube_id = _youtube_id(video_rng)
        while youtube_id in used_ids:
            youtube_id = _youtube_id(video_rng)
        used_ids.add(youtube_id)
        if not kinetics:
            start = AVA_TIMESTAMP_START
            file_name = f"{youtube_id}.mp4"
        else:
            start = int(video_rng.integers(0, 290))
            file_name = f"{youtube_id}_{start:06d}_{start + duration:06d}.mp4"
        people = _people(video_rng, settings)
        background = _background(video_rng, settings.width, settings.height)
        num_frames = duration * AVA_FPS
        frames = np.empty((num_frames, settings.height, settings.width, 3), dtype=np.uint8)
        for index in range(num_frames):
            frame = background.copy()
            for person in people:
                person.draw(frame, index)
            noise = video_rng.integers(-4, 5, size=frame.shape, dtype=np.int16)
            frames[index] = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        _write_video(root / "videos" / file_name, frames, settings.crf)
        if bar is not None:
            bar.update(1)

        keyframes = [start + 2 + k for k in range(settings.keyframes_per_video)]
        for second in keyframes:
            frame_index = (second - start) * AVA_FPS
            boxes = [_normalised(p.box_at(frame_index, settings.width), settings.width, settings.height)
                     for p in people]
            for person, box in zip(people, boxes):
                for action_id in person.actions:
                    csv_lines.append(f"{youtube_id},{second if kinetics else f'{second:04d}'},{box[0]:.3f},{box[1]:.3f},{box[2]:.3f},"
                                     f"{box[3]:.3f},{action_id},{person.person_id}")
            key = keyframe_key(youtube_id, second)
            if video_rng.random() >= settings.no_proposal_rate:
                proposals[key] = _proposals(video_rng, boxes, settings)
            else:
                counts["keyframes_without_proposals"] += 1
            counts["keyframes"] += 1
            counts["boxes"] += len(boxes)
        # The second after the last keyframe is a keyframe AVA left out of the annotation (excluded timestamp).
        excluded_lines.append(keyframe_key(youtube_id, keyframes[-1] + 1))

    annotations = root / "annotations"
    if kinetics:
        (annotations / f"kinetics_{split}_v1.0.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
        with open(annotations / f"kinetics_proposals_{split}.pkl", "wb") as handle:
            pickle.dump(proposals, handle, protocol=4)
        return counts
    (annotations / f"ava_{split}_v2.2.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    (annotations / f"ava_{split}_excluded_timestamps_v2.2.csv").write_text("\n".join(excluded_lines) + "\n",
                                                                           encoding="utf-8")
    with open(annotations / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl", "wb") as handle:
        pickle.dump(proposals, handle, protocol=4)
    return counts


def generate_toy_dataset(output_dir: str | os.PathLike, *, seed: int = 0, overwrite: bool = False,
                         progress: bool = True, **settings) -> Path:
    """Write the toy data set into `output_dir` (see the module docstring) and return its path.

    Args:
        output_dir: the data folder to create (`annotations/`, `videos/`). An existing toy set made with the same
            settings is reused when every file its manifest lists is there with its recorded size and every video
            opens; a toy set made with these settings that fails that check is rebuilt. Any other existing,
            non-empty folder is an error unless `overwrite`.
        seed: everything (ids, people, actions, textures, noise, proposals) follows from it.
        progress: a progress bar over the videos written (`processing.progress`: on a terminal, unless quiet).
        settings: fields of `ToyDatasetSettings` (e.g. `train_videos=8`, `val_videos=4`, `style="ava_kinetics"`).

    The new set is built in a staging folder beside `output_dir` and swapped in by renames only when complete, so the
    old set stays whole until then (an interrupted or failed run leaves it as it was). Staging folders left by
    killed runs (their process is gone) are removed first.
    """
    config = ToyDatasetSettings(seed=seed, **settings)
    config.check()
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise FileExistsError(f"{output_dir} exists and is not a folder")
    if output_dir.exists() and any(output_dir.iterdir()):
        existing = _read_manifest(output_dir / "toy_dataset.json")
        same_settings = existing is not None and existing.get("settings") == asdict(config)
        if same_settings and not overwrite and _verify_files(output_dir, existing) is None:
            return output_dir
        if not same_settings and not overwrite:
            raise FileExistsError(
                f"{output_dir} exists and is not a toy data set made with these settings; choose another folder or "
                "pass overwrite=True (--overwrite)"
            )
    staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(output_dir)}{os.getpid()}-", dir=output_dir.parent))
    try:
        _build(staging, config, seed, progress)
        _swap_in(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output_dir


def _staging_prefix(output_dir: Path) -> str:
    return f".{output_dir.name}.staging-"


def _remove_stale_staging(output_dir: Path) -> None:
    """Remove staging / swap folders of `output_dir` whose run (the pid in their name) is no longer alive."""
    for prefix in (_staging_prefix(output_dir), f".{output_dir.name}.old-"):
        for path in output_dir.parent.glob(f"{prefix}*"):
            pid_text = path.name[len(prefix):].partition("-")[0]
            if pid_text.isdigit() and not _process_alive(int(pid_text)):
                shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_manifest(path: Path) -> dict | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _file_record(root: Path) -> dict[str, dict]:
    """What a complete set holds: `files` {relative path: bytes} for the annotation files and `videos` {relative
    path: frames} (libx264 output varies by a few bytes between runs; the frame count does not)."""
    from ...processing.clip_reader import open_video

    files, videos = {}, {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == "toy_dataset.json":
            continue
        name = path.relative_to(root).as_posix()
        if name.startswith("videos/"):
            container, stream = open_video(path)
            with container:
                videos[name] = stream.frames
        else:
            files[name] = path.stat().st_size
    return {"files": files, "videos": videos}


def _verify_files(root: Path, manifest: dict) -> str | None:
    """None when every file the manifest lists is there with its size and every video opens with its frame count,
    else what is wrong."""
    from ...processing.clip_reader import open_video

    files, videos = manifest.get("files"), manifest.get("videos")
    if not isinstance(files, dict) or not isinstance(videos, dict) or not files or not videos:
        return "the manifest lists no files (made by an older version)"
    for name, size in files.items():
        path = root / name
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != size:
            return f"{path} has {path.stat().st_size} bytes, the manifest says {size}"
    for name, frames in videos.items():
        try:
            container, stream = open_video(root / name)
            with container:
                if stream.frames != frames:
                    return f"{root / name} has {stream.frames} frames, the manifest says {frames}"
        except (ValueError, OSError) as error:
            return str(error)
    return None


def _swap_in(staging: Path, output_dir: Path) -> None:
    """Make the complete `staging` folder `output_dir`: the old folder is renamed away first, removed last."""
    old = None
    if output_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.old-{os.getpid()}-", dir=output_dir.parent))
        os.rmdir(old)
        os.replace(output_dir, old)
    try:
        os.replace(staging, output_dir)
    except BaseException:
        if old is not None:
            os.replace(old, output_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _build(staging: Path, config: ToyDatasetSettings, seed: int, progress: bool = True) -> None:
    """Write the whole set (videos, CSVs, label maps, proposals, manifest with file sizes) into `staging`, with a
    progress bar over the videos (`processing.progress`: on a terminal, unless quiet) when `progress`."""
    (staging / "annotations").mkdir()
    (staging / "videos").mkdir()
    (staging / "annotations" / "ava_action_list_v2.2.pbtxt").write_text(_label_map_full(), encoding="utf-8")
    (staging / "annotations" / "ava_action_list_v2.2_for_activitynet_2019.pbtxt").write_text(
        _label_map_evaluated(), encoding="utf-8")
    rng = np.random.default_rng(seed)
    train_rng, val_rng = (np.random.default_rng(s) for s in rng.integers(0, 2**63, size=2))
    used_ids: set = set()
    parts = 2 if config.style == "ava_kinetics" else 1
    with progress_bar(desc="toy videos", total=parts * (config.train_videos + config.val_videos), unit="video",
                      enabled=progress) as bar:
        counts = {
            "train": _split(train_rng, "train", config.train_videos, config, staging, used_ids, bar=bar),
            "val": _split(val_rng, "val", config.val_videos, config, staging, used_ids, bar=bar),
        }
        if config.style == "ava_kinetics":
            counts["kinetics_train"] = _split(train_rng, "train", config.train_videos, config, staging, used_ids,
                                              True, bar=bar)
            counts["kinetics_val"] = _split(val_rng, "val", config.val_videos, config, staging, used_ids, True,
                                            bar=bar)
    manifest = {
        "description": "toy AVA-format data set of videomae_action_detection (training/data/toy_dataset.py)",
        "settings": asdict(config),
        "actions": {action_id: AVA_ACTION_NAMES[action_id] for action_id in TOY_ACTION_IDS},
        "action_groups": {action_id: AVA_ACTION_TYPES[action_id] for action_id in TOY_ACTION_IDS},
        "counts": counts,
        **_file_record(staging),
    }
    (staging / "toy_dataset.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def default_toy_dataset_dir(seed: int = 0) -> Path:
    """Where the training script keeps the toy set: `$VIDEOMAE_TOY_DATA_DIR` or
    `~/.cache/videomae_action_detection/toy-ava/v<version>-seed<seed>` (under `$XDG_CACHE_HOME` when set)."""
    if os.environ.get("VIDEOMAE_TOY_DATA_DIR"):
        return Path(os.environ["VIDEOMAE_TOY_DATA_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "videomae_action_detection" / "toy-ava" / f"v{TOY_DATASET_VERSION}-seed{seed}"


_SETTING_HELP = {
    "train_videos": "videos in the train split",
    "val_videos": "videos in the val split",
    "keyframes_per_video": "annotated keyframes (seconds) per video",
    "width": "frame width in pixels (even, >= 64)",
    "height": "frame height in pixels (even, >= 48)",
    "min_people": "fewest people per video",
    "max_people": "most people per video",
}


def build_parser() -> argparse.ArgumentParser:
    from ...processing.cli.conventions import HelpFormatter, add_log_level

    defaults = ToyDatasetSettings()
    parser = argparse.ArgumentParser(
        prog="videomae-ava-toy-dataset",
        description="Write a small AVA-format data set (videos, CSVs, label maps, proposals) whose actions are "
        "learnable from motion and appearance.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("output_dir", nargs="?", default=None,
                        help=f"data folder to create; when left out, {default_toy_dataset_dir()}")
    parser.add_argument("--seed", type=int, default=0, help="everything in the set follows from it")
    parser.add_argument("--style", choices=STYLES, default=defaults.style,
                        help="AVA movie cuts starting at 900 s; ava_kinetics adds a Kinetics part (clips "
                        "{id}_{start:06d}_{end:06d}, kinetics_{train,val}_v1.0.csv, kinetics_proposals_*.pkl)")
    for name, text in _SETTING_HELP.items():
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name), help=text)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing folder (the new set is built aside and swapped in when complete)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (it only shows on a terminal anyway)")
    add_log_level(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `videomae-ava-toy-dataset OUTPUT_DIR [--seed 0] [--train_videos 40] ...`."""
    from ...processing.cli.conventions import run_command

    return run_command(_run, build_parser().parse_args(argv))


def _run(args) -> int:
    if args.quiet:
        set_quiet()
    settings = {name: getattr(args, name) for name in ("style", *_SETTING_HELP)}
    output_dir = args.output_dir or default_toy_dataset_dir(args.seed)
    path = generate_toy_dataset(output_dir, seed=args.seed, overwrite=args.overwrite, **settings)
    manifest = json.loads((path / "toy_dataset.json").read_text(encoding="utf-8"))
    for split, counts in manifest["counts"].items():
        print(f"{split}: {counts['videos']} videos, {counts['keyframes']} keyframes, {counts['boxes']} person boxes")
    print(f"toy data set in {path}")
    return 0


__all__ = ["STYLES", "TOY_ACTION_IDS", "ToyDatasetSettings", "default_toy_dataset_dir", "generate_toy_dataset", "main"]


if __name__ == "__main__":
    sys.exit(main())
