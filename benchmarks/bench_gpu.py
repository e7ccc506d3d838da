"""One prepared GPU benchmark: model forward and training-step throughput, peak memory and MFU of ViT-B / ViT-L
VideoMAEForActionDetection in fp32, bf16 autocast and bf16 autocast + `torch.compile`, plus the data path's clips/s
with N DataLoader workers.

    python benchmarks/bench_gpu.py                                  # on a CUDA GPU: the full table (~5-10 min on an H100)
    python benchmarks/bench_gpu.py --device cpu --tiny              # smoke test: a tiny model, tiny inputs
    python benchmarks/bench_gpu.py --device cpu --tiny --compile-backend aot_eager    # the same in ~20 s (the test)

Shapes: 16x256x256 (the training crop) and 16x256x455 (evaluation at short side 256 of a 16:9 video; the patch
embedding uses 448 of the 455 columns). Each (variant, shape, mode) measures:
- forward: `torch.inference_mode()` forward of a batch of `--batch_size` clips with 2 boxes each;
- train step: forward with the loss (3 proposals, 2 ground-truth boxes per clip), backward, gradient clipping at 40
  and an AdamW step (the training script's work per step, without the data);
- peak memory: `torch.cuda.max_memory_allocated` over the measurement (on the CPU: the process's max RSS so far).

FLOPs are counted analytically for the ViT backbone (`bench_model.backbone_flops`: per layer
`2 * tokens * (4 * C^2 + 2 * C * inner)` for the projections and MLP plus `4 * tokens^2 * C` for attention, plus
the tubelet embedding; a multiply-add is 2 FLOPs); the RoI head is far below 1 % and not counted. A training step
counts 3x the forward (backward = 2x forward). MFU = achieved FLOP/s / `--peak-tflops`, by default 989 TFLOP/s,
the H100 SXM bf16 dense peak (no sparsity); give your GPU's bf16 dense peak for another card (H200: also 989).
MFU of the fp32 rows is against the same bf16 peak, so it shows how far plain fp32 is from the card's capability.

`--compile-backend` picks the `torch.compile` backend of the +compile rows (default inductor, torch's default; the
table's title names it). On a CPU, inductor generates and builds C++ for every graph of the tiny run
(about 1.5 min on 2 cores with a cold cache); `aot_eager` still captures the graphs with dynamo and builds the
backward with AOTAutograd, without the code generation, which is what the CPU smoke test runs.

The data path: a generated H.264 video (`--video-seconds` long, 320 px short side, GOP 16) read with `read_clip`
(training sampling, 16 frames 4 apart at random keyframes) and the video processor's training augmentation, in a
`torch.utils.data.DataLoader` with each of `--workers` worker counts, batch 8; clips/s over `--data-clips` clips.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_model import VARIANTS, backbone_flops  # noqa: E402

H100_BF16_DENSE_TFLOPS = 989.0
SHAPES = {"train": (16, 256, 256), "eval": (16, 256, 455)}
TINY_SHAPES = {"train": (4, 64, 64), "eval": (4, 64, 112)}
MODES = ("fp32", "bf16", "bf16+compile")


def build_model(variant: str, frames: int, device: str, compile_model: bool, backend: str = "inductor"):
    from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection

    torch.manual_seed(0)
    config = VideoMAEActionDetectionConfig(**VARIANTS[variant], num_frames=frames, drop_path_rate=0.0)
    model = VideoMAEForActionDetection(config).to(device)
    # dynamic=False: each shape gets its own static graph (a second shape would otherwise be recompiled with
    # dynamic sizes, slower than what a fixed-shape training or evaluation run compiles).
    return model, (torch.compile(model, backend=backend, dynamic=False) if compile_model else model)


def make_inputs(batch: int, frames: int, height: int, width: int, device: str) -> dict:
    """Random normalised clips `(batch, frames, 3, height, width)`, 3 proposals and 2 labelled ground-truth boxes."""
    generator = torch.Generator().manual_seed(0)
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)
    boxes = torch.tensor([[0.1, 0.1, 0.3, 0.6], [0.5, 0.2, 0.7, 0.9], [0.05, 0.5, 0.4, 0.95]]) * scale
    labels = torch.zeros(2, 80)
    labels[0, 11] = labels[1, 13] = labels[1, 16] = 1
    return {
        "pixel_values": torch.randn(batch, frames, 3, height, width, generator=generator).to(device),
        "boxes": boxes.expand(batch, 3, 4).contiguous().to(device),
        "gt_boxes": (boxes[:2] + 1.0).expand(batch, 2, 4).contiguous().to(device),
        "labels": labels.expand(batch, 2, 80).contiguous().to(device),
    }


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_memory_gib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30


def time_calls(function, device: str, warmup: int, repeats: int) -> float:
    """Seconds per call of `function` after `warmup` untimed calls (the first compiles, when compiled)."""
    for _ in range(warmup):
        function()
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    _synchronize(device)
    return (time.perf_counter() - started) / repeats


def bench_model_mode(variant: str, shape: tuple[int, int, int], mode: str, args) -> list[dict]:
    """Forward and train-step rows of one (variant, shape, mode)."""
    frames, height, width = shape
    device = args.device
    autocast = torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=mode != "fp32")
    model, runner = build_model(variant, frames, device, compile_model=mode.endswith("compile"),
                                backend=args.compile_backend)
    inputs = make_inputs(args.batch_size, frames, height, width, device)
    forward_flops = backbone_flops(variant, frames, height, width) * args.batch_size
    rows = []

    model.eval()
    if runner is not model:
        # One eager forward first (untimed, before the peak-memory reset): it fills the position table the model
        # computes on first use, so that the compiled model's second call does not compile again.
        with torch.no_grad(), autocast:
            model(pixel_values=inputs["pixel_values"], boxes=inputs["boxes"])
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    def forward():
        with torch.inference_mode(), autocast:
            runner(pixel_values=inputs["pixel_values"], boxes=inputs["boxes"])

    compiled = runner is not model
    _reset_graph_counts()
    seconds = time_calls(forward, device, args.warmup, args.repeats)
    rows.append(dict(kind="forward", seconds=seconds, flops=forward_flops, peak=_peak_memory_gib(device),
                     graphs=_graph_counts() if compiled else None))

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    def train_step():
        with autocast:
            loss = runner(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 40.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    _reset_graph_counts()
    seconds = time_calls(train_step, device, args.warmup, args.repeats)
    rows.append(dict(kind="train step", seconds=seconds, flops=3 * forward_flops, peak=_peak_memory_gib(device),
                     graphs=_graph_counts() if compiled else None))
    for row in rows:
        row.update(variant=variant, shape=f"{frames}x{height}x{width}", mode=mode, batch=args.batch_size,
                   clips_per_s=args.batch_size / row["seconds"],
                   mfu=row["flops"] / row["seconds"] / (args.peak_tflops * 1e12))
    del model, runner, optimizer
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return rows


def _reset_graph_counts() -> None:
    from torch._dynamo.utils import counters

    counters.clear()


def _graph_counts() -> tuple[int, int]:
    """(graphs compiled, graph breaks) since the last reset: a +compile row with 0 graphs ran eagerly."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"], sum(counters["graph_break"].values())


