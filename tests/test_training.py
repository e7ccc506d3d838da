"""The toy AVA-format set, the Trainer-based finetuning script and its distributed evaluation.

One tiny toy set and one short training run are shared by the tests of this file (module fixtures); the
2-process evaluation runs under `torch.distributed.run` on CPU (gloo).
"""

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, tiny_config

TINY_TOY = dict(train_videos=40, val_videos=5, keyframes_per_video=3, width=96, height=96, min_people=1,
                max_people=2)
TINY_MODEL = "hidden_size=32,num_hidden_layers=1,num_attention_heads=4,intermediate_size=64,num_frames=4," \
             "image_size=[96,96],drop_path_rate=0.0,head_dropout=0.0"


def tiny_args(data_dir, output_dir, *extra):
    """Arguments of a tiny run on the tiny toy set: 4 frames 16 apart (the 64-frame window), frames as generated."""
    return [
        "--data_dir", str(data_dir), "--dataset_cache_dir", str(Path(data_dir).parent / "datasets-cache"),
        "--output_dir", str(output_dir), "--config_name", "toy",
        "--config_overrides", TINY_MODEL, "--frame_interval", "16", "--short_side", "96",
        "--train_scale_range", "96", "104", "--crop_size", "96", "96",
        "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4", "--learning_rate", "3e-3",
        "--layer_decay", "1.0", "--warmup_epochs", "1", "--dataloader_num_workers", "0", "--use_cpu",
        "--logging_steps", "5", "--seed", "0", "--disable_tqdm", "true", *extra,
    ]


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

    return generate_toy_dataset(tmp_path_factory.mktemp("toy") / "toy-ava", seed=3, **TINY_TOY)


@pytest.fixture(scope="module")
def trained(toy_dir, tmp_path_factory):
    """A short training run (8 epochs, the same process) and its final metrics."""
    from videomae_action_detection.training.run_action_detection import main

    output_dir = tmp_path_factory.mktemp("run") / "tiny-detector"
    metrics = main(tiny_args(toy_dir, output_dir, "--num_train_epochs", "8", "--save_total_limit", "8"))
    return output_dir, metrics


