"""Export of `VideoMAEForActionDetection` on padded boxes: `torch.export`, ONNX (through `torch.onnx.export(...,
dynamo=True)`, run with onnxruntime).

    videomae-ava-export --model path/to/detector --output detector.onnx      # needs pip install ".[export]"
    (the command and its onnxruntime check: `training/publishing/onnx_export.py`)

The exported graph takes `pixel_values (B, T, 3, H, W)`, `boxes (B, N, 4)` pixels and `boxes_mask (B, N)` bool, with
H, W and N dynamic, and returns `logits (B, N, num_labels)` (-100 on padding rows) and `boxes_mask`. Input checks
that read tensor values run in eager mode only (see the model's `forward`).

This file is part of the model's remote code: it imports only torch (`torch.onnx` needs onnx and onnxscript when
exporting to ONNX).
"""

import os

import torch

# Smallest input side the graph accepts: 2 patches of 16 pixels (the bicubic resize of the position table needs a
# grid of at least 2 x 2).
MIN_SIDE = 32
MAX_SIDE = 2048
MAX_BOXES = 1024


def export_dynamic_shapes(batch_dynamic: bool = False) -> dict:
    """`dynamic_shapes` for `torch.export.export(model, (), kwargs={pixel_values, boxes, boxes_mask}, ...)`: dynamic
    height, width (32..2048) and number of boxes (1..1024); the batch size too when `batch_dynamic`."""
    height = torch.export.Dim("height", min=MIN_SIDE, max=MAX_SIDE)
    width = torch.export.Dim("width", min=MIN_SIDE, max=MAX_SIDE)
    boxes = torch.export.Dim("num_boxes", min=1, max=MAX_BOXES)
    shapes = {"pixel_values": {3: height, 4: width}, "boxes": {1: boxes}, "boxes_mask": {1: boxes}}
    if batch_dynamic:
        batch = torch.export.Dim("batch", min=1, max=256)
        for name in shapes:
            shapes[name][0] = batch
    return shapes


def export_onnx(model, path: str | os.PathLike, example_inputs: dict, optimize: bool = True):
    """Write `model` (eval mode) as ONNX to `path` through the dynamo exporter, with dynamic batch size, H, W and N.

    Args:
        example_inputs: `{"pixel_values", "boxes", "boxes_mask"}` tensors of the shapes above.

    Returns:
        the path. Inputs of the ONNX graph, in order: pixel_values, boxes, boxes_mask; outputs: logits, boxes_mask.
    """
    model = model.eval()
    inputs = {name: example_inputs[name] for name in ("pixel_values", "boxes", "boxes_mask")}
    program = torch.onnx.export(model, (), kwargs=inputs, dynamic_shapes=export_dynamic_shapes(batch_dynamic=True), dynamo=True,
                                optimize=optimize, output_names=["logits", "boxes_mask_out"], verbose=False)
    program.save(os.fspath(path))
    return path


def example_inputs(config, height: int = 256, width: int = 320, num_boxes: int = 2, batch_size: int = 2) -> dict:
    """Random `{pixel_values, boxes, boxes_mask}` for `config` (boxes inside the frame, the last one padding)."""
    generator = torch.Generator().manual_seed(0)
    pixel_values = torch.randn((batch_size, config.num_frames, config.num_channels, height, width), generator=generator)
    corners = torch.rand((batch_size, num_boxes, 2), generator=generator) * torch.tensor([width / 2, height / 2])
    boxes = torch.cat([corners, corners + torch.tensor([width / 3, height / 3])], dim=-1)
    boxes_mask = torch.ones((batch_size, num_boxes), dtype=torch.bool)
    boxes_mask[-1, -1] = False
    return {"pixel_values": pixel_values, "boxes": boxes, "boxes_mask": boxes_mask}



__all__ = ["example_inputs", "export_dynamic_shapes", "export_onnx"]
