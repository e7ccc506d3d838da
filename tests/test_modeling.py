"""VideoMAEForActionDetection against mmaction2 1.2.0 (fixtures), its loss, loading paths and input checks."""

import itertools
import json
import pickle

import pytest
import torch
from torchvision.ops import StochasticDepth
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel, VideoMAEConfig, VideoMAEForPreTraining, VideoMAEForVideoClassification, VideoMAEModel

from conftest import fixture_path, flat_logits, load_model_case, load_model_case_inputs, run_without_package, tiny_config
from videomae_action_detection.training.publishing.conversion import save_converted
from videomae_action_detection.training.publishing.mmaction2_checkpoint import ConversionError
from videomae_action_detection.training.publishing.mmaction2_keys import convert_detection_checkpoint
from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
from videomae_action_detection.modeling.loss_videomae_action_detection import assign_proposals_to_ground_truth
from videomae_action_detection.modeling.modeling_videomae_action_detection import PADDING_LOGIT
from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError

MODEL_CASES = ["interp_batch2", "square224_training_checkpoint"]




@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("case", MODEL_CASES)
def test_converted_model_reproduces_mmaction2(case, attn_implementation):
    folder, tensors, pixel_values, boxes = load_model_case_inputs(case)
    model, report = convert_detection_checkpoint(folder / "checkpoint.pth")
    model.set_attn_implementation(attn_implementation)
    with torch.no_grad():
        output = model(pixel_values, boxes, output_feature_map=True)
    logits = flat_logits(output.logits, boxes)
    logit_difference = (logits - tensors["logits"][:, 1:]).abs().max().item()
    score_difference = (logits.sigmoid() - tensors["scores"][:, 1:]).abs().max().item()
    feature_difference = (output.feature_map - tensors["feature_map"]).abs().max().item()
    print(
        f"\n{case} [{attn_implementation}]: max |logits - mmaction2| = {logit_difference:.3g}, "
        f"scores {score_difference:.3g}, feature map {feature_difference:.3g}"
    )
    assert output.feature_map.shape == tensors["feature_map"].shape
    assert logit_difference <= 1e-4
    assert score_difference <= 1e-4
    assert feature_difference <= 1e-4
    # every source key is accounted for: mapped, or the fixed position table checked and dropped
    assert set(report.dropped) == {"backbone.pos_embed"}
    assert report.num_source_keys == 1 + 2 + 2 + 13 * model.config.num_hidden_layers + 2  # pos, patch, norm, blocks, head


def test_roi_features_match_mmaction2():
    folder, tensors, pixel_values, boxes = load_model_case_inputs("interp_batch2")
    model, _ = convert_detection_checkpoint(folder / "checkpoint.pth")
    with torch.no_grad():
        feature_map, _ = model.videomae(pixel_values)
        roi_features = model.roi_head.roi_features(feature_map.mean(2), tensors["rois"])
    difference = (roi_features - tensors["roi_features"][:, :, 0]).abs().max().item()
    print(f"\nRoI features: max |ours - mmaction2| = {difference:.3g}")
    assert difference <= 1e-5


