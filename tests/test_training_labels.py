"""The finetuning script with a user's own action list (`--label_map`) and its argument checks."""

import csv
from pathlib import Path

import pytest
import torch

from conftest import tiny_config

TINY_TOY = dict(train_videos=8, val_videos=2, keyframes_per_video=3, width=96, height=96, min_people=1, max_people=2)
TINY_MODEL = "hidden_size=32,num_hidden_layers=1,num_attention_heads=4,intermediate_size=64,num_frames=4," \
             "image_size=[96,96],drop_path_rate=0.0,head_dropout=0.0"
# The toy set's 7 actions in another order than their ids: output i is no longer action id i + 1.
MY_ACTIONS = [(79, "talk to (e.g., self, a person, a group)"), (12, "stand"), (7, "jump/leap"), (14, "walk"),
              (10, "run/jog"), (8, "lie/sleep"), (17, "carry/hold (an object)")]


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

    return generate_toy_dataset(tmp_path_factory.mktemp("toy") / "toy-ava", seed=5, **TINY_TOY)


def _args(toy_dir, output_dir, *extra):
    return ["--data_dir", str(toy_dir), "--dataset_cache_dir", str(Path(toy_dir).parent / "datasets-cache"),
            "--output_dir", str(output_dir), "--config_name", "toy", "--config_overrides", TINY_MODEL,
            "--frame_interval", "16", "--short_side", "96", "--train_scale_range", "96", "104", "--crop_size", "96",
            "96", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "2", "--use_cpu",
            "--dataloader_num_workers", "0", "--seed", "0", "--disable_tqdm", "true", *extra]


def test_training_with_my_own_action_list(toy_dir, tmp_path):
    from huggingface_hub import ModelCard
    from transformers import AutoModel

    from videomae_action_detection.processing import ava_video_processor
    from videomae_action_detection.training.data.ava_dataset import load_ava_dataset
    from videomae_action_detection.training.clip_dataset import AVAClipDataset
    from videomae_action_detection.training.run_action_detection import main

    label_map = tmp_path / "my_actions.pbtxt"
    label_map.write_text("".join(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n' for i, name in MY_ACTIONS))
    output_dir = tmp_path / "run"
    metrics = main(_args(toy_dir, output_dir, "--num_train_epochs", "1", "--label_map", str(label_map)))
    assert 0.0 <= metrics["eval_map"] <= 1.0

    model = AutoModel.from_pretrained(output_dir).eval()
    config = model.config
    assert config.id2label == {index: name for index, (_, name) in enumerate(MY_ACTIONS)}
    assert config.label_action_ids == [action_id for action_id, _ in MY_ACTIONS]
    assert model.roi_head.classifier.out_features == 7

    # The CSV's rows of the first keyframe are the model's scores, column i under action id MY_ACTIONS[i].
    validation = load_ava_dataset(toy_dir, "ava", cache_dir=toy_dir.parent / "datasets-cache")["validation"]
    processor = ava_video_processor(config, size={"shortest_edge": 96})
    dataset = AVAClipDataset(validation, processor, train=False, clip_len=4, frame_interval=16,
                             label_action_ids=config.label_action_ids)
    item = dataset[0]
    with torch.no_grad():
        scores = model(pixel_values=item["pixel_values"][None], boxes=[item["boxes"]]).logits[0].sigmoid().numpy()
    key = (validation[0]["video_id"], int(validation[0]["timestamp"]))
    rows = [row for row in csv.reader((output_dir / "detections_val.csv").open()) if (row[0], int(row[1])) == key]
    written = {(tuple(float(v) for v in row[2:6]), int(row[6])): float(row[7]) for row in rows}
    assert {action_id for _, action_id in written} == {action_id for action_id, _ in MY_ACTIONS}
    for box_index, box in enumerate(dataset.proposals[0]):
        for output, (action_id, _) in enumerate(MY_ACTIONS):
            rounded_box = tuple(float(f"{v:.4f}") for v in box)
            assert written[(rounded_box, action_id)] == pytest.approx(float(scores[box_index, output]), abs=1e-4)

    card = (output_dir / "README.md").read_text()
    assert "7 actions of its own label map" in card and "talk to (e.g., self, a person, a group) (79)" in card
    assert ModelCard.load(output_dir / "README.md").data.base_model is None  # a model trained from scratch


def test_ground_truth_labels_map_to_the_models_outputs():
    from videomae_action_detection.training.clip_dataset import AVAClipDataset

    dataset = AVAClipDataset({"proposals": []}, None, train=True, clip_len=4, frame_interval=4,
                             label_action_ids=[79, 12, 7])
    # builder labels are action ids - 1: 11 is "stand" (id 12), 78 "talk to" (79); 13 (walk) is not learned
    assert dataset.model_labels([11, 78]) == [0, 1]
    assert dataset.model_labels([13]) == []
    assert dataset.model_labels([6, 79]) == [2]  # 79 is action id 80, outside the learned ids


def test_unknown_config_override_is_an_error():
    from videomae_action_detection.training.model_setup import parse_config_overrides

    assert parse_config_overrides("hidden_size=32,image_size=[96,96]") == {"hidden_size": 32, "image_size": [96, 96]}
    with pytest.raises(ValueError, match=r"'hiden_size=32'.*did you mean hidden_size"):
        parse_config_overrides("hiden_size=32")


def test_card_names_the_hub_base_model():
    from videomae_action_detection.training.publishing.model_card import build_model_card
    from videomae_action_detection.training.arguments import ModelArguments
    from videomae_action_detection.training.model_setup import hub_base_model

    assert hub_base_model(ModelArguments(model_name_or_path="MCG-NJU/videomae-base-finetuned-kinetics")) == \
        "MCG-NJU/videomae-base-finetuned-kinetics"
    assert hub_base_model(ModelArguments(model_name_or_path=None)) is None
    card = build_model_card("x", tiny_config(), base_model="MCG-NJU/videomae-base-finetuned-kinetics")
    assert "base_model: MCG-NJU/videomae-base-finetuned-kinetics" in card


# ------------------------------------------------------------------------- TrainingArguments honoured


def _trainer(tmp_path, recipe_schedule=True, **arguments):
    from videomae_action_detection.modeling import VideoMAEForActionDetection
    from videomae_action_detection.training.arguments import ActionDetectionTrainingArguments
    from videomae_action_detection.training.trainer import ActionDetectionTrainer

    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=2))
    args = ActionDetectionTrainingArguments(output_dir=str(tmp_path), use_cpu=True, learning_rate=1e-3,
                                            num_train_epochs=20, warmup_epochs=5, eval_strategy="no",
                                            save_strategy="no", **arguments)
    trainer = ActionDetectionTrainer(model=model, args=args, layer_decay=0.75, recipe_schedule=recipe_schedule)
    trainer.create_optimizer_and_scheduler(num_training_steps=100)
    return trainer


