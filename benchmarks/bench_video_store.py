"""Clip reading for training, three ways, against the GOP length of the original video (not a test):

(a) `read_clip` on the original video (seek to the keyframe before the clip, decode forward);
(b) `read_clip` on a rawframes folder (mmaction2's layout: one JPEG per 30 fps frame, quality 95), written at the
    store's size (short side 320) so that (b) and (c) hold the same pixels;
(c) `read_clip` on the transcoded store (`training/data/transcode.py`: short side 320, 30 fps, GOP 16 or
    `--store-gops`, no B-frames, crf 18);

each alone and followed by the training transform (`VideoMAEActionDetectionVideoProcessor` with
`do_train_augmentation=True`: rescale 256-320, crop 256, flip), 16 frames 4 apart with training offsets at random
keyframes, torch limited to 1 thread (clips/s per core: DataLoader workers each use one). Disk bytes per video hour
for (b) (JPEG bytes of the frames written, per frame, x 108000 frames) and (c) (the transcoded file).

    python benchmarks/bench_video_store.py [--minutes 15] [--gops 250 32] [--clips 20]

Generated 1280x720 30 fps H.264 videos (3 B-frames, libx264 superfast) laid out like mmaction2's AVA cuts (the file
starts at timeline second 900): flat synthetic content decodes faster than film, so absolute rates are optimistic.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.io import encode_jpeg

from videomae_action_detection.processing import ava_clip_frame_numbers, ava_video_processor, read_clip, read_frames
from videomae_action_detection.training.data.transcode import transcode_video, transcoded_size

from bench_clip_reading import TIMESTAMP_START, cached_video

FRAMES_PER_HOUR = 30 * 3600


def write_rawframes(folder: Path, video: Path, numbers, size) -> int:
    """JPEGs (quality 95) of the given timeline frames at `size` (the store's), named img_{:05d}.jpg; their bytes."""
    from videomae_action_detection.training.data.transcode import resize_frame

    folder.mkdir(parents=True, exist_ok=True)
    wanted = sorted({int(k) for k in numbers})
    for start in range(0, len(wanted), 64):
        chunk = wanted[start : start + 64]
        frames, _ = read_frames(video, chunk, timestamp_start=TIMESTAMP_START)
        for k, frame in zip(chunk, frames):
            image = torch.from_numpy(resize_frame(frame, size)).permute(2, 0, 1).contiguous()
            (folder / f"img_{k:05d}.jpg").write_bytes(encode_jpeg(image, quality=95).numpy().tobytes())
    return sum((folder / f"img_{k:05d}.jpg").stat().st_size for k in wanted), len(wanted)


def clips_per_second(read, keyframes, processor=None) -> float:
    generator = np.random.default_rng(0)
    boxes = [[0.1, 0.2, 0.4, 0.9], [0.5, 0.1, 0.8, 1.0]]
    read(keyframes[0], generator)  # warm up
    started = time.perf_counter()
    for timestamp in keyframes:
        clip = read(timestamp, generator)
        if processor is not None:
            processor(clip, boxes=boxes, do_train_augmentation=True, generator=generator, return_tensors="pt")
    return len(keyframes) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="length of the generated videos (default 15)")
    parser.add_argument("--gops", nargs="+", type=int, default=[250, 32], help="GOPs of the originals (default 250 32)")
    parser.add_argument("--clips", type=int, default=20, help="random keyframes timed per row (default 20)")
    parser.add_argument("--store-gops", dest="store_gops", nargs="+", type=int, default=[16],
                        help="keyframe intervals of the transcoded stores compared (default 16, the store's)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "videomae_action_detection_bench",
                        help="where generated videos, frames and stores are kept")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    processor = ava_video_processor()
    rng = np.random.default_rng(0)
    rows = []
    for gop in args.gops:
        video = cached_video(args.cache_dir, args.minutes, 1280, 720, gop)
        stores = {}
        for store_gop in args.store_gops:
            store = args.cache_dir / (f"store_{video.stem}.mp4" if store_gop == 16 else
                                      f"store_gop{store_gop}_{video.stem}.mp4")
            if not store.exists():
                started = time.perf_counter()
                transcode_video(video, store, gop=store_gop)
                print(f"transcoded {video.name} (GOP {store_gop}) in {time.perf_counter() - started:.0f} s", flush=True)
            stores[store_gop] = store
        keyframes = rng.integers(TIMESTAMP_START + 2, TIMESTAMP_START + int(args.minutes * 60) - 1,
                                 size=args.clips).tolist()
        numbers = np.concatenate([np.clip(ava_clip_frame_numbers(t, timestamp_start=TIMESTAMP_START) + d, 1, None)
                                  for t in keyframes for d in (-2, -1, 0, 1)])
        folder = args.cache_dir / f"rawframes320_{video.stem}"
        jpeg_bytes, jpeg_count = write_rawframes(folder, video, numbers, transcoded_size(720, 1280, 320))

        def reader(source):
            return lambda t, g: read_clip(source, t, timestamp_start=TIMESTAMP_START, video_start=TIMESTAMP_START,
                                          train=True, generator=g)[0]

        seconds = args.minutes * 60
        sources = [("(a) original video", video, video.stat().st_size * 3600 / seconds),
                   ("(b) rawframes, JPEG q95, short side 320", folder, jpeg_bytes / jpeg_count * FRAMES_PER_HOUR)]
        sources += [(f"(c) transcoded store, GOP {store_gop}", store, store.stat().st_size * 3600 / seconds)
                    for store_gop, store in stores.items()]
        for name, source, disk in sources:
            rows.append((gop, name, clips_per_second(reader(source), keyframes),
                         clips_per_second(reader(source), keyframes, processor), disk))
            print(f"done: GOP {gop} {name}", flush=True)

    print(f"\n1280x720 originals, {args.minutes:g} min, {args.clips} training clips (16 x 4) per row, torch 1 thread; "
          "load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("| original GOP | source | clips/s (read) | clips/s (read + training transform) | GB per video hour |")
    print("|---|---|---|---|---|")
    for gop, name, read_rate, both_rate, disk in rows:
        print(f"| {gop} | {name} | {read_rate:.2f} | {both_rate:.2f} | {disk / 1e9:.2f} |")


if __name__ == "__main__":
    main()