def test_training_loss_and_assignment_match_mmaction2():
    folder = fixture_path("mmaction2_model", "loss_batch2")
    tensors = load_model_case("loss_batch2")
    expected = json.loads((folder / "case.json").read_text())["losses"]["loss_action_cls"]
    model, _ = convert_detection_checkpoint(folder / "checkpoint.pth")
    model.train()
    for module in model.modules():  # the fixture was made with stochastic depth and head dropout off
        if isinstance(module, (torch.nn.Dropout, StochasticDepth)):
            module.eval()
    pixel_values = tensors["pixel_values"].permute(0, 2, 1, 3, 4)
    proposals = [tensors["proposals_0"], tensors["proposals_1"]]
    gt_boxes = [tensors["gt_boxes_0"], tensors["gt_boxes_1"]]
    labels = [tensors["gt_labels_0"][:, 1:], tensors["gt_labels_1"][:, 1:]]  # drop mmaction2's background column

    for i in range(2):
        assigned, max_iou = assign_proposals_to_ground_truth(proposals[i], gt_boxes[i])
        assert assigned.tolist() == tensors[f"assigned_gt_index_{i}"].tolist()
        torch.testing.assert_close(max_iou, tensors[f"assigned_max_iou_{i}"], rtol=0, atol=1e-6)

    loss = model(pixel_values, proposals, labels=labels, gt_boxes=gt_boxes).loss
    print(f"\nloss {loss.item():.7f} vs mmaction2 {expected:.7f}: difference {abs(loss.item() - expected):.3g}")
    assert abs(loss.item() - expected) <= 1e-5
    loss.backward()
    assert model.roi_head.classifier.weight.grad.abs().sum() > 0

    # the same batch padded, as the Trainer collates it: GT padding rows are filled with -100
    padded_boxes = torch.zeros(2, 3, 4)
    padded_boxes[0], padded_boxes[1, :2] = proposals[0], proposals[1]
    boxes_mask = torch.tensor([[True, True, True], [True, True, False]])
    padded_gt = torch.zeros(2, 2, 4)
    padded_gt[0], padded_gt[1, :1] = gt_boxes[0], gt_boxes[1]
    padded_labels = torch.full((2, 2, 80), -100.0)
    padded_labels[0], padded_labels[1, :1] = labels[0], labels[1]
    padded_loss = model(pixel_values, padded_boxes, boxes_mask=boxes_mask, labels=padded_labels, gt_boxes=padded_gt).loss
    assert abs(padded_loss.item() - loss.item()) <= 1e-6


def test_low_quality_matching_reassigns_to_the_later_ground_truth():
    proposals = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])  # both match the proposal exactly
    assigned, _ = assign_proposals_to_ground_truth(proposals, gt)
    assert assigned.tolist() == [2]  # mmdet loops over gts in order; the last equal one wins
    assigned, max_iou = assign_proposals_to_ground_truth(proposals, torch.zeros(0, 4))
    assert assigned.tolist() == [0] and max_iou.tolist() == [0.0]


