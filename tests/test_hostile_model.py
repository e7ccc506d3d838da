"""Hostile input to the model: clear ValueErrors in eager mode; the checks stay out of
traced graphs (tests/test_model_export.py)."""

import pytest
import torch

from test_model_conventions import _tiny_inputs


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda inputs: inputs.update(pixel_values=(inputs["pixel_values"] * 50).to(torch.uint8)), "floating-point"),
        (lambda inputs: inputs.update(pixel_values=inputs["pixel_values"].to(torch.int64)), "floating-point"),
        (lambda inputs: inputs["pixel_values"].__setitem__((0, 1, 2, 3, 4), float("nan")), "NaN or infinite"),
        (lambda inputs: inputs["pixel_values"].__setitem__((1, 0, 0, 0, 0), float("inf")), "NaN or infinite"),
        (lambda inputs: inputs.update(pixel_values=inputs["pixel_values"][:0], boxes=inputs["boxes"][:0],
                                      boxes_mask=inputs["boxes_mask"][:0]), "0 clips"),
    ],
)
@pytest.mark.parametrize("box_form", ["padded", "list"])
def test_bad_pixel_values_are_a_clear_error(tiny_model, change, message, box_form):
    inputs = _tiny_inputs()
    change(inputs)
    if box_form == "list":
        inputs["boxes"] = [clip[mask] for clip, mask in zip(inputs.pop("boxes"), inputs.pop("boxes_mask"))]
    with pytest.raises(ValueError, match=message):
        tiny_model(**inputs)
