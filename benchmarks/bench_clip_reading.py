"""Clips per second for reading AVA clips and preparing them for the model (not a test).

Generates (once, cached) a 15-minute 30 fps 1280x720 H.264 video laid out like one of mmaction2's AVA cuts (the
file starts at timeline second 900), then times, at random keyframes in 902..1798:

- `read_clip` on the video file (seek to the keyframe before the clip, decode forward),
- `read_clip` on a frame folder (mmaction2's rawframes layout; only the JPEGs the sampled clips need are written),
- decoding the video from its start up to the clip, as a reader without seeking does (e.g. transformers'
  `read_video_pyav`), checked to give the same frames,
- the evaluation transform of `VideoMAEActionDetectionVideoProcessor` (short side 256: 455x256) and its training
  transform (random rescale 256-320, crop 256, flip),

and prints a table. The synthetic video is simpler to decode than real footage (flat gradients), so absolute rates
are optimistic; the ratio between seeking and decoding from the start is what it shows.

    python benchmarks/bench_clip_reading.py [--clips 20] [--from-start-clips 3] [--cache-dir DIR]
"""

import argparse
import math
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torchvision.io import encode_jpeg

from videomae_action_detection.processing import ava_clip_frame_numbers, ava_video_processor, read_clip, read_frames
from videomae_action_detection.processing.synthetic_video import write_synthetic_video

TIMESTAMP_START = 900  # the cut starts at 15:00 of the movie, like mmaction2's AVA videos
FPS = 30


def cached_video(cache_dir: Path, minutes: float, width: int, height: int, gop: int) -> Path:
    path = cache_dir / f"ava_like_{minutes:g}min_{width}x{height}_30fps_gop{gop}.mp4"
    if not path.exists():
        print(f"generating {path} ({int(minutes * 60 * FPS)} frames, libx264 superfast, GOP {gop}, 3 B-frames) ...", flush=True)
        start = time.perf_counter()
        partial = path.with_suffix(".partial.mp4")
        write_synthetic_video(partial, int(minutes * 60 * FPS), width=width, height=height, fps=FPS, gop=gop, b_frames=3, preset="superfast")
        partial.rename(path)
        print(f"  {time.perf_counter() - start:.0f} s, {path.stat().st_size / 1e6:.0f} MB", flush=True)
    return path


def write_rawframes(folder: Path, video: Path, numbers) -> None:
    """The JPEGs (quality 95) of the given timeline frames, taken from the video, named img_{:05d}.jpg."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = sorted({int(k) for k in numbers if not (folder / f"img_{int(k):05d}.jpg").exists()})
    for start in range(0, len(missing), 64):
        chunk = missing[start : start + 64]
        frames, _ = read_frames(video, chunk, timestamp_start=TIMESTAMP_START)
        for k, frame in zip(chunk, frames):
            data = encode_jpeg(torch.from_numpy(frame).permute(2, 0, 1).contiguous(), quality=95)
            (folder / f"img_{k:05d}.jpg").write_bytes(data.numpy().tobytes())


def decode_from_start(path: Path, numbers) -> np.ndarray:
    """The clip's frames by decoding every frame from the start of the file (no seeking), same frame rule."""
    import av

    wanted = sorted(set(int(k) for k in numbers))
    picked = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        origin = stream.start_time or 0
        thresholds = [(origin + math.floor(Fraction(k - 1, FPS) / stream.time_base), k) for k in wanted]
        index, previous = 0, None
        for frame in container.decode(stream):
            while index < len(thresholds) and thresholds[index][0] < frame.pts:
                picked[thresholds[index][1]] = previous.to_ndarray(format="rgb24")
                index += 1
            if index == len(thresholds):
                break
            previous = frame
        for _, k in thresholds[index:]:
            picked[k] = previous.to_ndarray(format="rgb24")
    return np.stack([picked[int(k)] for k in numbers])


