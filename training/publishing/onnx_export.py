"""`videomae-ava-export`: a `VideoMAEForActionDetection` folder -> ONNX (dynamic batch, height, width and number of
boxes), checked against PyTorch with onnxruntime.

    videomae-ava-export --model path/to/detector --output detector.onnx      # needs pip install ".[export]"

The graph itself is made by `modeling/export_videomae_action_detection.py` (`export_onnx`); this module adds what a
deployment step needs and the model's remote code must not import: onnxruntime and the command.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from transformers import AutoModel

from ...modeling.export_videomae_action_detection import example_inputs, export_onnx

ONNX_TOLERANCE = 1e-4  # max |onnxruntime logits - PyTorch eager logits| the command accepts


def max_onnx_difference(model, path, inputs: dict) -> float:
    """Max |onnxruntime logits - PyTorch eager logits| on `inputs`."""
    import onnxruntime

    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    names = ("pixel_values", "boxes", "boxes_mask")
    feeds = {node.name: inputs[name].numpy() for node, name in zip(session.get_inputs(), names)}
    with torch.no_grad():
        expected = model(**inputs).logits
    got = torch.from_numpy(session.run(None, feeds)[0])
    return float((got - expected).abs().max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Export a VideoMAEForActionDetection folder to ONNX (dynamic batch, "
                                     "height, width and number of boxes) and check it with onnxruntime.")
    parser.add_argument("--model", required=True, help="the detector folder or Hub id")
    parser.add_argument("--output", required=True, help="the .onnx file to write (must not exist)")
    parser.add_argument("--height", type=int, default=256, help="example input height for tracing (default 256)")
    parser.add_argument("--width", type=int, default=320, help="example input width for tracing (default 320)")
    args = parser.parse_args(argv)
    output = os.path.abspath(args.output)
    if os.path.exists(output):
        print(f"error: --output {output} exists", file=sys.stderr)
        return 2
    model = AutoModel.from_pretrained(args.model, trust_remote_code=True).eval()
    inputs = example_inputs(model.config, args.height, args.width)
    export_onnx(model, output, inputs)
    check = example_inputs(model.config, args.height + 32, args.width - 32, num_boxes=3)
    difference = max_onnx_difference(model, output, check)
    print(f"wrote {output}; onnxruntime vs PyTorch on a {args.height + 32}x{args.width - 32} input: max |logit "
          f"difference| {difference:.2e}")
    return 0 if difference <= ONNX_TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())
