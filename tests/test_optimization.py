"""mmaction2's optimizer recipe: layer-wise lr decay groups and the warm-up + cosine schedule."""

import pytest
import torch

from conftest import tiny_config
from videomae_action_detection.modeling import VideoMAEForActionDetection
from videomae_action_detection.training.optimization import (
    layer_decay_parameter_groups,
    layer_id,
    scaled_learning_rate,
    warmup_cosine_factor,
    warmup_cosine_schedule,
)

# mmengine 0.10.7's LinearLR(start_factor=0.1, begin=0, end=50) + CosineAnnealingLR(T_max=150, eta_min=0, begin=50,
# end=200) stepped once per iteration, read off two param groups with initial lr 1.0 and 0.5 (10 iterations per epoch,
# 5 warm-up epochs of 20). Produced by running mmengine itself.
MMENGINE_LRS = {
    0: (0.1, 0.05),
    1: (0.11836734693877551, 0.05918367346938776),
    10: (0.28367346938775506, 0.14183673469387753),
    48: (0.9816326530612245, 0.49081632653061225),
    49: (1.0, 0.5),
    50: (1.0, 0.5),
    51: (0.9998903417374227, 0.4999451708687114),
    60: (0.9890738003669028, 0.4945369001834514),
    100: (0.75, 0.375),
    150: (0.2499999999999999, 0.12499999999999994),
    199: (0.0001096582625772502, 5.48291312886251e-05),
}


def test_schedule_matches_mmengine_per_group():
    parameters = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.SGD([{"params": [parameters[0]], "lr": 1.0}, {"params": [parameters[1]], "lr": 0.5}], lr=1.0)
    scheduler = warmup_cosine_schedule(optimizer, warmup_steps=50, total_steps=200)
    seen = {}
    for step in range(200):
        seen[step] = tuple(group["lr"] for group in optimizer.param_groups)
        optimizer.step()
        scheduler.step()
    for step, expected in MMENGINE_LRS.items():
        assert seen[step] == pytest.approx(expected, rel=1e-12, abs=1e-15), step


def test_layer_ids_and_groups_follow_mmaction2():
    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=3))
    assert layer_id("videomae.embeddings.patch_embeddings.projection.weight", 3) == 0
    assert layer_id("videomae.encoder.layer.0.attention.attention.query.weight", 3) == 1
    assert layer_id("videomae.encoder.layer.2.output.dense.bias", 3) == 3
    assert layer_id("videomae.layernorm.weight", 3) == 4
    assert layer_id("roi_head.classifier.weight", 3) == 4

    groups = {group["name"]: group for group in layer_decay_parameter_groups(model, 1e-3, 0.05, 0.75)}
    assert groups["layer_0_decay"]["lr"] == pytest.approx(1e-3 * 0.75**4)
    assert groups["layer_1_decay"]["lr"] == pytest.approx(1e-3 * 0.75**3)
    assert groups["layer_4_decay"]["lr"] == pytest.approx(1e-3)
    assert groups["layer_4_decay"]["param_names"] == ["roi_head.classifier.weight"]
    assert set(groups["layer_4_no_decay"]["param_names"]) == {"videomae.layernorm.weight", "videomae.layernorm.bias", "roi_head.classifier.bias"}
    assert groups["layer_0_no_decay"]["param_names"] == ["videomae.embeddings.patch_embeddings.projection.bias"]
    assert all(group["weight_decay"] == 0.0 for name, group in groups.items() if name.endswith("no_decay"))
    assert all(group["weight_decay"] == 0.05 for name, group in groups.items() if name.endswith("_decay") and "no_" not in name)
    # every trainable parameter is in exactly one group
    grouped = [name for group in groups.values() for name in group["param_names"]]
    assert sorted(grouped) == sorted(name for name, _ in model.named_parameters())


def test_vit_b_scales_match_mmaction2_reference():
    # ViT-B's 12 blocks (at a tiny width): 14 layer ids, whose lr scales mmaction2 gives as 0.75 ** (13 - layer id)
    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=12, hidden_size=8, num_attention_heads=2, intermediate_size=8))
    scales = {group["layer_id"]: group["lr_scale"] for group in layer_decay_parameter_groups(model, 1.25e-4, 0.05, 0.75)}
    assert sorted(scales) == list(range(14))
    assert scales[0] == pytest.approx(0.02376, abs=1e-5) and scales[1] == pytest.approx(0.03168, abs=1e-5)
    assert scales[6] == pytest.approx(0.1335, abs=1e-4) and scales[12] == 0.75 and scales[13] == 1.0


def test_linear_scaling_and_short_warmups():
    assert scaled_learning_rate(1.25e-4, 64, 16) == pytest.approx(3.125e-5)
    assert warmup_cosine_factor(0, warmup_steps=1, total_steps=10) == 1.0
    assert warmup_cosine_factor(0, warmup_steps=0, total_steps=10) == 1.0
    assert warmup_cosine_factor(10, warmup_steps=0, total_steps=10) == pytest.approx(0.0)