def test_optim_is_honoured_over_the_layer_decay_groups(tmp_path):
    default = _trainer(tmp_path)
    assert type(default.optimizer) is torch.optim.AdamW and not default.optimizer.defaults.get("fused")
    sgd = _trainer(tmp_path, optim="sgd")
    assert type(sgd.optimizer) is torch.optim.SGD
    scales = {group["layer_id"]: group["lr"] / 1e-3 for group in sgd.optimizer.param_groups}
    # the recipe's warm-up starts at 0.1 x lr
    assert scales == pytest.approx({0: 0.1 * 0.75**3, 1: 0.1 * 0.75**2, 2: 0.1 * 0.75, 3: 0.1})


def test_lr_scheduler_options_replace_the_recipe_schedule(tmp_path):
    from videomae_action_detection.training.trainer import uses_recipe_schedule

    assert uses_recipe_schedule({"learning_rate", "warmup_epochs"})
    assert not uses_recipe_schedule({"lr_scheduler_type"})
    with pytest.raises(ValueError, match="--warmup_epochs sets the recipe's schedule"):
        uses_recipe_schedule({"lr_scheduler_type", "warmup_epochs"})

    trainer = _trainer(tmp_path, recipe_schedule=False, lr_scheduler_type="constant_with_warmup", warmup_steps=10)
    lrs = []
    for _ in range(30):
        lrs.append({group["layer_id"]: group["lr"] for group in trainer.optimizer.param_groups})
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    assert lrs[0][3] == 0.0 and lrs[5][3] == pytest.approx(0.5e-3) and lrs[10][3] == lrs[29][3] == pytest.approx(1e-3)
    assert lrs[29][0] == pytest.approx(1e-3 * 0.75**3)  # layer decay kept


def test_unknown_training_argument_is_an_error():
    from videomae_action_detection.training.arguments import parse_arguments

    with pytest.raises(ValueError, match="warmup_ratio"):
        parse_arguments(["--warmup_ratio", "0.1"])
