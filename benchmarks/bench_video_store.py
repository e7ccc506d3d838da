"""Clip reading for training, three ways, against the GOP length of the original video (not a test):

(a) `read_clip` on the original 1280x720 video (seek to the keyframe before the clip, decode forward);
(b) `read_clip` on a rawframes folder in mmaction2's layout: one JPEG per 30 fps frame at the original size, FFmpeg's
    mjpeg encoder at qscale 2 (mmaction2's `ffmpeg -r 30 -q:v 1 img_%05d.jpg`; FFmpeg clamps `-q:v 1` to its
    default qmin, 2);
(b320) the same frames as JPEG quality 95 at the store's size (short side 320), a smaller rawframes variant;
(c) `read_clip` on the transcoded store (`training/data/transcode.py`), one row per `--store-variants` entry
    `GOP:TUNE:CRF` (default: the store's defaults, and GOP 16 / no tune / crf 18, the store's earlier settings);

each alone and followed by the training transform (`VideoMAEActionDetectionVideoProcessor` with
`do_train_augmentation=True`: rescale 256-320, crop 256, flip), 16 frames 4 apart with training offsets at random
keyframes, torch limited to 1 thread (clips/s per core: DataLoader workers each use one). Disk bytes per video hour:
(b) and (b320) from the JPEGs written (bytes per frame x 108000), (c) from the transcoded file. The last two
columns compare each row with (b): read + transform clips/s, and disk.

    python benchmarks/bench_video_store.py [--minutes 15] [--store-minutes 5] [--gops 250 32] [--clips 20]

Generated 1280x720 30 fps H.264 videos (3 B-frames, libx264 superfast) laid out like mmaction2's AVA cuts (the file
starts at timeline second 900). The stores are made from the first `--store-minutes` of the same content (a video
generated with the same settings and that length: the generator's frames depend only on their index), and every row
reads keyframes inside that stretch. Flat synthetic content decodes and compresses better than film, so absolute
rates and sizes are optimistic; intra-only stores gain less on disk against motion-compensated ones on film.
"""

import argparse
import os
import tempfile
from fractions import Fraction
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.io import encode_jpeg

from videomae_action_detection.processing import ava_clip_frame_numbers, ava_video_processor, read_clip, read_frames
from videomae_action_detection.training.data.transcode import (
    DEFAULT_CRF, DEFAULT_GOP, DEFAULT_TUNE, resize_frame, transcode_video, transcoded_size,
)

from bench_clip_reading import TIMESTAMP_START, cached_video

FRAMES_PER_HOUR = 30 * 3600
MMACTION2_JPEG_QSCALE = 2


def mjpeg_encoder(width: int, height: int):
    """FFmpeg's mjpeg encoder at a fixed qscale (qmin = qmax), as `ffmpeg -q:v` writes JPEG frames."""
    import av

    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 30)
    codec.options = {"qmin": str(MMACTION2_JPEG_QSCALE), "qmax": str(MMACTION2_JPEG_QSCALE)}
    return codec


