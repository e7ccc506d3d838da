"""ONNX Runtime vs PyTorch (eager, sdpa) CPU time per clip of VideoMAEForActionDetection, measured in one run.

    pip install -e ".[export]"
    python benchmarks/bench_onnx.py                      # ViT-B, 1 clip of 16 x 256 x 320, 2 person boxes
    python benchmarks/bench_onnx.py --variant tiny       # a quick smoke run

Weights are random (speed does not depend on them). The model is exported once (`export_onnx`: dynamic batch, H, W
and boxes), then PyTorch and onnxruntime alternate on the same input, `--repeats` times each after one warm-up call,
so that a changing machine load affects both alike. Prints a table row and the ratio; the two outputs are compared.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

VARIANTS = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="base", help="model size (default base)")
    parser.add_argument("--height", type=int, default=256, help="clip height (default 256)")
    parser.add_argument("--width", type=int, default=320, help="clip width (default 320)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per runtime (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads for both (default: library's)")
    args = parser.parse_args(argv)

    import onnxruntime
    import torch

    from videomae_action_detection.modeling import (
        VideoMAEActionDetectionConfig,
        VideoMAEForActionDetection,
        export_onnx,
    )
    from videomae_action_detection.modeling.export_videomae_action_detection import example_inputs

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = VideoMAEActionDetectionConfig(**VARIANTS[args.variant])
    model = VideoMAEForActionDetection(config).eval()
    inputs = example_inputs(config, args.height, args.width, num_boxes=2, batch_size=1)
    inputs["boxes_mask"][:] = True
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        started = time.perf_counter()
        export_onnx(model, path, example_inputs(config, args.height, args.width, num_boxes=2, batch_size=2))
        export_seconds = time.perf_counter() - started
        options = onnxruntime.SessionOptions()
        if args.threads:
            options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {node.name: inputs[name].numpy()
                 for node, name in zip(session.get_inputs(), ("pixel_values", "boxes", "boxes_mask"))}
        timings = {"pytorch": [], "onnxruntime": []}
        with torch.no_grad():
            reference = model(**inputs).logits
            got = torch.from_numpy(session.run(None, feeds)[0])
            for _ in range(args.repeats):
                began = time.perf_counter()
                model(**inputs)
                timings["pytorch"].append(time.perf_counter() - began)
                began = time.perf_counter()
                session.run(None, feeds)
                timings["onnxruntime"].append(time.perf_counter() - began)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    difference = float((got - reference).abs().max())
    print(f"| runtime | s / clip ({args.variant}, 16x{args.height}x{args.width}, 2 boxes, median of {args.repeats}) |")
    print("|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.2f} |")
    print(f"onnxruntime / pytorch time: {medians['onnxruntime'] / medians['pytorch']:.2f}; max |logit difference| "
          f"{difference:.2e}; export {export_seconds:.0f} s; torch threads {torch.get_num_threads()}")
    return {"medians": medians, "difference": difference}


if __name__ == "__main__":
    main()
