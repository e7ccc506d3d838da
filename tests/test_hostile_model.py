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


def test_padded_boxes_without_a_mask_are_checked_box_by_box(tiny_model):
    """Without `boxes_mask` every row of a (B, N, 4) tensor is a box: valid rows run, a row with x2 < x1 is named."""
    inputs = _tiny_inputs(num_boxes=3)
    del inputs["boxes_mask"]
    with torch.no_grad():
        assert tiny_model(**inputs).logits.shape == (2, 3, tiny_model.config.num_labels)
    inputs["boxes"][1, 0] = torch.tensor([20.0, 5.0, 10.0, 15.0])
    with pytest.raises(ValueError, match=r"boxes\[0\]` holds boxes with x2 < x1"):
        tiny_model(**inputs)