def timed(function, repeats):
    times, result = [], None
    for argument in repeats:
        start = time.perf_counter()
        result = function(argument)
        times.append(time.perf_counter() - start)
    return np.array(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=20, help="random keyframes per seeking measurement")
    parser.add_argument("--from-start-clips", type=int, default=3, help="keyframes for decoding from the start (slow)")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--gop", type=int, default=250, help="keyframe interval (x264's default is 250)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "videomae_action_detection_bench")
    args = parser.parse_args()

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    video = cached_video(args.cache_dir, args.minutes, args.width, args.height, args.gop)
    rng = np.random.default_rng(args.seed)
    last_keyframe = TIMESTAMP_START + int(args.minutes * 60) - 2
    keyframes = rng.integers(TIMESTAMP_START + 2, last_keyframe + 1, size=args.clips).tolist()
    from_start = sorted(rng.choice(keyframes, size=min(args.from_start_clips, len(keyframes)), replace=False).tolist())
    processor = ava_video_processor()
    boxes = [[0.1, 0.2, 0.4, 0.9], [0.5, 0.1, 0.8, 1.0]]
    print(f"torch threads {torch.get_num_threads()}, CPU cores {os.cpu_count()}, keyframes {keyframes}")

    rows = []

    def add(name, seconds, note=""):
        rows.append((name, len(seconds), float(np.mean(seconds)), note))

    read_video = lambda ts: read_clip(video, ts, timestamp_start=TIMESTAMP_START)[0]
    read_clip(video, keyframes[0], timestamp_start=TIMESTAMP_START)  # warm up (file cache, libraries)
    seconds, _ = timed(read_video, keyframes)
    add("read_clip, video file (seek)", seconds)

    clips = {ts: read_video(ts) for ts in keyframes}
    evaluation = lambda ts: processor(clips[ts], boxes=boxes, return_tensors="pt")
    seconds_eval, out = timed(evaluation, keyframes)
    add("processor, evaluation", seconds_eval, f"-> {tuple(out['pixel_values'].shape)}")
    generator = np.random.default_rng(0)
    training = lambda ts: processor(clips[ts], boxes=boxes, do_train_augmentation=True, generator=generator, return_tensors="pt")
    seconds_train, out = timed(training, keyframes)
    add("processor, training", seconds_train, f"-> {tuple(out['pixel_values'].shape)}")

    both = lambda ts: processor(read_video(ts), boxes=boxes, return_tensors="pt")
    seconds, _ = timed(both, keyframes)
    add("read_clip (video) + processor (eval)", seconds)

    folder = args.cache_dir / f"rawframes_{video.stem}"
    write_rawframes(folder, video, np.concatenate([ava_clip_frame_numbers(ts, timestamp_start=TIMESTAMP_START) for ts in keyframes]))
    read_folder = lambda ts: read_clip(folder, ts, timestamp_start=TIMESTAMP_START)[0]
    seconds, _ = timed(read_folder, keyframes)
    add("read_clip, frame folder (JPEG q95)", seconds)
    seconds, _ = timed(lambda ts: processor(read_folder(ts), boxes=boxes, return_tensors="pt"), keyframes)
    add("read_clip (folder) + processor (eval)", seconds)

    def start_decode(ts):
        frames = decode_from_start(video, ava_clip_frame_numbers(ts, timestamp_start=TIMESTAMP_START))
        assert np.array_equal(frames, clips[ts]), f"decoding from the start differs from read_clip at {ts}"
        return frames

    seconds, _ = timed(start_decode, from_start)
    add("decode from the start of the file", seconds, f"keyframes {from_start}, same frames as read_clip")
    seconds, _ = timed(lambda ts: processor(start_decode(ts), boxes=boxes, return_tensors="pt"), from_start)
    add("decode from start + processor (eval)", seconds)

    print(f"\nvideo: {video.name} ({args.width}x{args.height}, {args.minutes:g} min, 30 fps, GOP {args.gop}, B-frames)")
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    print(f"| {'what':40s} | clips | ms/clip | clips/s | note")
    print(f"|{'-' * 42}|------:|--------:|--------:|------")
    for name, count, mean, note in rows:
        print(f"| {name:40s} | {count:5d} | {mean * 1000:7.1f} | {1 / mean:7.2f} | {note}")


if __name__ == "__main__":
    main()
