"""The model used the way transformers users use models: custom label sets, the stock Trainer, attentions,
HF-shaped outputs. The mmaction2 parity lives in test_modeling.py; nothing here touches it."""

import json

import numpy as np

import pytest
import torch

from conftest import tiny_config


def _tiny_inputs(batch_size=2, num_boxes=3, height=32, width=48, generator_seed=0):
    """Random clips and padded boxes (the last clip has one box fewer) for the tiny config."""
    generator = torch.Generator().manual_seed(generator_seed)
    pixel_values = torch.randn((batch_size, 4, 3, height, width), generator=generator)
    corners = torch.rand((batch_size, num_boxes, 2), generator=generator) * torch.tensor([width / 2, height / 2])
    sizes = 4 + torch.rand((batch_size, num_boxes, 2), generator=generator) * torch.tensor([width / 2, height / 2])
    boxes = torch.cat([corners, corners + sizes], dim=-1)
    boxes_mask = torch.ones((batch_size, num_boxes), dtype=torch.bool)
    if batch_size > 1:
        boxes_mask[-1, -1] = False
    return {"pixel_values": pixel_values, "boxes": boxes, "boxes_mask": boxes_mask}


# --------------------------------------------------------------------------------------------------- labels


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


# ------------------------------------------------------------------------------------ stock Trainer


class _TinyDetectionSet(torch.utils.data.Dataset):
    """8 clips of the tiny config, 2 boxes each (also the ground truth), 3 random actions per box."""

    def __init__(self, num_labels=3):
        generator = torch.Generator().manual_seed(1)
        self.items = []
        for _ in range(8):
            inputs = _tiny_inputs(batch_size=1, num_boxes=2, generator_seed=int(torch.randint(0, 1000, (), generator=generator)))
            self.items.append({
                "pixel_values": inputs["pixel_values"][0],
                "boxes": inputs["boxes"][0],
                "gt_boxes": inputs["boxes"][0],
                "labels": (torch.rand((2, num_labels), generator=generator) > 0.5).float(),
            })

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def _stock_trainer(output_dir, max_steps, **arguments):
    from transformers import Trainer, TrainingArguments

    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    model = VideoMAEForActionDetection(tiny_config(id2label={0: "a", 1: "b", 2: "c"}))
    args = TrainingArguments(output_dir=str(output_dir), max_steps=max_steps, per_device_train_batch_size=2,
                             learning_rate=1e-2, use_cpu=True, report_to="none", seed=0, save_steps=2,
                             save_strategy="steps", logging_steps=1, disable_tqdm=True, **arguments)
    dataset = _TinyDetectionSet()
    return Trainer(model=model, args=args, train_dataset=dataset, eval_dataset=dataset, **{})


def _bias_state(model):
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def test_stock_trainer_resume_restores_every_weight(tmp_path):
    from safetensors.torch import load_file

    straight = _stock_trainer(tmp_path / "straight", 4)
    straight.train()
    saved = load_file(tmp_path / "straight" / "checkpoint-2" / "model.safetensors")
    assert "videomae.encoder.layer.0.attention.attention.query.bias" in saved
    assert not any("q_bias" in key or "v_bias" in key for key in saved)

    from transformers import TrainerCallback

    class StopAfterTwoSteps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            control.should_training_stop = state.global_step == 2

    interrupted = _stock_trainer(tmp_path / "interrupted", 4)
    interrupted.add_callback(StopAfterTwoSteps())
    interrupted.train()
    resumed = _stock_trainer(tmp_path / "interrupted", 4)
    with torch.no_grad():  # resuming must overwrite every weight, biases included
        for parameter in resumed.model.parameters():
            parameter.add_(1.0)
    resumed.train(resume_from_checkpoint=str(tmp_path / "interrupted" / "checkpoint-2"))
    expected, got = _bias_state(straight.model), _bias_state(resumed.model)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, msg=name)


def test_stock_trainer_loads_the_best_model_with_its_biases(tmp_path):
    from safetensors.torch import load_file

    calls = []

    def compute_metrics(_):  # the first evaluation (step 2) is the best
        calls.append(1)
        return {"score": 1.0 if len(calls) == 1 else 0.0}

    trainer = _stock_trainer(tmp_path / "best", 4, eval_strategy="steps", eval_steps=2, load_best_model_at_end=True,
                             metric_for_best_model="score", greater_is_better=True, label_names=["labels"])
    trainer.compute_metrics = compute_metrics
    trainer.train()
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-2")
    best = load_file(tmp_path / "best" / "checkpoint-2" / "model.safetensors")
    last = load_file(tmp_path / "best" / "checkpoint-4" / "model.safetensors")
    state = trainer.model.state_dict()
    bias = "videomae.encoder.layer.0.attention.attention.query.bias"
    assert not torch.equal(best[bias], last[bias])
    for name, value in best.items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0, msg=name)