# ------------------------------------------------------------------------------------------------------- toy set


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_toy_dataset_files_are_official_and_deterministic(toy_dir, tmp_path):
    from videomae_action_detection.processing.formats.ava_files import read_ava_csv, read_label_map
    from videomae_action_detection.training.data.toy_dataset import TOY_ACTION_IDS, generate_toy_dataset
    from videomae_action_detection.processing.formats.untrusted_pickle import load_pickled_data

    annotations = toy_dir / "annotations"
    assert len(read_label_map(annotations / "ava_action_list_v2.2.pbtxt")) == 80
    assert sorted(read_label_map(annotations / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")) == list(TOY_ACTION_IDS)
    rows = read_ava_csv(annotations / "ava_val_v2.2.csv")
    assert set(rows.action_ids.tolist()) <= set(TOY_ACTION_IDS)
    assert rows.boxes.min() >= 0 and rows.boxes.max() <= 1
    proposals = load_pickled_data(annotations / "ava_dense_proposals_train.FAIR.recall_93.9.pkl")
    key = next(iter(proposals))
    assert len(key.split(",")[1]) == 4 and proposals[key].shape[1] == 5
    assert len(list((toy_dir / "videos").glob("*.mp4"))) == TINY_TOY["train_videos"] + TINY_TOY["val_videos"]
    again = generate_toy_dataset(tmp_path / "again", seed=3, **TINY_TOY)
    digests, again_digests = _tree_digest(toy_dir), _tree_digest(again)
    assert sorted(digests) == sorted(again_digests)
    for name, digest in digests.items():
        if not name.endswith(".mp4"):
            assert again_digests[name] == digest, name
        else:  # libx264 output was seen to vary in a few bytes between runs; the decoded frames must agree
            first, second = _decoded(toy_dir / name), _decoded(again / name)
            assert first.shape == second.shape and np.abs(first - second).mean() < 0.5, name
    other = generate_toy_dataset(tmp_path / "other", seed=4, **TINY_TOY)
    assert _tree_digest(other)["annotations/ava_train_v2.2.csv"] != _tree_digest(toy_dir)["annotations/ava_train_v2.2.csv"]
    with pytest.raises(FileExistsError, match="other"):
        generate_toy_dataset(tmp_path / "other", seed=5, **TINY_TOY)


def _decoded(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]).astype(np.int16)


def _saturated(frames: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) 0-255 -> (T, H, W) True where a pixel is a saturated colour (a person's body or object)."""
    return (frames.amax(dim=1) - frames.amin(dim=1)) > 90


def _assert_boxes_on_people(example, processor) -> int:
    """After the processor's resize, each ground-truth box holds its person's colour and no person lies outside the
    boxes (in the keyframe's frame); returns the number of boxes checked."""
    from videomae_action_detection.processing import MMACTION2_MEAN, MMACTION2_STD, read_clip

    clip, _ = read_clip(example["video_path"] or example["frame_dir"], example["timestamp"],
                        timestamp_start=example["timestamp_start"], video_start=example["video_start"],
                        fps=example["fps"], num_frames=example["num_frames"] or None)
    inputs = processor(clip, boxes=[np.asarray(example["boxes"])], return_tensors="pt")
    mean = torch.tensor(MMACTION2_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(MMACTION2_STD).view(1, 3, 1, 1)
    frames = inputs["pixel_values"][0] * std + mean
    centre = _saturated(frames)[clip.shape[0] // 2]
    outside = torch.ones_like(centre)
    for box in inputs["boxes"][0]:
        x1, y1, x2, y2 = box.round().int().tolist()
        inside = centre[y1:y2, x1:x2]
        assert inside.float().mean() > 0.15, f"{example['img_key']}: box {box.tolist()} misses its person"
        outside[max(0, y1 - 2):y2 + 2, max(0, x1 - 2):x2 + 2] = False
    assert centre[outside].float().mean() < 0.005, f"{example['img_key']}: a person outside the boxes"
    assert all(1 <= len(labels) <= 3 for labels in example["labels"])
    return len(example["boxes"])


def test_toy_round_trip_through_builder_and_processor(toy_dir):
    """Boxes of the builder, after the processor's resize, land on the drawn people and only there."""
    from videomae_action_detection.processing import ava_video_processor
    from videomae_action_detection.training.data.ava_dataset import load_ava_dataset

    dataset = load_ava_dataset(toy_dir, "ava", cache_dir=toy_dir.parent / "datasets-cache")
    assert len(dataset["validation"]) == TINY_TOY["val_videos"] * TINY_TOY["keyframes_per_video"]
    processor = ava_video_processor(size={"shortest_edge": 120})  # 96 x 96 -> 120 x 120
    checked = sum(_assert_boxes_on_people(example, processor) for example in dataset["validation"])
    assert checked == sum(len(e["boxes"]) for e in dataset["validation"]) > 0


def test_toy_ava_kinetics_round_trip(tmp_path):
    """The `ava_kinetics` style: Kinetics clips named {id}_{start}_{end} with their own CSVs and proposals."""
    from videomae_action_detection.processing import ava_video_processor
    from videomae_action_detection.training.data.ava_dataset import load_ava_dataset
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

    root = generate_toy_dataset(tmp_path / "toy", seed=1, style="ava_kinetics", **{**TINY_TOY, "train_videos": 3,
                                                                                   "val_videos": 2})
    dataset = load_ava_dataset(root, "ava_kinetics", cache_dir=tmp_path / "cache")
    kinetics = [e for e in dataset["train"] if e["clip_name"] != e["video_id"]]
    assert len(kinetics) == 3 * TINY_TOY["keyframes_per_video"]
    assert len(dataset["kinetics_validation"]) == 2 * TINY_TOY["keyframes_per_video"]
    assert all(e["video_start"] == e["timestamp_start"] < e["timestamp"] and e["video_start"] != 900 for e in kinetics)
    processor = ava_video_processor(size={"shortest_edge": 96})
    for example in kinetics + list(dataset["kinetics_validation"]) + list(dataset["validation"]):
        _assert_boxes_on_people(example, processor)


def test_corrupt_video_is_an_error_naming_the_file(toy_dir, tmp_path):
    """A truncated video read in a DataLoader worker stops training with the file and keyframe in the message."""
    import datasets

    from videomae_action_detection.processing import ava_video_processor
    from videomae_action_detection.training.data.ava_dataset import load_ava_dataset
    from videomae_action_detection.training.clip_dataset import AVAClipDataset, collate_action_detection

    example = load_ava_dataset(toy_dir, "ava", cache_dir=toy_dir.parent / "datasets-cache")["validation"][-1]
    broken = tmp_path / "broken.mp4"
    data = Path(example["video_path"]).read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    examples = datasets.Dataset.from_list([{**example, "video_path": str(broken)}])
    clips = AVAClipDataset(examples, ava_video_processor(), train=True, clip_len=4, frame_interval=16, num_labels=80)
    loader = torch.utils.data.DataLoader(clips, batch_size=1, num_workers=1, collate_fn=collate_action_detection,
                                         timeout=120)
    with pytest.raises(Exception, match="broken.mp4") as error:
        next(iter(loader))
    assert example["img_key"] in str(error.value)


# ----------------------------------------------------------------------------------------------- optimisation


def test_layer_decay_learning_rates_follow_warmup_and_cosine(tmp_path):
    from videomae_action_detection.modeling import VideoMAEForActionDetection
    from videomae_action_detection.training.arguments import ActionDetectionTrainingArguments
    from videomae_action_detection.training.trainer import ActionDetectionTrainer

    model = VideoMAEForActionDetection(tiny_config(num_hidden_layers=2))
    args = ActionDetectionTrainingArguments(output_dir=str(tmp_path), use_cpu=True, learning_rate=1e-3,
                                            num_train_epochs=20, warmup_epochs=5,
                                            eval_strategy="no", save_strategy="no")
    trainer = ActionDetectionTrainer(model=model, args=args, layer_decay=0.75)
    trainer.create_optimizer_and_scheduler(num_training_steps=200)  # 10 steps per epoch, 50 warm-up steps
    optimizer, scheduler = trainer.optimizer, trainer.lr_scheduler
    groups = {group["name"]: group for group in optimizer.param_groups}
    assert groups["layer_0_decay"]["weight_decay"] == 0.05 and groups["layer_0_no_decay"]["weight_decay"] == 0.0
    names = {n for n, _ in model.named_parameters()}
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, parameter in model.named_parameters():
        assert (id(parameter) in decayed) == (parameter.ndim > 1 and not name.endswith(".bias")), name
    assert len(names) == sum(len(g["params"]) for g in optimizer.param_groups)

    expected_scale = {0: 0.75**3, 1: 0.75**2, 2: 0.75, 3: 1.0}  # embeddings, block 0, block 1, norm + head
    factors = {0: 0.1, 49: 1.0, 50: 1.0, 125: 0.5 * (1 + math.cos(math.pi * 75 / 150)), 199: 0.5 * (1 + math.cos(math.pi * 149 / 150))}
    factors[25] = 0.1 + 0.9 * 25 / 49
    seen = {}
    for step in range(200):
        if step in factors:
            seen[step] = {g["layer_id"]: g["lr"] for g in optimizer.param_groups}
        optimizer.step()
        scheduler.step()
    for step, factor in factors.items():
        for layer, scale in expected_scale.items():
            assert seen[step][layer] == pytest.approx(1e-3 * scale * factor, rel=1e-9), (step, layer)


# ------------------------------------------------------------------------------------------------- end to end


def _random_baseline_map(toy_dir, output_dir, seeds=(0, 1, 2, 3, 4)) -> float:
    """Mean frame-mAP of uniformly random scores on the same kept proposals (same protocol and label map)."""
    from videomae_action_detection.training.data.ava_dataset import load_ava_dataset
    from videomae_action_detection.processing.formats.detections import detections_from_outputs, keyframe_key
    from videomae_action_detection.training.evaluation.ava_evaluation import evaluate_ava_frame_map, groundtruth_from_references
    from videomae_action_detection.processing.formats.ava_files import read_label_map

    validation = load_ava_dataset(toy_dir, "ava", cache_dir=toy_dir.parent / "datasets-cache")["validation"]
    keys = [keyframe_key(v, t) for v, t in zip(validation["video_id"], validation["timestamp"])]
    proposals = [np.asarray(p).reshape(-1, 4) for p in validation["proposals"]]
    groundtruth = groundtruth_from_references(keys, validation["boxes"],
                                              [[[i + 1 for i in box] for box in ex] for ex in validation["labels"]])
    label_map = read_label_map(toy_dir / "annotations" / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")
    values = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        scores = [rng.random((len(p), 80)) for p in proposals]
        detections = detections_from_outputs(keys, proposals, scores, action_ids=sorted(label_map))
        values.append(evaluate_ava_frame_map(groundtruth, detections, label_map).mean_average_precision)
    return float(np.mean(values))


def test_short_training_learns_and_saves_a_hub_folder(trained, toy_dir):
    from huggingface_hub import ModelCard
    from transformers import AutoModel, AutoVideoProcessor

    import videomae_action_detection.processing  # noqa: F401  (registers the classes)

    output_dir, metrics = trained
    baseline = _random_baseline_map(toy_dir, output_dir)
    assert metrics["eval_map"] > baseline + 0.15, (metrics["eval_map"], baseline)
    assert metrics["eval_scored_boxes"] == metrics["eval_proposals"]

    model = AutoModel.from_pretrained(output_dir)
    processor = AutoVideoProcessor.from_pretrained(output_dir)
    assert type(model).__name__ == "VideoMAEForActionDetection"
    assert processor.size["shortest_edge"] == 96
    card = ModelCard.load(output_dir / "README.md")
    result = card.data.eval_results[0]
    assert result.metric_value == pytest.approx(round(100 * metrics["eval_map"], 2))
    assert result.metric_config == "activitynet-2020"
    rows = (output_dir / "detections_val.csv").read_text().splitlines()
    assert rows and len(rows[0].split(",")) == 8


def test_bf16_training_runs_autocast_end_to_end_in_the_fp32_map_band(trained, toy_dir, tmp_path, caplog):
    """`--bf16`: the same tiny run as `trained` with bf16 autocast in the training and evaluation forwards, weights
    saved in fp32, and a frame-mAP within 0.1 of the fp32 run (measured: fp32 0.675, bf16 0.670)."""
    from safetensors.torch import load_file

    from videomae_action_detection.training.run_action_detection import main

    _, fp32_metrics = trained
    linear_outputs = set()

    def record(module, inputs, output):
        if isinstance(module, torch.nn.Linear):
            linear_outputs.add(("train" if module.training else "eval", output.dtype))

    hook = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        with caplog.at_level("INFO", logger="videomae_action_detection.train"):
            metrics = main(tiny_args(toy_dir, tmp_path / "bf16", "--num_train_epochs", "8", "--save_strategy", "no",
                                     "--bf16"))
    finally:
        hook.remove()
    assert linear_outputs == {("train", torch.bfloat16), ("eval", torch.bfloat16)}
    assert "precision: bf16 autocast" in caplog.text
    weights = load_file(tmp_path / "bf16" / "model.safetensors")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}
    assert metrics["eval_scored_boxes"] == metrics["eval_proposals"]
    assert abs(metrics["eval_map"] - fp32_metrics["eval_map"]) < 0.1, (metrics["eval_map"], fp32_metrics["eval_map"])
    assert metrics["eval_map"] > _random_baseline_map(toy_dir, tmp_path) + 0.15


def test_final_evaluation_logs_ap_per_action_and_draws_the_chart(trained, toy_dir):
    from picture_checks import colour_runs, left_spine, load_rgb

    from videomae_action_detection.training.evaluation.ap_chart import GROUP_STYLES, TRACK_COLOUR
    from videomae_action_detection.processing.formats.ava_files import read_label_map

    output_dir, metrics = trained
    names = read_label_map(toy_dir / "annotations" / "ava_action_list_v2.2_for_activitynet_2019.pbtxt").values()
    per_action = {key.removeprefix("eval_AP/"): value for key, value in metrics.items() if key.startswith("eval_AP/")}
    assert len(per_action) >= 5 and set(per_action) <= set(names)
    assert np.mean(list(per_action.values())) == pytest.approx(metrics["eval_map"])  # the 2020 mean over the classes
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    evaluations = [entry for entry in history if "eval_map" in entry]
    assert len(evaluations) == 8 and all(set(per_action) <= {k.removeprefix("eval_AP/") for k in entry}
                                         for entry in evaluations)  # every epoch, for report_to loggers
    image = load_rgb(output_dir / "per_class_ap.png")
    x, top, bottom = left_spine(image)
    colours = {group: rgb for group, (_, rgb) in GROUP_STYLES.items()} | {"track": TRACK_COLOUR}
    assert len(colour_runs(image[top:bottom, x + 3], colours)) == len(per_action)
    card = (output_dir / "README.md").read_text()
    assert f"{metrics['eval_map'] * 100:.2f} (activitynet-2020 protocol, {len(per_action)} classes))](per_class_ap.png)" in card


def test_resume_from_checkpoint_gives_the_same_model(trained, toy_dir, tmp_path):
    from safetensors.torch import load_file

    from videomae_action_detection.training.run_action_detection import main

    output_dir, metrics = trained
    checkpoints = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert len(checkpoints) == 8
    resumed_dir = tmp_path / "resumed"
    resumed = main(tiny_args(toy_dir, resumed_dir, "--num_train_epochs", "8", "--resume_from_checkpoint",
                             str(checkpoints[3])))
    first, second = load_file(output_dir / "model.safetensors"), load_file(resumed_dir / "model.safetensors")
    for name in first:
        torch.testing.assert_close(second[name], first[name], rtol=0, atol=0, msg=name)
    assert resumed["eval_map"] == metrics["eval_map"]


def _evaluate(toy_dir, model_dir, output_dir, processes: int) -> dict:
    script = [sys.executable, "-m", "videomae_action_detection.training.run_action_detection"]
    if processes > 1:
        script = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                  "--standalone", "-m", "videomae_action_detection.training.run_action_detection"]
    args = tiny_args(toy_dir, output_dir, "--do_eval", "--model_name_or_path", str(model_dir),
                     "--per_device_eval_batch_size", "2")
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    result = subprocess.run(script + args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    for rank in range(processes):
        assert f"process {rank} of {processes}" in result.stderr
    return json.loads((Path(output_dir) / "eval_results.json").read_text())


def test_evaluation_scores_every_proposal_once_on_one_and_two_processes(trained, toy_dir, tmp_path):
    """15 keyframes, 2 per batch (and per process): the last batches are partial, the sampler repeats one."""
    model_dir, _ = trained
    one = _evaluate(toy_dir, model_dir, tmp_path / "one", processes=1)
    two = _evaluate(toy_dir, model_dir, tmp_path / "two", processes=2)
    assert one["eval_scored_keyframes"] == two["eval_scored_keyframes"] == 15
    assert one["eval_scored_boxes"] == one["eval_proposals"]
    assert two["eval_scored_boxes"] == two["eval_proposals"] == one["eval_proposals"]
    assert two["eval_map"] == pytest.approx(one["eval_map"], abs=1e-6)
    assert (tmp_path / "one" / "detections_val.csv").read_text() == (tmp_path / "two" / "detections_val.csv").read_text()


def test_two_process_training_with_torchrun(toy_dir, tmp_path):
    """`torchrun --nproc_per_node 2 training/run_action_detection.py ...` trains (gloo, CPU) and evaluates."""
    output_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "training/run_action_detection.py",
               *tiny_args(toy_dir, output_dir, "--num_train_epochs", "2", "--max_train_samples", "24")]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "process 1 of 2 (distributed" in result.stderr
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 2 * 3  # 24 clips / (4 per process x 2 processes) = 3 steps per epoch
    assert "for a total batch of 8" in result.stderr
    metrics = json.loads((output_dir / "eval_results.json").read_text())
    assert metrics["eval_scored_boxes"] == metrics["eval_proposals"] and metrics["eval_scored_keyframes"] == 15
    assert (output_dir / "model.safetensors").exists() and (output_dir / "README.md").exists()


def test_saved_folder_declares_the_video_action_detection_pipeline(trained):
    """The final save carries the pipeline as remote code (`pipeline(..., trust_remote_code=True)` without the package)."""
    output_dir, _ = trained
    config = json.loads((output_dir / "config.json").read_text())
    assert config["custom_pipelines"]["video-action-detection"]["impl"] == (
        "pipeline_video_action_detection.VideoActionDetectionPipeline")
    assert (output_dir / "pipeline_video_action_detection.py").is_file() and (output_dir / "keyframe_actions.py").is_file()