def test_at_most_sampler_num_positives_enter_the_loss():
    torch.manual_seed(0)
    model = VideoMAEForActionDetection(tiny_config(sampler_num=3, head_dropout=0.0)).train()
    with torch.no_grad():
        model.roi_head.classifier.weight.mul_(100.0)  # make nearby boxes' losses clearly different
    pixel_values = torch.randn(1, 4, 3, 64, 64)
    gt = torch.tensor([[8.0, 8.0, 40.0, 40.0]])
    # 5 distinct proposals, each a positive (IoU >= 0.9 with the ground truth): 6 candidates, 3 kept
    proposals = gt + torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0], [-1.0, 0.0, 0.0, 0.0],
                                   [0.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
    labels = [torch.zeros(1, 80)]
    labels[0][0, 11] = 1
    loss = model(pixel_values, [proposals], labels=labels, gt_boxes=[gt]).loss
    # Each candidate's own loss, from the same weights (no dropout / stochastic depth in this config).
    with torch.no_grad():
        candidate_logits = model.eval()(pixel_values, [torch.cat([gt, proposals])]).logits[0]
    row_losses = torch.nn.functional.binary_cross_entropy_with_logits(
        candidate_logits, labels[0].expand(6, -1), reduction="none").mean(dim=1)
    subset_means = torch.stack([row_losses[list(rows)].mean() for rows in itertools.combinations(range(6), 3)])
    assert (subset_means - loss.detach()).abs().min() < 1e-6  # the mean over exactly 3 candidates
    assert (row_losses.mean() - loss.detach()).abs() > 1e-4  # not over all 6 (the candidates differ)


def test_select_positive_rois_caps_the_count():
    from videomae_action_detection.modeling.loss_videomae_action_detection import select_positive_rois

    assigned = torch.tensor([1, 0, 1, 1, 1])
    rois, gts = select_positive_rois(5, assigned, num_gt=1, max_positives=32)
    assert rois.tolist() == [5, 0, 2, 3, 4] and gts.tolist() == [0, 0, 0, 0, 0]
    generator = torch.Generator().manual_seed(0)
    rois, gts = select_positive_rois(5, assigned, num_gt=1, max_positives=3, generator=generator)
    assert len(rois) == 3 and set(rois.tolist()) <= {5, 0, 2, 3, 4}


def test_padded_and_list_boxes_agree_and_empty_clips_work(tiny_model):
    torch.manual_seed(1)
    pixel_values = torch.randn(3, 4, 3, 48, 40)
    boxes = [torch.tensor([[1.0, 2.0, 30.0, 40.0], [0.0, 0.0, 40.0, 48.0]]), torch.zeros(0, 4), torch.tensor([[5.0, 5.0, 5.0, 20.0]])]
    with torch.no_grad():
        listed = tiny_model(pixel_values, boxes)
        padded = torch.zeros(3, 2, 4)
        padded[0], padded[2, :1] = boxes[0], boxes[2]
        mask = torch.tensor([[True, True], [False, False], [True, False]])
        from_padded = tiny_model(pixel_values, padded, boxes_mask=mask)
    assert listed.logits.shape == (3, 2, 80)
    assert listed.boxes_mask.tolist() == mask.tolist()
    torch.testing.assert_close(listed.logits, from_padded.logits)
    assert (listed.logits[1] == PADDING_LOGIT).all() and (listed.logits[2, 1] == PADDING_LOGIT).all()
    # a batch where no clip has a box
    with torch.no_grad():
        empty = tiny_model(pixel_values, [torch.zeros(0, 4)] * 3)
    assert empty.logits.shape == (3, 0, 80)


def test_any_input_size_and_pixels_beyond_the_last_patch_are_ignored(tiny_model):
    torch.manual_seed(2)
    pixel_values = torch.randn(1, 4, 3, 37, 53)  # 2 x 3 patches, 5 and 5 leftover pixels
    boxes = [torch.tensor([[0.0, 0.0, 30.0, 30.0]])]
    with torch.no_grad():
        full = tiny_model(pixel_values, boxes, output_feature_map=True)
        cropped = tiny_model(pixel_values[..., :32, :48].clone(), boxes, output_feature_map=True)
    assert full.feature_map.shape == (1, 32, 2, 2, 3)
    torch.testing.assert_close(full.feature_map, cropped.feature_map)


def test_hidden_states_and_gradient_checkpointing():
    torch.manual_seed(3)
    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=2, drop_path_rate=0.1))
    pixel_values = torch.randn(2, 4, 3, 32, 48)
    boxes = [torch.tensor([[0.0, 0.0, 20.0, 30.0]]), torch.tensor([[4.0, 4.0, 40.0, 30.0]])]
    model.eval()
    with torch.no_grad():
        output = model(pixel_values, boxes, output_hidden_states=True)
    assert len(output.hidden_states) == 3 and output.hidden_states[0].shape == (2, 2 * 2 * 3, 32)
    model.train()
    model.gradient_checkpointing_enable()
    labels = [torch.eye(80)[:1], torch.eye(80)[1:2]]
    loss = model(pixel_values, boxes, labels=labels, gt_boxes=boxes).loss
    loss.backward()
    assert all(p.grad is not None for p in model.videomae.encoder.parameters())