# --------------------------------------------------------------------------------------- attentions


def test_output_attentions_are_returned_with_eager_attention():
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=2)).eval()
    inputs = _tiny_inputs()
    with torch.no_grad():
        sdpa_logits = model(**inputs).logits
        with pytest.raises(ValueError, match="needs eager attention"):
            model(**inputs, output_attentions=True)
        model.set_attn_implementation("eager")
        outputs = model(**inputs, output_attentions=True)
    tokens = 2 * 2 * 3  # 4 frames / tubelet 2, 32 x 48 pixels / patch 16
    assert len(outputs.attentions) == 2
    for attention in outputs.attentions:
        assert attention.shape == (2, 4, tokens, tokens)
        torch.testing.assert_close(attention.sum(-1), torch.ones(2, 4, tokens))
    torch.testing.assert_close(outputs.logits, sdpa_logits, rtol=0, atol=1e-5)
    assert model(**inputs).attentions is None


@pytest.mark.parametrize("implementation", ["eager", "sdpa", "flex_attention"])
def test_attention_back_ends_agree(implementation):
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    model = VideoMAEForActionDetection(tiny_config()).eval()
    inputs = _tiny_inputs()
    with torch.no_grad():
        model.set_attn_implementation("eager")
        expected = model(**inputs).logits
        model.set_attn_implementation(implementation)
        torch.testing.assert_close(model(**inputs).logits, expected, rtol=0, atol=1e-5)


def test_unknown_forward_arguments_are_an_error(tiny_model):
    with pytest.raises(TypeError, match="output_attention"):
        tiny_model(**_tiny_inputs(), output_attention=True)


# ------------------------------------------------------------------------------------------- outputs


def test_post_processing_flat_form_indexes_the_models_labels():
    from videomae_action_detection.modeling import VideoMAEForActionDetection
    from videomae_action_detection.processing import ava_video_processor

    torch.manual_seed(0)
    config = tiny_config(id2label={0: "stand", 1: "walk", 2: "talk to"}, action_ids=[12, 14, 79])
    model = VideoMAEForActionDetection(config).eval()
    processor = ava_video_processor(config, size={"shortest_edge": 32})
    clip = np.random.default_rng(0).integers(0, 256, (4, 40, 48, 3), dtype=np.uint8)
    boxes = [[0.1, 0.1, 0.6, 0.9], [0.5, 0.0, 1.0, 1.0]]
    inputs = processor(clip, boxes=boxes, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    result = processor.post_process_action_detection(outputs, boxes, target_sizes=[(40, 48)])[0]
    scores = outputs.logits[0].sigmoid()
    assert len(result["labels"]) == 6 and result["labels"].dtype == torch.int64
    for score, label, action_id, box, box_index in zip(result["scores"], result["labels"], result["action_ids"],
                                                        result["boxes"], result["box_indices"]):
        assert score == pytest.approx(float(scores[box_index, label]))
        assert int(action_id) == [12, 14, 79][int(label)]
        assert model.config.id2label[int(label)] in ("stand", "walk", "talk to")
        assert box.tolist() == pytest.approx((torch.tensor(boxes[int(box_index)]) * torch.tensor([48, 40, 48, 40])).tolist())
    assert result["box_action_ids"][0][0] == [12, 14, 79][int(scores[0].argmax())]
    assert result["label_names"][0][0] == config.id2label[int(scores[0].argmax())]


def test_video_processor_takes_one_clip_as_a_list_of_frames():
    from PIL import Image

    from videomae_action_detection.processing import ava_video_processor

    processor = ava_video_processor(size={"shortest_edge": 32})
    clip = np.random.default_rng(0).integers(0, 256, (4, 40, 48, 3), dtype=np.uint8)
    expected = processor(clip, boxes=[[0.1, 0.1, 0.6, 0.9]], return_tensors="pt")
    for frames in ([Image.fromarray(frame) for frame in clip], list(clip)):
        got = processor(frames, boxes=[[0.1, 0.1, 0.6, 0.9]], return_tensors="pt")
        assert got["pixel_values"].shape == (1, 4, 3, 32, 38)
        torch.testing.assert_close(got["pixel_values"], expected["pixel_values"], rtol=0, atol=0)
        torch.testing.assert_close(got["boxes"], expected["boxes"], rtol=0, atol=0)


def test_inference_records_carry_the_models_action_ids():
    from videomae_action_detection.processing.keyframe_actions import top_actions

    scores = np.array([0.2, 0.9, 0.5], dtype=np.float32)
    actions = top_actions(scores, top_k=2, id2label={0: "stand", 1: "walk", 2: "talk to"}, action_ids=[12, 14, 79])
    assert actions == [{"action_id": 14, "label": "walk", "score": pytest.approx(0.9)},
                       {"action_id": 79, "label": "talk to", "score": pytest.approx(0.5)}]