class _ClipReadingDataset(torch.utils.data.Dataset):
    """`count` training clips of one video at random keyframes: read_clip (training sampling) + the processor's
    training augmentation, as a DataLoader worker of the training script does per clip."""

    def __init__(self, video: str, seconds: int, count: int, clip_len: int, processor):
        self.video, self.seconds, self.count, self.clip_len, self.processor = video, seconds, count, clip_len, processor

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        from videomae_action_detection.processing import read_clip

        generator = np.random.default_rng(index)
        timestamp = int(generator.integers(3, self.seconds - 2))
        clip, _ = read_clip(self.video, timestamp, clip_len=self.clip_len, frame_interval=4, train=True,
                            generator=generator)
        boxes = np.array([[0.1, 0.1, 0.3, 0.6], [0.5, 0.2, 0.7, 0.9]])
        processed = self.processor(clip, boxes=[boxes], gt_boxes=[boxes], do_train_augmentation=True,
                                   generator=generator, return_tensors="pt")
        return processed["pixel_values"][0]


def bench_data_path(args, workdir: Path) -> list[dict]:
    """clips/s of read_clip + training transform through a DataLoader, for each worker count."""
    from videomae_action_detection.processing import ava_video_processor
    from videomae_action_detection.processing.synthetic_video import write_synthetic_video

    width, height = (96, 64) if args.tiny else (568, 320)
    clip_len = 4 if args.tiny else 16
    video = workdir / "data_path.mp4"
    # Intra-only, no B-frames: the transcoded store's layout (a clip read decodes only its own frames).
    write_synthetic_video(video, num_frames=30 * args.video_seconds, width=width, height=height, fps=30, gop=1,
                          b_frames=0)
    size = 64 if args.tiny else 256
    processor = ava_video_processor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                    scale_range=[size, size + size // 4])
    rows = []
    for workers in args.workers:
        dataset = _ClipReadingDataset(str(video), args.video_seconds, args.data_clips, clip_len, processor)
        loader = torch.utils.data.DataLoader(dataset, batch_size=8, num_workers=workers,
                                             persistent_workers=False)
        started = time.perf_counter()
        clips = sum(len(batch) for batch in loader)
        seconds = time.perf_counter() - started
        rows.append(dict(workers=workers, clips=clips, clips_per_s=clips / seconds))
    return rows


def print_model_table(rows: list[dict], args) -> None:
    print(f"\nmodel throughput, device {args.device} ({_device_name(args.device)}), batch {args.batch_size}, "
          f"MFU against {args.peak_tflops:g} TFLOP/s (bf16 dense peak), torch.compile backend {args.compile_backend}")
    print("| variant | input | mode | pass | clips/s | TFLOP/s | MFU | peak memory (GiB) | graphs / breaks |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        graphs = "-" if row["graphs"] is None else f"{row['graphs'][0]} / {row['graphs'][1]}"
        print(f"| {row['variant']} | {row['shape']} | {row['mode']} | {row['kind']} | {row['clips_per_s']:.2f} | "
              f"{row['flops'] / row['seconds'] / 1e12:.2f} | {100 * row['mfu']:.1f}% | {row['peak']:.2f} | {graphs} |")


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test: the tiny variant at 4x64x64 / 4x64x112, 1 repeat, a 10-s 96x64 video")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=None,
                        help="model sizes (default: base large; tiny with --tiny)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="precisions (default: fp32 bf16 bf16+compile)")
    parser.add_argument("--batch_size", type=int, default=None, help="clips per batch (default 8; 2 with --tiny)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 3; 2 with --tiny: the second call of a compiled model may still compile)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls (default 10; 1 with --tiny)")
    parser.add_argument("--peak-tflops", dest="peak_tflops", type=float, default=H100_BF16_DENSE_TFLOPS,
                        help=f"the GPU's bf16 dense peak in TFLOP/s for MFU (default {H100_BF16_DENSE_TFLOPS:g}, H100 SXM)")
    parser.add_argument("--compile-backend", dest="compile_backend", default="inductor",
                        help="torch.compile backend of the +compile rows (default inductor; aot_eager: dynamo and "
                             "AOTAutograd without code generation, for a fast CPU smoke test)")
    parser.add_argument("--workers", nargs="+", type=int, default=None,
                        help="DataLoader worker counts for the data path (default 0 4 8 16; 0 1 with --tiny)")
    parser.add_argument("--data-clips", dest="data_clips", type=int, default=None,
                        help="clips read per worker count (default 256; 16 with --tiny)")
    parser.add_argument("--video-seconds", dest="video_seconds", type=int, default=None,
                        help="length of the generated video (default 120; 10 with --tiny)")
    parser.add_argument("--no-data", dest="data", action="store_false", help="skip the data path")
    return parser


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    defaults = dict(variants=["tiny"], batch_size=2, warmup=2, repeats=1, workers=[0, 1], data_clips=16,
                    video_seconds=10) if args.tiny else dict(variants=["base", "large"], batch_size=8, warmup=3,
                                                               repeats=10, workers=[0, 4, 8, 16], data_clips=256,
                                                               video_seconds=120)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no CUDA GPU is visible (use --device cpu --tiny for the smoke test)")
    shapes = TINY_SHAPES if args.tiny else SHAPES
    rows = []
    for variant in args.variants:
        for name, shape in shapes.items():
            for mode in args.modes:
                rows.extend(bench_model_mode(variant, shape, mode, args))
                print(f"done: {variant} {name} {mode}", file=sys.stderr, flush=True)
    print_model_table(rows, args)
    data_rows = []
    if args.data:
        with tempfile.TemporaryDirectory() as folder:
            data_rows = bench_data_path(args, Path(folder))
        print(f"\ndata path: read_clip + training transform, DataLoader batch 8, {args.data_clips} clips")
        print("| workers | clips/s |")
        print("|---|---|")
        for row in data_rows:
            print(f"| {row['workers']} | {row['clips_per_s']:.1f} |")
    return {"model": rows, "data": data_rows}


if __name__ == "__main__":
    main()