def test_stochastic_depth_rates_follow_mmaction2():
    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=4, drop_path_rate=0.3))
    rates = [getattr(layer.drop_path, "p", 0.0) for layer in model.videomae.encoder.layer]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert isinstance(model.videomae.encoder.layer[0].drop_path, torch.nn.Identity)


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda: (torch.randn(4, 3, 32, 32), [torch.zeros(0, 4)]), "pixel_values"),
        (lambda: (torch.randn(1, 4, 2, 32, 32), [torch.zeros(0, 4)]), "channels"),
        (lambda: (torch.randn(1, 5, 3, 32, 32), [torch.zeros(0, 4)]), "num_frames=4"),
        (lambda: (torch.randn(1, 4, 3, 15, 32), [torch.zeros(0, 4)]), "at least the patch size"),
        (lambda: (torch.randn(1, 4, 3, 32, 32), [torch.zeros(2, 3)]), "boxes\\[0\\]"),
        (lambda: (torch.randn(1, 4, 3, 32, 32), torch.zeros(1, 2, 5)), "padded"),
        (lambda: (torch.randn(1, 4, 3, 32, 32), [torch.zeros(1, 4), torch.zeros(1, 4)]), "list of 1"),
        (lambda: (torch.randn(1, 4, 3, 32, 32), [torch.tensor([[0.0, float("nan"), 4.0, 4.0]])]), "NaN"),
        (lambda: (torch.randn(1, 4, 3, 32, 32), [torch.tensor([[8.0, 0.0, 4.0, 4.0]])]), "x2 < x1"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(tiny_model, make_input, message):
    pixel_values, boxes = make_input()
    with pytest.raises(ValueError, match=message):
        tiny_model(pixel_values, boxes)


def test_labels_need_ground_truth_boxes_of_matching_length(tiny_model):
    pixel_values = torch.randn(1, 4, 3, 32, 32)
    boxes = [torch.tensor([[0.0, 0.0, 16.0, 16.0]])]
    with pytest.raises(ValueError, match="gt_boxes"):
        tiny_model(pixel_values, boxes, labels=[torch.zeros(1, 80)])
    with pytest.raises(ValueError, match="labels\\[0\\]"):
        tiny_model(pixel_values, boxes, labels=[torch.zeros(2, 80)], gt_boxes=boxes)


def test_config_defaults_are_the_vit_b_recipe():
    config = VideoMAEActionDetectionConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size) == (768, 12, 12, 3072)
    assert (config.patch_size, config.tubelet_size, config.num_frames, config.image_size) == (16, 2, 16, 224)
    assert config.layer_norm_eps == 1e-6 and config.qv_bias and not config.use_mean_pooling
    assert config.drop_path_rate == 0.2 and config.head_dropout == 0.5
    assert (config.roi_output_size, config.roi_spatial_scale, config.roi_sampling_ratio, config.roi_aligned) == (8, 1 / 16, 0, True)
    assert (config.assigner_pos_iou_threshold, config.sampler_num, config.sampler_add_gt_as_proposals) == (0.9, 32, True)
    assert (config.focal_gamma, config.focal_alpha) == (0.0, 1.0)
    assert config.num_labels == 80 and config.id2label[11] == "stand" and config.id2label[78] == "talk to (e.g., self, a person, a group)"
    with pytest.raises(ValueError, match="use_mean_pooling"):
        VideoMAEActionDetectionConfig(use_mean_pooling=True)


def test_auto_classes_and_round_trip(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "videomae_action_detection"
    assert config["auto_map"]["AutoModel"] == "modeling_videomae_action_detection.VideoMAEForActionDetection"
    assert {"modeling_videomae_action_detection.py", "configuration_videomae_action_detection.py", "ava_labels.py",
            "loss_videomae_action_detection.py"} <= {p.name for p in tmp_path.iterdir()}
    assert isinstance(AutoConfig.from_pretrained(tmp_path), VideoMAEActionDetectionConfig)
    reloaded = AutoModel.from_pretrained(tmp_path).eval()
    pixel_values, boxes = torch.randn(1, 4, 3, 32, 32), [torch.tensor([[0.0, 0.0, 20.0, 20.0]])]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(pixel_values, boxes).logits, tiny_model(pixel_values, boxes).logits, rtol=0, atol=0)


