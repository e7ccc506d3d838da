"""Keyframes per second of clip reading in the inference loop: one `read_clip` per keyframe (before) against one
`read_clips` per batch (after: the video opened once, the batch's overlapping clips decoded in one forward pass).

    python benchmarks/bench_batched_decode.py [--minutes 1] [--gops 32 250] [--batch 8] [--batches 4]

Generates (cached) a 1280x720 30 fps H.264 video per GOP length (3 B-frames), then reads `--batches` batches of
`--batch` consecutive keyframes 1 s apart (as `videomae-action-detection` does with `--batch_size`) at random
positions, 16 frames 4 apart, both ways; checks the frames are equal and prints keyframes/s and frames decoded.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from videomae_action_detection.processing import read_clip, read_clips, read_frames
from videomae_action_detection.processing.synthetic_video import write_synthetic_video


def cached_video(cache_dir: Path, minutes: float, gop: int) -> Path:
    path = cache_dir / f"batched_decode_{minutes:g}min_1280x720_gop{gop}.mp4"
    if not path.exists():
        partial = path.with_suffix(".partial.mp4")
        write_synthetic_video(partial, int(minutes * 60 * 30), width=1280, height=720, fps=30, gop=gop, b_frames=3,
                              preset="superfast")
        partial.rename(path)
    return path


def time_batches(video: Path, batches: list[list[int]]) -> dict:
    before = after = 0.0
    decoded_before = decoded_after = 0
    for batch in batches:
        started = time.perf_counter()
        single = [read_clip(video, timestamp) for timestamp in batch]
        before += time.perf_counter() - started
        for _, numbers in single:
            info = {}
            read_frames(video, numbers, decode_info=info)
            decoded_before += info["decoded_frames"]
        info = {}
        started = time.perf_counter()
        together = read_clips(video, batch, decode_info=info)
        after += time.perf_counter() - started
        decoded_after += info["decoded_frames"]
        for (a, a_numbers), (b, b_numbers) in zip(single, together):
            assert np.array_equal(a, b) and np.array_equal(a_numbers, b_numbers)
    keyframes = sum(len(batch) for batch in batches)
    return dict(before=keyframes / before, after=keyframes / after, decoded_before=decoded_before / keyframes,
                decoded_after=decoded_after / keyframes)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the generated videos (default 1)")
    parser.add_argument("--gops", nargs="+", type=int, default=[32, 250], help="GOP lengths (default 32 250)")
    parser.add_argument("--batch", type=int, default=8, help="keyframes per batch, 1 s apart (default 8)")
    parser.add_argument("--batches", type=int, default=4, help="batches timed per video (default 4)")
    parser.add_argument("--cache-dir", default=Path(tempfile.gettempdir()) / "videomae_bench", type=Path,
                        help="where the generated videos are kept (default: $TMPDIR/videomae_bench)")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    last_start = int(args.minutes * 60) - args.batch - 2
    print(f"| GOP | keyframes/s, read_clip each | keyframes/s, read_clips per batch of {args.batch} | "
          "frames decoded per keyframe (before / after) |")
    print("|---|---|---|---|")
    for gop in args.gops:
        video = cached_video(args.cache_dir, args.minutes, gop)
        starts = rng.integers(2, last_start, size=args.batches)
        batches = [list(range(int(start), int(start) + args.batch)) for start in starts]
        row = time_batches(video, batches)
        print(f"| {gop} | {row['before']:.2f} | {row['after']:.2f} | {row['decoded_before']:.0f} / "
              f"{row['decoded_after']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
