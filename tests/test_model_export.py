"""torch.export (dynamic H, W, N), torch.compile(fullgraph=True) and ONNX (run by onnxruntime) of the detector on
padded boxes: each gives the eager logits within 1e-4."""

import numpy as np
import pytest
import torch

from conftest import tiny_config
from test_model_conventions import _tiny_inputs


@pytest.fixture(scope="module")
def model():
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    return VideoMAEForActionDetection(tiny_config(num_labels=5)).eval()


def _eager_logits(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


def test_torch_export_with_dynamic_height_width_and_boxes(model):
    from videomae_action_detection.modeling import export_dynamic_shapes

    program = torch.export.export(model, (), kwargs=_tiny_inputs(), dynamic_shapes=export_dynamic_shapes())
    for inputs in (_tiny_inputs(), _tiny_inputs(batch_size=2, num_boxes=5, height=48, width=64, generator_seed=3)):
        got = program.module()(**inputs)["logits"]
        torch.testing.assert_close(got, _eager_logits(model, inputs), rtol=0, atol=1e-4)
        assert (got[~inputs["boxes_mask"]] == -100).all()


def test_compile_fullgraph(model):
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    inputs = _tiny_inputs()
    with torch.no_grad():
        torch.testing.assert_close(compiled(**inputs).logits, _eager_logits(model, inputs), rtol=0, atol=1e-4)


def test_padded_path_matches_the_list_path(model):
    inputs = _tiny_inputs()
    box_list = [clip[mask] for clip, mask in zip(inputs["boxes"], inputs["boxes_mask"])]
    with torch.no_grad():
        padded = model(**inputs).logits
        listed = model(pixel_values=inputs["pixel_values"], boxes=box_list).logits
    torch.testing.assert_close(padded[:, : listed.shape[1]][inputs["boxes_mask"][:, : listed.shape[1]]],
                               listed[inputs["boxes_mask"][:, : listed.shape[1]]], rtol=0, atol=0)


def test_onnx_export_runs_in_onnxruntime(model, tmp_path):
    import onnxruntime  # the `export` extra: pip install -e ".[test,export]"

    from videomae_action_detection.modeling import export_onnx

    path = export_onnx(model, tmp_path / "model.onnx", _tiny_inputs())
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for inputs in (_tiny_inputs(), _tiny_inputs(batch_size=1, num_boxes=4, height=64, width=48, generator_seed=5)):
        feeds = {node.name: inputs[name].numpy() for node, name in zip(session.get_inputs(), ("pixel_values", "boxes", "boxes_mask"))}
        logits = session.run(["logits"], feeds)[0]
        np.testing.assert_allclose(logits, _eager_logits(model, inputs).numpy(), rtol=0, atol=1e-4)


def test_export_command_writes_a_checked_onnx_file(model, tmp_path, capsys):
    from videomae_action_detection.training.publishing.onnx_export import main

    model.save_pretrained(tmp_path / "detector")
    output = tmp_path / "detector.onnx"
    assert main(["--model", str(tmp_path / "detector"), "--output", str(output), "--height", "48", "--width", "64"]) == 0
    assert output.stat().st_size > 0
    assert "max |logit difference|" in capsys.readouterr().out
    assert main(["--model", str(tmp_path / "detector"), "--output", str(output)]) == 2