def test_remote_code_load_without_the_package_gives_identical_logits(tmp_path):
    folder, tensors, pixel_values, boxes = load_model_case_inputs("interp_batch2")
    model, _ = convert_detection_checkpoint(folder / "checkpoint.pth")
    save_converted(model, tmp_path / "converted")
    with torch.no_grad():
        expected = flat_logits(model(pixel_values, boxes).logits, boxes)
    torch.save({"pixel_values": pixel_values, "boxes": boxes}, tmp_path / "inputs.pt")
    result = run_without_package(
        f"""
        import torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(tmp_path / 'converted')!r}, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
        inputs = torch.load({str(tmp_path / 'inputs.pt')!r})
        with torch.no_grad():
            logits = model(inputs["pixel_values"], inputs["boxes"]).logits
        torch.save(logits, {str(tmp_path / 'remote_logits.pt')!r})
        """
    )
    remote = torch.load(tmp_path / "remote_logits.pt")
    remote = flat_logits(remote, boxes)
    difference = (remote - expected).abs().max().item()
    print(f"\nremote-code logits vs in-package: max abs difference {difference}")
    assert difference == 0.0
    assert (remote - tensors["logits"][:, 1:]).abs().max() <= 1e-4
    assert result.returncode == 0


def _tiny_videomae_config():
    return VideoMAEConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, num_frames=4, image_size=32,
        num_labels=7, decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
        decoder_intermediate_size=32,
    )


@pytest.mark.parametrize("videomae_class", [VideoMAEModel, VideoMAEForVideoClassification, VideoMAEForPreTraining])
@pytest.mark.parametrize("bias_format", ["query.bias", "q_bias"])
def test_backbone_from_transformers_videomae_checkpoints(tmp_path, videomae_class, bias_format):
    torch.manual_seed(0)
    source = videomae_class(_tiny_videomae_config())
    with torch.no_grad():  # non-zero biases, so a bias that silently stays at its zero init shows
        for name, parameter in source.named_parameters():
            if name.endswith("bias"):
                parameter.normal_()
    source.save_pretrained(tmp_path)
    weights_file = tmp_path / "model.safetensors"
    stored = load_file(str(weights_file))
    if bias_format == "q_bias":  # the Hub's MCG-NJU checkpoints store q_bias / v_bias
        stored = {k.replace("attention.query.bias", "attention.q_bias").replace("attention.value.bias", "attention.v_bias"): v for k, v in stored.items()}
    else:
        stored = {k.replace("attention.q_bias", "attention.query.bias").replace("attention.v_bias", "attention.value.bias"): v for k, v in stored.items()}
    save_file(stored, str(weights_file), metadata={"format": "pt"})
    assert any(bias_format in key for key in stored)

    model, info = VideoMAEForActionDetection.from_pretrained(tmp_path, output_loading_info=True, drop_path_rate=0.05)
    assert isinstance(model.config, VideoMAEActionDetectionConfig)
    assert model.config.layer_norm_eps == 1e-6 and model.config.drop_path_rate == 0.05 and model.config.num_labels == 80
    assert set(info["missing_keys"]) == {"videomae.layernorm.weight", "videomae.layernorm.bias", "roi_head.classifier.weight", "roi_head.classifier.bias"}
    source_state = source.state_dict()
    prefix = "" if videomae_class is VideoMAEModel else "videomae."
    compared = 0
    for key, value in model.state_dict().items():
        source_key = prefix + key.removeprefix("videomae.")
        if key.startswith("videomae.") and source_key in source_state:
            torch.testing.assert_close(value, source_state[source_key], rtol=0, atol=0, msg=key)
            compared += 1
    assert compared == 2 + 2 * 15  # patch embedding + 15 tensors per block
    query_bias = model.state_dict()["videomae.encoder.layer.1.attention.attention.query.bias"]
    assert query_bias.abs().sum() > 0


