"""Forward time, throughput and peak memory of VideoMAEForActionDetection.

    python benchmarks/bench_model.py                         # ViT-B, 16x256x320, eager and sdpa, on the CPU
    python benchmarks/bench_model.py --device cuda --dtypes float32 bfloat16 --batch_size 8 --variants base large
    python benchmarks/bench_model.py --width 341 --attns sdpa --reference-python REF_VENV/bin/python --reference-shim DIR
    python benchmarks/bench_model.py --width 341 --attns sdpa --dtypes float32 autocast-bf16 --profile 8

`--reference-python PATH`: also time mmaction2 1.2.0's detector (a venv with mmaction2 1.2.0, mmengine 0.10.7,
mmcv-lite 2.1.0 and mmdet 3.3.0 from PyPI; `--reference-shim DIR` names the folder of an `mmcv_shim.py` whose
`install()` stands in for mmcv's compiled RoIAlign with torchvision's) in the same run, on the same input size,
batch, threads and boxes: its ViT backbone (`mmaction/.mim/configs/detection/videomae/` config of the variant) +
RoI extractor + bbox head, fp32 on the CPU; the table then shows mmaction2's time and our speed-up over it.

Each (variant, attention, dtype) runs in a fresh subprocess so that the CPU peak memory (max RSS) is its own. Weights
are random (speed does not depend on them). FLOPs are counted analytically (a multiply-add = 2 FLOPs) for the
backbone, which is all but a fraction of a percent of the model's work; "share of peak" divides the achieved FLOP/s
by the `--peak_tflops` you give for the device (e.g. 989 for an H100 SXM in bf16 dense).

dtypes: `float32`, `bfloat16` (weights and inputs cast) or `autocast-bf16` (fp32 weights, `torch.autocast` to bf16:
what `videomae-ava-train --bf16` and `videomae-action-detection --dtype bf16` do; on a CPU with AMX, oneDNN runs the
matrix products in bf16). Each row also measures, in the same process right after the forward, the machine's
matrix-product ceiling: the TFLOP/s of one ViT-B MLP product (tokens x 768 @ 768 x 3072) in that dtype. "share of
ceiling" = the forward's backbone TFLOP/s / that ceiling: near 100 % means the forward runs as fast as a plain matrix
product on this machine, so only fewer FLOPs or a faster number format can make it faster. `--profile K` prints the
K operators with the most self time of one forward (torch.profiler), per row.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

VARIANTS = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}


def backbone_flops(variant: str, frames: int, height: int, width: int, patch: int = 16, tubelet: int = 2) -> float:
    """Forward FLOPs of the ViT backbone for one clip."""
    spec = VARIANTS[variant]
    tokens = (frames // tubelet) * (height // patch) * (width // patch)
    hidden, inner, layers = spec["hidden_size"], spec["intermediate_size"], spec["num_hidden_layers"]
    per_layer = 2 * tokens * (4 * hidden * hidden + 2 * hidden * inner) + 2 * 2 * tokens * tokens * hidden
    embedding = 2 * tokens * hidden * 3 * tubelet * patch * patch
    return layers * per_layer + embedding


REFERENCE_CONFIGS = {
    "base": "vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py",
    "large": "vit-large-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.py",
}

# Run by the reference Python: mmaction2's detector forward (backbone + RoI extractor + bbox head), seconds per batch.
REFERENCE_SCRIPT = """
import json, os, sys, time
import torch
sys.path.insert(0, {shim_dir!r})
import mmcv_shim
mmcv_shim.install()
import mmaction
from mmaction.utils import register_all_modules
from mmaction.registry import MODELS
from mmengine.config import Config
register_all_modules()
config = Config.fromfile(os.path.join(os.path.dirname(mmaction.__file__), ".mim", "configs", "detection", "videomae",
                                      {config!r}))
config.model.init_cfg = None
config.model.backbone.pop("init_cfg", None)
torch.manual_seed(0)
model = MODELS.build(config.model).eval()
x = torch.randn({batch}, 3, 16, {height}, {width})
rois = torch.tensor([[i, 10.0, 20.0, 120.0, 240.0] for i in range({batch})] +
                    [[i, 100.0, 30.0, 300.0, 250.0] for i in range({batch})])