def write_rawframes(folder: Path, video: Path, numbers, size=None) -> tuple[int, int]:
    """The JPEGs of the given timeline frames, named img_{:05d}.jpg: at the original size with FFmpeg's mjpeg
    encoder (qscale 2) when `size` is None (mmaction2's layout), else resized to `size` at quality 95. Returns
    (bytes, count)."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    wanted = sorted({int(k) for k in numbers})
    encoder = None
    for start in range(0, len(wanted), 64):
        chunk = wanted[start : start + 64]
        frames, _ = read_frames(video, chunk, timestamp_start=TIMESTAMP_START)
        for k, frame in zip(chunk, frames):
            path = folder / f"img_{k:05d}.jpg"
            if size is None:
                encoder = encoder or mjpeg_encoder(frame.shape[1], frame.shape[0])
                packets = encoder.encode(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuvj420p"))
                path.write_bytes(b"".join(bytes(packet) for packet in packets))
            else:
                image = torch.from_numpy(resize_frame(frame, size)).permute(2, 0, 1).contiguous()
                path.write_bytes(encode_jpeg(image, quality=95).numpy().tobytes())
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


def parse_variant(text: str) -> tuple[int, str, int]:
    gop, tune, crf = text.split(":")
    return int(gop), tune, int(crf)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="length of the generated originals (default 15)")
    parser.add_argument("--store-minutes", dest="store_minutes", type=float, default=5.0,
                        help="length transcoded into the stores; keyframes are drawn inside it (default 5)")
    parser.add_argument("--gops", nargs="+", type=int, default=[250, 32], help="GOPs of the originals (default 250 32)")
    parser.add_argument("--clips", type=int, default=20, help="random keyframes timed per row (default 20)")
    parser.add_argument("--store-variants", dest="store_variants", nargs="+", type=parse_variant,
                        default=[(DEFAULT_GOP, DEFAULT_TUNE, DEFAULT_CRF), (16, "none", 18)],
                        help="transcoded stores compared, GOP:TUNE:CRF (default: the store's defaults "
                        f"{DEFAULT_GOP}:{DEFAULT_TUNE}:{DEFAULT_CRF} and 16:none:18)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "videomae_action_detection_bench",
                        help="where generated videos, frames and stores are kept")
    args = parser.parse_args()
    if args.store_minutes > args.minutes:
        parser.error("--store-minutes cannot exceed --minutes")
    torch.set_num_threads(1)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    processor = ava_video_processor()
    rng = np.random.default_rng(0)
    rows = []
    for gop in args.gops:
        video = cached_video(args.cache_dir, args.minutes, 1280, 720, gop)
        stretch = cached_video(args.cache_dir, args.store_minutes, 1280, 720, gop)
        stores = {}
        for store_gop, tune, crf in args.store_variants:
            store = args.cache_dir / f"store_gop{store_gop}_{tune}_crf{crf}_{stretch.stem}.mp4"
            if not store.exists():
                started = time.perf_counter()
                transcode_video(stretch, store, gop=store_gop, tune=tune, crf=crf)
                print(f"transcoded {stretch.name} (GOP {store_gop}, tune {tune}, crf {crf}) in "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
            stores[(store_gop, tune, crf)] = store
        keyframes = rng.integers(TIMESTAMP_START + 2, TIMESTAMP_START + int(args.store_minutes * 60) - 1,
                                 size=args.clips).tolist()
        numbers = np.concatenate([np.clip(ava_clip_frame_numbers(t, timestamp_start=TIMESTAMP_START) + d, 1, None)
                                  for t in keyframes for d in (-2, -1, 0, 1)])
        full = args.cache_dir / f"rawframes_q{MMACTION2_JPEG_QSCALE}_{video.stem}_{args.clips}_{gop}"
        full_bytes, full_count = write_rawframes(full, video, numbers)
        small = args.cache_dir / f"rawframes320_q95_{video.stem}_{args.clips}_{gop}"
        small_bytes, small_count = write_rawframes(small, video, numbers, transcoded_size(720, 1280, 320))

        def reader(source):
            return lambda t, g: read_clip(source, t, timestamp_start=TIMESTAMP_START, video_start=TIMESTAMP_START,
                                          train=True, generator=g)[0]

        sources = [
            ("(a) original video", video, video.stat().st_size * 3600 / (args.minutes * 60)),
            (f"(b) rawframes, mmaction2's layout (1280x720, mjpeg qscale {MMACTION2_JPEG_QSCALE})", full,
             full_bytes / full_count * FRAMES_PER_HOUR),
            ("(b320) rawframes, short side 320, JPEG q95", small, small_bytes / small_count * FRAMES_PER_HOUR),
        ]
        sources += [(f"(c) store, GOP {g}, tune {t}, crf {c}", store, store.stat().st_size * 3600 /
                     (args.store_minutes * 60)) for (g, t, c), store in stores.items()]
        gop_rows = []
        for name, source, disk in sources:
            gop_rows.append([gop, name, clips_per_second(reader(source), keyframes),
                             clips_per_second(reader(source), keyframes, processor), disk])
            print(f"done: GOP {gop} {name}", flush=True)
        reference = gop_rows[1]
        rows += [row + [row[3] / reference[3], row[4] / reference[4]] for row in gop_rows]

    print(f"\n1280x720 originals, {args.minutes:g} min (stores: the first {args.store_minutes:g} min), {args.clips} "
          "training clips (16 x 4) per row, torch 1 thread; load average at the end: "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("| original GOP | source | clips/s (read) | clips/s (read + training transform) | GB per video hour "
          "| read + transform vs (b) | disk vs (b) |")
    print("|---|---|---|---|---|---|---|")
    for gop, name, read_rate, both_rate, disk, speed, size in rows:
        print(f"| {gop} | {name} | {read_rate:.2f} | {both_rate:.2f} | {disk / 1e9:.2f} | {speed:.2f}x | {size:.2f} |")


if __name__ == "__main__":
    main()
