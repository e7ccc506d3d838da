"""The model used the way transformers users use models: custom label sets, the stock Trainer, attentions,
HF-shaped outputs (issue 12). The mmaction2 parity lives in test_modeling.py; nothing here touches it."""

import json

import pytest
import torch

from conftest import tiny_config


def _tiny_inputs(batch_size=2, num_boxes=3, height=32, width=48, seed=0):
    """Random clips and padded boxes (the last clip has one box fewer) for the tiny config."""
    generator = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn((batch_size, 4, 3, height, width), generator=generator)
    corners = torch.rand((batch_size, num_boxes, 2), generator=generator) * torch.tensor([width / 2, height / 2])
    sizes = 4 + torch.rand((batch_size, num_boxes, 2), generator=generator) * torch.tensor([width / 2, height / 2])
    boxes = torch.cat([corners, corners + sizes], dim=-1)
    boxes_mask = torch.ones((batch_size, num_boxes), dtype=torch.bool)
    boxes_mask[-1, -1] = False
    return {"pixel_values": pixel_values, "boxes": boxes, "boxes_mask": boxes_mask}


# --------------------------------------------------------------------------------------------------- labels (item 1)


def test_custom_id2label_is_kept_with_its_inverse():
    config = tiny_config(id2label={0: "a", 1: "b", 2: "c"})
    assert config.num_labels == 3
    assert config.id2label == {0: "a", 1: "b", 2: "c"}
    assert config.label2id == {"a": 0, "b": 1, "c": 2}
    assert config.label_action_ids == [1, 2, 3]
    assert not config.is_ava_vocabulary

    ava = tiny_config()
    assert ava.num_labels == 80 and ava.id2label[11] == "stand" and ava.label2id["stand"] == 11
    assert ava.is_ava_vocabulary and ava.index_to_action_id(11) == 12

    generic = tiny_config(num_labels=3)
    assert generic.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert generic.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(id2label={0: "a", 1: "b"}, label2id={"a": 1, "b": 0}), "not the inverse"),
        (dict(id2label={0: "a", 1: "a"}), "same name"),
        (dict(id2label={0: "a", 1: "b"}, action_ids=[3]), "action_ids must be 2"),
        (dict(id2label={0: "a", 1: "b"}, action_ids=[3, 3]), "distinct"),
    ],
)
def test_inconsistent_labels_are_an_error(fields, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**fields)


def test_three_label_model_saves_and_loads(tmp_path):
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    model = VideoMAEForActionDetection(tiny_config(id2label={0: "a", 1: "b", 2: "c"}, action_ids=[12, 14, 80])).eval()
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["id2label"] == {"0": "a", "1": "b", "2": "c"} and saved["action_ids"] == [12, 14, 80]

    loaded = VideoMAEForActionDetection.from_pretrained(tmp_path).eval()
    assert loaded.config.id2label == {0: "a", 1: "b", 2: "c"}
    assert loaded.config.label2id == {"a": 0, "b": 1, "c": 2}
    assert loaded.config.label_action_ids == [12, 14, 80]
    assert loaded.config.action_id_to_index(14) == 1
    inputs = _tiny_inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**inputs).logits, rtol=0, atol=0)


def test_from_pretrained_with_another_num_labels_gets_a_consistent_new_head(tmp_path):
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    VideoMAEForActionDetection(tiny_config()).save_pretrained(tmp_path)
    model = VideoMAEForActionDetection.from_pretrained(tmp_path, num_labels=5, ignore_mismatched_sizes=True)
    config = model.config
    assert model.roi_head.classifier.out_features == 5
    assert config.num_labels == 5 and len(config.id2label) == 5
    assert config.label2id == {name: index for index, name in config.id2label.items()}
    assert config.label_action_ids == [1, 2, 3, 4, 5]

    named = VideoMAEForActionDetection.from_pretrained(
        tmp_path, id2label={0: "x", 1: "y"}, action_ids=[7, 9], ignore_mismatched_sizes=True
    )
    assert named.config.label2id == {"x": 0, "y": 1} and named.roi_head.classifier.out_features == 2