def test_converter_reads_training_checkpoints_and_refuses_code(tmp_path):
    folder = fixture_path("mmaction2_model", "square224_training_checkpoint")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(folder / "checkpoint.pth", weights_only=True)  # mmengine objects: the safe default refuses it
    model, report = convert_detection_checkpoint(folder / "checkpoint.pth")  # ... our restricted loader reads it
    assert model.config.num_hidden_layers == 1 and model.config.num_attention_heads == 2

    class RunsCode:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    malicious = tmp_path / "malicious.pth"
    torch.save({"state_dict": {"backbone.norm.weight": torch.ones(2)}, "meta": RunsCode()}, malicious)
    with pytest.raises(UntrustedPickleError, match="system"):
        convert_detection_checkpoint(malicious)
    assert not (tmp_path / "pwned").exists()


def test_converter_fails_loudly_on_foreign_or_incomplete_checkpoints(tmp_path):
    folder = fixture_path("mmaction2_model", "interp_batch2")
    checkpoint = torch.load(folder / "checkpoint.pth", weights_only=True)
    state_dict = checkpoint["state_dict"]

    extra = tmp_path / "extra.pth"
    torch.save({"state_dict": {**state_dict, "roi_head.bbox_head.fc_extra.weight": torch.ones(3)}}, extra)
    with pytest.raises(ConversionError, match="fc_extra"):
        convert_detection_checkpoint(extra)

    missing = tmp_path / "missing.pth"
    torch.save({"state_dict": {k: v for k, v in state_dict.items() if k != "backbone.blocks.1.attn.v_bias"}}, missing)
    with pytest.raises(ConversionError, match="value.bias"):
        convert_detection_checkpoint(missing)

    slowfast = tmp_path / "slowfast.pth"
    torch.save({"state_dict": {"backbone.slow_path.conv1.weight": torch.ones(64, 3, 1, 7, 7), "roi_head.bbox_head.fc_cls.weight": torch.ones(81, 2304)}}, slowfast)
    with pytest.raises(ConversionError, match="SlowFast"):
        convert_detection_checkpoint(slowfast)


def _timm_drop_path(hidden_states: torch.Tensor, drop_prob: float, random_values: torch.Tensor) -> torch.Tensor:
    """timm / mmcv `drop_path` (what mmaction2's ViT blocks use), given the per-sample uniform draws it makes."""
    keep_prob = 1.0 - drop_prob
    keep = torch.floor(keep_prob + random_values)
    return hidden_states / keep_prob * keep


def test_stochastic_depth_is_mmaction2s_drop_path():
    """The blocks' torchvision `StochasticDepth` keeps or zeroes whole samples like mmcv's `drop_path`, scaling kept
    ones by 1 / (1 - rate), and is the identity in evaluation; the rate follows mmaction2's linspace."""
    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=2, drop_path_rate=0.4))
    drop_path = model.videomae.encoder.layer[1].drop_path
    assert isinstance(drop_path, StochasticDepth) and drop_path.p == pytest.approx(0.4)
    hidden_states = torch.randn(4096, 3, 8)
    drop_path.train()
    torch.manual_seed(0)
    dropped = drop_path(hidden_states)
    kept = (dropped != 0).flatten(1).all(1)
    zeroed = (dropped == 0).flatten(1).all(1)
    assert bool((kept | zeroed).all()), "a sample must be kept or dropped whole"
    assert abs(float(zeroed.float().mean()) - 0.4) < 0.03
    # kept samples equal timm's drop_path output for the same keep pattern (draws chosen to keep exactly those)
    draws = torch.where(kept, 0.99, 0.0).reshape(-1, 1, 1)
    torch.testing.assert_close(dropped, _timm_drop_path(hidden_states, 0.4, draws), rtol=1e-6, atol=0)
    drop_path.eval()
    assert torch.equal(drop_path(hidden_states), hidden_states)
