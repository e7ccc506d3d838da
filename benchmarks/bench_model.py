"""Forward time, throughput and peak memory of VideoMAEForActionDetection.

    python benchmarks/bench_model.py                         # ViT-B, 16x256x320, eager and sdpa, on the CPU
    python benchmarks/bench_model.py --device cuda --dtypes float32 bfloat16 --batch_size 8 --variants base large
    python benchmarks/bench_model.py --width 341 --attns sdpa --reference-python REF_VENV/bin/python

`--reference-python PATH`: also time mmaction2 1.2.0's detector (the reference environment built by
`bash ../shared/reference/setup_venv.sh DIR`, its `mmcv_shim` installed) in the same run, on the same input size,
batch, threads and boxes: its ViT backbone (`mmaction/.mim/configs/detection/videomae/` config of the variant) +
RoI extractor + bbox head, fp32 on the CPU; the table then shows mmaction2's time and our speed-up over it.

Each (variant, attention, dtype) runs in a fresh subprocess so that the CPU peak memory (max RSS) is its own. Weights
are random (speed does not depend on them). FLOPs are counted analytically (a multiply-add = 2 FLOPs) for the
backbone, which is all but a fraction of a percent of the model's work; "share of peak" divides the achieved FLOP/s
by the `--peak_tflops` you give for the device (e.g. 989 for an H100 SXM in bf16 dense).
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
    shim_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference")
    if not os.path.isfile(os.path.join(shim_dir, "mmcv_shim.py")):
        raise SystemExit(f"error: mmcv_shim.py not found in {os.path.abspath(shim_dir)} (../shared/reference)")
    script = REFERENCE_SCRIPT.format(shim_dir=os.path.abspath(shim_dir), config=REFERENCE_CONFIGS[variant],
                                     batch=args.batch_size, height=args.height, width=args.width,
                                     warmup=args.warmup, repeats=args.repeats)
    result = subprocess.run([args.reference_python, "-c", script], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: the reference forward failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_one(args) -> dict:
    import torch

    from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection

    torch.manual_seed(0)
    config = VideoMAEActionDetectionConfig(**VARIANTS[args.variant])
    dtype = getattr(torch, args.dtype)
    model = VideoMAEForActionDetection(config).eval().to(device=args.device, dtype=dtype)
    model.set_attn_implementation(args.attn)
    pixel_values = torch.randn(args.batch_size, 16, 3, args.height, args.width, device=args.device, dtype=dtype)
    boxes = [torch.tensor([[10.0, 20.0, 120.0, 240.0], [100.0, 30.0, 300.0, 250.0]], device=args.device)] * args.batch_size

    def forward():
        with torch.inference_mode():
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
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["base"], choices=sorted(VARIANTS))
    parser.add_argument("--attns", nargs="+", default=["eager", "sdpa"])
    parser.add_argument("--dtypes", nargs="+", default=["float32"])
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
    parser.add_argument("--_single", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--attn", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._single:
        print(json.dumps(run_one(args)))
        return

    rows = []
    for variant in args.variants:
        for dtype in args.dtypes:
            for attn in args.attns:
                command = [
                    sys.executable, __file__, "--_single", "--variant", variant, "--attn", attn, "--dtype", dtype,
                    "--device", args.device, "--batch_size", str(args.batch_size), "--height", str(args.height),
                    "--width", str(args.width), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
                ]
                result = subprocess.run(command, capture_output=True, text=True, check=True)
                rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
                print(f"done: {variant} {dtype} {attn}", file=sys.stderr)

    references = {}
    if args.reference_python:
        for variant in [v for v in args.variants if v in REFERENCE_CONFIGS]:
            references[variant] = run_reference(args, variant)
            print(f"done: mmaction2 {variant}", file=sys.stderr)

    print(f"\nVideoMAEForActionDetection forward, 16x{args.height}x{args.width}, batch {args.batch_size}, device {args.device}")
    if references:
        print("mmaction2 1.2.0 in the same run: " + ", ".join(
            f"{variant} {ref['seconds_per_batch']:.3f} s / batch ({ref['threads']} threads)"
            for variant, ref in references.items()))
    header = "| variant | attention | dtype | s / batch | clips / s | backbone TFLOP/s | share of peak | peak memory (GiB) |"
    print(header + (" speed-up over mmaction2 |" if references else ""))
    print("|---" * (9 if references else 8) + "|")
    for row in rows:
        share = f"{100 * row['tflops'] / args.peak_tflops:.1f}%" if args.peak_tflops else "n/a"
        print(
            f"| {row['variant']} | {row['attn']} | {row['dtype']} | {row['seconds_per_batch']:.3f} | "
            f"{row['clips_per_second']:.3f} | {row['tflops']:.3f} | {share} | {row['peak_memory_gib']:.2f} |"
            + (f" {references[row['variant']]['seconds_per_batch'] / row['seconds_per_batch']:.2f}x |"
               if row["variant"] in references else "")
        )


if __name__ == "__main__":
    main()