def forward():
    with torch.inference_mode():
        features = model.extract_feat(x)
        bbox_features, _ = model.roi_head.bbox_roi_extractor(features, rois)
        model.roi_head.bbox_head(bbox_features)
for _ in range({warmup}):
    forward()
start = time.perf_counter()
for _ in range({repeats}):
    forward()
print(json.dumps({{"seconds_per_batch": (time.perf_counter() - start) / {repeats}, "threads": torch.get_num_threads()}}))
"""


def run_reference(args, variant: str) -> dict:
    """mmaction2's forward time in the reference environment (`--reference-python`)."""
    shim_dir = args.reference_shim
    if not shim_dir or not os.path.isfile(os.path.join(shim_dir, "mmcv_shim.py")):
        raise SystemExit(f"error: --reference-shim must name the folder holding mmcv_shim.py, got {shim_dir!r}")
    script = REFERENCE_SCRIPT.format(shim_dir=os.path.abspath(shim_dir), config=REFERENCE_CONFIGS[variant],
                                     batch=args.batch_size, height=args.height, width=args.width,
                                     warmup=args.warmup, repeats=args.repeats)
    result = subprocess.run([args.reference_python, "-c", script], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: the reference forward failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def matmul_ceiling(torch, device: str, dtype_name: str, tokens: int, repeats: int = 5) -> float:
    """TFLOP/s of `linear(tokens x 768, 3072 x 768)` (a ViT-B MLP product) in the row's number format."""
    compute = torch.bfloat16 if dtype_name in ("bfloat16", "autocast-bf16") else getattr(torch, dtype_name)
    generator = torch.Generator(device=device).manual_seed(0)
    inputs = torch.randn(tokens, 768, device=device, generator=generator).to(compute)
    weight = torch.randn(3072, 768, device=device, generator=generator).to(compute)
    with torch.inference_mode():
        torch.nn.functional.linear(inputs, weight)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            torch.nn.functional.linear(inputs, weight)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / repeats
    return 2 * tokens * 768 * 3072 / seconds / 1e12


def run_one(args) -> dict:
    import contextlib

    import torch

    from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection

    torch.manual_seed(0)
    config = VideoMAEActionDetectionConfig(**VARIANTS[args.variant])
    autocast = args.dtype == "autocast-bf16"
    dtype = torch.float32 if autocast else getattr(torch, args.dtype)
    model = VideoMAEForActionDetection(config).eval().to(device=args.device, dtype=dtype)
    model.set_attn_implementation(args.attn)
    pixel_values = torch.randn(args.batch_size, 16, 3, args.height, args.width, device=args.device, dtype=dtype)
    boxes = [torch.tensor([[10.0, 20.0, 120.0, 240.0], [100.0, 30.0, 300.0, 250.0]], device=args.device)] * args.batch_size

    def forward():
        context = (torch.autocast(device_type=torch.device(args.device).type, dtype=torch.bfloat16) if autocast
                   else contextlib.nullcontext())
        with torch.inference_mode(), context:
            model(pixel_values, boxes)
        if args.device == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        forward()
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.repeats):
        forward()
    seconds = (time.perf_counter() - start) / args.repeats
    if args.device == "cuda":
        peak_bytes = torch.cuda.max_memory_allocated()
    else:
        peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    flops = backbone_flops(args.variant, 16, args.height, args.width) * args.batch_size
    profile = None
    if args.profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as profiler

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with profiler(activities=activities) as recorded:
            forward()
        sort_by = "self_cuda_time_total" if args.device == "cuda" else "self_cpu_time_total"
        profile = recorded.key_averages().table(sort_by=sort_by, row_limit=args.profile)
    tokens = (16 // 2) * (args.height // 16) * (args.width // 16) * args.batch_size
    return {
        "variant": args.variant,
        "attn": args.attn,
        "dtype": args.dtype,
        "device": args.device,
        "batch": args.batch_size,
        "seconds_per_batch": seconds,
        "clips_per_second": args.batch_size / seconds,
        "tflops": flops / seconds / 1e12,
        "peak_memory_gib": peak_bytes / 2**30,
        "ceiling_tflops": matmul_ceiling(torch, args.device, args.dtype, tokens),
        "threads": torch.get_num_threads(),
        "profile": profile,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["base"], choices=sorted(VARIANTS))
    parser.add_argument("--attns", nargs="+", default=["eager", "sdpa"])
    parser.add_argument("--dtypes", nargs="+", default=["float32"],
                        choices=["float32", "bfloat16", "float16", "autocast-bf16"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peak_tflops", type=float, default=None, help="the device's peak TFLOP/s for the dtype")
    parser.add_argument("--reference-python", dest="reference_python", default=None,
                        help="Python of the mmaction2 1.2.0 reference environment: also time mmaction2's forward "
                        "(CPU, fp32) and print our speed-up over it (default: ours alone)")
    parser.add_argument("--reference-shim", dest="reference_shim", default=None,
                        help="with --reference-python: the folder holding mmcv_shim.py (default: none)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate ours and mmaction2 this many times; each row keeps its fastest (default 1)")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="print the K operators with the most self time in one forward, per row (default 0: off)")
    parser.add_argument("--_single", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--attn", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._single:
        print(json.dumps(run_one(args)))
        return

    # Ours and mmaction2 alternate for --rounds rounds; each row keeps its fastest round, so a load that changes
    # during the run weighs on both sides alike.
    best: dict[tuple, dict] = {}
    references = {}
    for round_index in range(args.rounds):
        for variant in args.variants:
            for dtype in args.dtypes:
                for attn in args.attns:
                    command = [
                        sys.executable, __file__, "--_single", "--variant", variant, "--attn", attn, "--dtype", dtype,
                        "--device", args.device, "--batch_size", str(args.batch_size), "--height", str(args.height),
                        "--width", str(args.width), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
                        "--profile", str(args.profile if round_index == 0 else 0),
                    ]
                    result = subprocess.run(command, capture_output=True, text=True, check=True)
                    row = json.loads(result.stdout.strip().splitlines()[-1])
                    key = (variant, dtype, attn)
                    if key not in best or row["seconds_per_batch"] < best[key]["seconds_per_batch"]:
                        row["profile"] = row["profile"] or (best[key]["profile"] if key in best else None)
                        best[key] = row
                    print(f"done: round {round_index + 1} {variant} {dtype} {attn}", file=sys.stderr)
        if args.reference_python:
            for variant in [v for v in args.variants if v in REFERENCE_CONFIGS]:
                reference = run_reference(args, variant)
                if variant not in references or reference["seconds_per_batch"] < references[variant]["seconds_per_batch"]:
                    references[variant] = reference
                print(f"done: round {round_index + 1} mmaction2 {variant}", file=sys.stderr)
    rows = list(best.values())

    print(f"\nVideoMAEForActionDetection forward, 16x{args.height}x{args.width}, batch {args.batch_size}, device {args.device}, "
          f"fastest of {args.rounds} round(s)")
    if references:
        print("mmaction2 1.2.0 in the same run: " + ", ".join(
            f"{variant} {ref['seconds_per_batch']:.3f} s / batch ({ref['threads']} threads)"
            for variant, ref in references.items()))
    print(f"threads: {rows[0]['threads']}; ceiling: a ViT-B MLP matrix product alone in the row's number format, "
          "measured in the same process")
    header = ("| variant | attention | dtype | s / batch | clips / s | backbone TFLOP/s | ceiling TFLOP/s | share of "
              "ceiling | share of peak | peak memory (GiB) |")
    print(header + (" speed-up over mmaction2 |" if references else ""))
    print("|---" * (11 if references else 10) + "|")
    for row in rows:
        share = f"{100 * row['tflops'] / args.peak_tflops:.1f}%" if args.peak_tflops else "n/a"
        print(
            f"| {row['variant']} | {row['attn']} | {row['dtype']} | {row['seconds_per_batch']:.3f} | "
            f"{row['clips_per_second']:.3f} | {row['tflops']:.3f} | {row['ceiling_tflops']:.3f} | "
            f"{100 * row['tflops'] / row['ceiling_tflops']:.0f}% | {share} | {row['peak_memory_gib']:.2f} |"
            + (f" {references[row['variant']]['seconds_per_batch'] / row['seconds_per_batch']:.2f}x |"
               if row["variant"] in references else "")
        )

    for row in rows:
        if row["profile"]:
            print(f"\nprofile: {row['variant']} {row['attn']} {row['dtype']}\n{row['profile']}")


if __name__ == "__main__":
    main()
