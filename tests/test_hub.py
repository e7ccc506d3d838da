"""Hub-ready folders: hub_configs/ (configs and model cards), the converter's complete folders (remote code, card,
self-check, nothing written on bad input), recognition backbones, and pushing to a fake Hub on 127.0.0.1."""

import inspect
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate import init_empty_weights
from huggingface_hub import ModelCard
from transformers import VideoMAEForVideoClassification

import convert_checkpoints
from videomae_action_detection.training.publishing import conversion, mmaction2_checkpoint, mmaction2_keys
from conftest import REPO_ROOT, fixture_path, flat_logits, load_model_case_inputs, run_without_package, tiny_config
from fake_hub import FakeHub
from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection, ava_id2label
from videomae_action_detection.processing import ava_video_processor, read_clip
from videomae_action_detection.processing.inference.pipeline import custom_pipelines_entry
from videomae_action_detection.training.publishing.hub_configs import DEFAULT_NAMESPACE, HUB_CONFIG_FILES, recipe_config
from videomae_action_detection.training.publishing.model_card import EvaluationResult, build_model_card, reported_result, write_model_card
from videomae_action_detection.training.recipe import RECIPES, VIT_BASE, VIT_LARGE

HUB_CONFIGS = REPO_ROOT / "hub_configs"
# Backbone parameters of mmaction2's VisionTransformer, counted by instantiating it in mmaction2 1.2.0.
MMACTION2_BACKBONE_PARAMETERS = {"base": 86_227_200, "large": 303_860_736}




def convert(argv) -> int:
    return convert_checkpoints.main([*map(str, argv), "--no_progress"])


# --------------------------------------------------------------------------------------------------------- hub_configs
def test_hub_configs_regenerate_identically(tmp_path):
    regenerate = runpy.run_path(str(HUB_CONFIGS / "regenerate.py"))  # the script, in this process (no import cost)
    assert regenerate["main"](["--output_dir", str(tmp_path)]) == 0
    for recipe in RECIPES.values():
        committed, fresh = HUB_CONFIGS / recipe.model_name, tmp_path / recipe.model_name
        assert sorted(p.name for p in committed.iterdir()) == sorted(HUB_CONFIG_FILES)
        assert sorted(p.name for p in fresh.iterdir()) == sorted(HUB_CONFIG_FILES)
        for name in HUB_CONFIG_FILES:
            assert without_transformers_version(committed / name) == without_transformers_version(fresh / name), (
                f"hub_configs/{recipe.model_name}/{name} is stale: run python hub_configs/regenerate.py"
            )
        # the converter's config.json declares the pipeline too (its code files come with the converted weights)
        assert json.loads((committed / "config.json").read_text())["custom_pipelines"] == custom_pipelines_entry()


def without_transformers_version(path) -> bytes:
    """The file's bytes, less config.json's `transformers_version` line (it names whichever 5.x wrote it)."""
    lines = path.read_bytes().splitlines(keepends=True)
    return b"".join(line for line in lines if not line.lstrip().startswith(b'"transformers_version"'))


@pytest.mark.parametrize("recipe", [VIT_BASE, VIT_LARGE], ids=lambda r: r.variant)
def test_hub_config_builds_the_recipe_architecture(recipe, tmp_path, tiny_model):
    folder = HUB_CONFIGS / recipe.model_name
    config = VideoMAEActionDetectionConfig.from_pretrained(folder)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size) == {
        "base": (768, 12, 12, 3072), "large": (1024, 24, 16, 4096)
    }[recipe.variant]
    assert (config.patch_size, config.tubelet_size, config.num_frames, config.image_size) == (16, 2, 16, 224)
    assert config.layer_norm_eps == 1e-6 and config.drop_path_rate == 0.2 and config.head_dropout == 0.5
    assert config.id2label == ava_id2label() and config.num_labels == 80
    # the same auto_map / architectures a saved model writes (tiny model of the same classes)
    tiny_model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    written = json.loads((folder / "config.json").read_text())
    assert written["auto_map"] == saved["auto_map"] and written["architectures"] == saved["architectures"]
    assert written["model_type"] == saved["model_type"] == "videomae_action_detection"
    # the architecture, built without allocating weights, has exactly mmaction2's backbone parameter count
    with init_empty_weights():
        model = VideoMAEForActionDetection(config)
    backbone = sum(p.numel() for name, p in model.named_parameters() if name.startswith("videomae."))
    assert backbone == MMACTION2_BACKBONE_PARAMETERS[recipe.variant]
    assert model.roi_head.classifier.weight.shape == (80, config.hidden_size)


@pytest.mark.parametrize("recipe", [VIT_BASE, VIT_LARGE], ids=lambda r: r.variant)
def test_hub_config_cards_parse_and_carry_the_reported_map(recipe):
    card = ModelCard.load(HUB_CONFIGS / recipe.model_name / "README.md")
    data = card.data
    assert data.library_name == "transformers" and data.license == "cc-by-nc-4.0"
    assert {"video", "action-detection", "ava", "videomae"} <= set(data.tags)
    assert "ava-kinetics" in data.datasets
    (result,) = data.eval_results
    assert result.metric_value == recipe.reported_map == {"base": 33.6, "large": 38.7}[recipe.variant]
    assert result.metric_type == "mAP" and result.metric_name.startswith("frame-mAP@0.5IoU")
    assert result.dataset_name == "AVA v2.2" and result.dataset_split == "validation"
    assert result.verified is False and "mmaction2" in result.source_name and result.source_url.startswith("https://")
    text = card.text
    for needle in [
        recipe.detection_checkpoint.file_name,
        recipe.backbone_checkpoint.file_name,
        "not re-measured here",
        "PascalDetectionEvaluator",
        "CC-BY-NC-4.0",
        "Apache-2.0",
        "@inproceedings{tong2022videomae",
        "@misc{2020mmaction2",
        "needs a person detector",
        f"lr {'1.25e-4' if recipe.variant == 'base' else '2.5e-4'}",
        f"{recipe.layer_decay:g} per layer",
        "| epochs | 20 (5 linear warm-up epochs",
        "L2 norm 40",
        "| stochastic depth | 0.2",
        "weight decay 0.05",
    ]:
        assert needle in text, needle
    assert f"{MMACTION2_BACKBONE_PARAMETERS[recipe.variant]:,} in the backbone" in text


def test_card_generator_puts_measured_results_in_the_same_fields(tmp_path):
    measured = EvaluationResult(
        value=31.25,
        protocol="official ActivityNet 2020 evaluator on AVA v2.2 val",
        measured_here=True,
        metric_config="activitynet-2020",
        source_name="videomae_action_detection training script",
        source_url="https://example.org/run/42",
    )
    card = build_model_card(
        "my-run", recipe_config(VIT_BASE), repo_id="me/my-run", recipe=VIT_BASE,
        results=[measured, reported_result(VIT_BASE)], training_notes="Trained for 20 epochs on 8 GPUs.",
    )
    write_model_card(card, tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    values = {(r.metric_value, r.metric_config, r.source_name) for r in loaded.data.eval_results}
    assert values == {
        (31.25, "activitynet-2020", "videomae_action_detection training script"),
        (33.6, "mmaction2-ava-eval-2023-03", "mmaction2 (configs/detection/videomae)"),
    }
    assert "measured by this project" in loaded.text and "Trained for 20 epochs on 8 GPUs." in loaded.text
    assert '"me/my-run"' in loaded.text
    assert loaded.data.datasets == ["ava", "ava-kinetics"]
    # weights trained on something else (the toy set) claim no Hub data set
    toy_card = build_model_card("toy-run", recipe_config(VIT_BASE), results=[measured], datasets=())
    write_model_card(toy_card, tmp_path / "toy.md")
    assert ModelCard.load(tmp_path / "toy.md").data.datasets is None


# ------------------------------------------------------------------------------------------------ converted folders
CARD_VIDEO = ("videos", "carphone_pristine.mp4")  # a real video of a person (176x144, 4 s)


@pytest.fixture(scope="module")
def remote_run(tmp_path_factory):
    """One process that cannot import this package, for everything remote code must do:

    - load the folder the converter writes for the interp_batch2 fixture with AutoModel / AutoVideoProcessor
      (trust_remote_code) and run the fixture's inputs, and a clip read from a video through processor and model;
    - run the code sample of each hub_configs card, with its repo id replaced by a tiny random model of the same
      classes (saved with the video processor) and its video by a real one.
    Returns the paths and what the process wrote.
    """
    root = tmp_path_factory.mktemp("remote")
    folder, tensors, pixel_values, boxes = load_model_case_inputs("interp_batch2")
    converted = root / "videomae-tiny-ava"
    assert convert(["--checkpoint", folder / "checkpoint.pth", "--output_dir", converted]) == 0
    torch.save({"pixel_values": pixel_values, "boxes": boxes}, root / "inputs.pt")

    torch.manual_seed(0)
    tiny = root / "tiny-card-model"
    tiny_model = VideoMAEForActionDetection(tiny_config(num_frames=16)).eval()
    tiny_model.save_pretrained(tiny)
    ava_video_processor(tiny_model.config).save_pretrained(tiny)
    video = fixture_path(*CARD_VIDEO)
    for recipe in RECIPES.values():
        code = card_code_sample(HUB_CONFIGS / recipe.model_name / "README.md")
        repo_id = f'"{DEFAULT_NAMESPACE}/{recipe.model_name}"'
        assert code.count(repo_id) == 1 and code.count('"video.mp4"') == 1
        code = code.replace(repo_id, repr(str(tiny))).replace('"video.mp4"', repr(str(video)))
        (root / f"sample_{recipe.variant}.py").write_text(code)

    result = run_without_package(
        f"""
        import contextlib, io, json, runpy
        import torch
        from transformers import AutoModel, AutoVideoProcessor
        root = {str(root)!r}
        model = AutoModel.from_pretrained(root + "/videomae-tiny-ava", trust_remote_code=True).eval()
        processor = AutoVideoProcessor.from_pretrained(root + "/videomae-tiny-ava", trust_remote_code=True)
        inputs = torch.load(root + "/inputs.pt")
        frames, numbers = processor.read_clip({str(video)!r}, timestamp=2.0)
        clip = processor(frames, boxes=[[0.2, 0.1, 0.8, 0.9]], return_tensors="pt")
        with torch.no_grad():
            torch.save({{
                "fixture_logits": model(inputs["pixel_values"], inputs["boxes"]).logits,
                "video_logits": model(**clip).logits,
                "pixel_values": clip["pixel_values"],
            }}, root + "/remote.pt")
        classes = {{"model": type(model).__module__, "processor": type(processor).__module__,
                    "processor_class": type(processor).__name__, "id2label": processor.id2label[11]}}
        samples = {{}}
        for variant in {sorted(RECIPES)!r}:
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                runpy.run_path(root + f"/sample_{{variant}}.py", run_name="__main__")
            samples[variant] = printed.getvalue()
        print("RESULT " + json.dumps({{"classes": classes, "samples": samples}}))
        """
    )
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULT "))
    return {
        "root": root,
        "converted": converted,
        "tensors": tensors,
        "boxes": boxes,
        "frames_source": video,
        "remote": torch.load(root / "remote.pt"),
        **json.loads(line.removeprefix("RESULT ")),
    }


def card_code_sample(card_path: Path) -> str:
    """The first ```python block of a card."""
    text = ModelCard.load(card_path).text
    match = re.search(r"```python\n(.*?)\n```", text, flags=re.S)
    assert match, f"{card_path}: no python code block"
    return match.group(1)


def test_converted_folder_loads_with_remote_code_and_gives_the_fixture_logits(remote_run):
    converted, tensors, boxes = remote_run["converted"], remote_run["tensors"], remote_run["boxes"]
    assert {"config.json", "model.safetensors", "README.md", "video_preprocessor_config.json",
            "modeling_videomae_action_detection.py", "configuration_videomae_action_detection.py",
            "loss_videomae_action_detection.py", "ava_labels.py", "video_processing_videomae_action_detection.py",
            "clip_reader.py", "random_draws.py"} <= {p.name for p in converted.iterdir()}
    assert sorted(p.name for p in converted.parent.iterdir() if p.name.startswith(".")) == []  # no temporary folder
    classes = remote_run["classes"]
    assert classes["model"].startswith("transformers_modules.") and classes["processor"].startswith("transformers_modules.")
    assert classes["processor_class"] == "VideoMAEActionDetectionVideoProcessor" and classes["id2label"] == "stand"

    remote = flat_logits(remote_run["remote"]["fixture_logits"], boxes)
    difference = (remote - tensors["logits"][:, 1:]).abs().max().item()
    print(f"\nremote-code logits of the converted folder vs mmaction2: max abs difference {difference:.3g}")
    assert difference <= 1e-4

    # a clip read from a real video through the remote processor and model = the same in this package
    model = VideoMAEForActionDetection.from_pretrained(converted).eval()
    processor = ava_video_processor(model.config)
    frames, _ = read_clip(remote_run["frames_source"], timestamp=2.0)
    clip = processor(frames, boxes=[[0.2, 0.1, 0.8, 0.9]], return_tensors="pt")
    assert torch.equal(clip["pixel_values"], remote_run["remote"]["pixel_values"])
    with torch.no_grad():
        assert torch.equal(model(**clip).logits, remote_run["remote"]["video_logits"])

    card = ModelCard.load(converted / "README.md")
    assert card.data.eval_results is None  # a fixture is not a released checkpoint: no mAP is claimed
    assert "not a file mmaction2 released" in card.text and "No training recipe is recorded" in card.text


@pytest.mark.parametrize("variant", sorted(RECIPES))
def test_hub_config_card_code_sample_runs(remote_run, variant):
    printed = remote_run["samples"][variant].strip().splitlines()
    print(f"\n{variant} card sample printed: {printed}")
    assert len(printed) == 1  # one person box
    box, labels = printed[0].split("] [", 1)
    assert box == "[0.3, 0.05, 0.75, 0.95"
    predictions = re.findall(r"'([^']+): (\d\.\d\d)'", labels)
    assert len(predictions) == 5 and all(name in ava_id2label().values() for name, _ in predictions)
    scores = [float(score) for _, score in predictions]
    assert scores == sorted(scores, reverse=True) and min(scores) > 0.2


def test_video_processor_defaults_are_the_recipes_data_pipeline():
    """The processor saved into the folders and the recipe describe the same mmaction2 pipeline."""
    processor = ava_video_processor()
    for recipe in RECIPES.values():
        assert processor.size.shortest_edge == recipe.test_short_side
        assert list(processor.scale_range) == list(recipe.train_short_side_range)
        assert (processor.crop_size.height, processor.crop_size.width) == (recipe.train_crop_size,) * 2
        assert processor.flip_ratio == recipe.flip_ratio
        defaults = inspect.signature(read_clip).parameters
        assert (defaults["clip_len"].default, defaults["frame_interval"].default) == (recipe.clip_len, recipe.frame_interval)
    for recipe in RECIPES.values():
        saved = json.loads((HUB_CONFIGS / recipe.model_name / "video_preprocessor_config.json").read_text())
        assert saved["auto_map"]["AutoVideoProcessor"].endswith("VideoMAEActionDetectionVideoProcessor")
        assert saved["size"] == {"shortest_edge": recipe.test_short_side} and saved["do_train_augmentation"] is False
        assert {int(k): v for k, v in saved["id2label"].items()} == ava_id2label()


def _slowfast(path: Path):
    torch.save({"state_dict": {"backbone.slow_path.conv1.weight": torch.ones(64, 3, 1, 7, 7),
                               "backbone.fast_path.conv1.weight": torch.ones(8, 3, 5, 7, 7),
                               "roi_head.bbox_head.fc_cls.weight": torch.ones(81, 2304)}}, path)
    return "SlowFast"


def _truncated(path: Path):
    data = fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "not a readable PyTorch checkpoint"


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def _runs_code(path: Path):
    state_dict = torch.load(fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth"), weights_only=True)["state_dict"]
    torch.save({"state_dict": state_dict, "meta": _RunsCode()}, path)
    return "refused to load posix.system"


def _wrong_variant(path: Path):
    path.write_bytes(fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth").read_bytes())
    return "--variant large"


def _missing(path: Path):
    return "no such file"


@pytest.mark.parametrize("make_input", [_slowfast, _truncated, _runs_code, _wrong_variant, _missing])
def test_bad_input_is_a_clear_error_and_writes_nothing(make_input, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    checkpoint = inputs / "checkpoint.pth"
    message = make_input(checkpoint)
    output = tmp_path / "out"
    extra = ["--variant", "large"] if make_input is _wrong_variant else []
    assert convert(["--checkpoint", checkpoint, "--output_dir", output, *extra]) == 2
    error = capsys.readouterr().err
    print(error.strip())
    assert error.startswith("error: ") and message in error
    assert str(checkpoint) in error  # the message names the file
    assert not output.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]  # nothing else, no temporary folder, no pwned.txt


def test_existing_output_is_kept_unless_overwrite(tmp_path, capsys):
    checkpoint = fixture_path("mmaction2_model", "square224_training_checkpoint", "checkpoint.pth")
    output = tmp_path / "out"
    output.mkdir()
    (output / "mine.txt").write_text("keep me")
    assert convert(["--checkpoint", checkpoint, "--output_dir", output]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert [p.name for p in output.iterdir()] == ["mine.txt"]
    assert convert(["--checkpoint", checkpoint, "--output_dir", output, "--overwrite"]) == 0
    assert "mine.txt" not in {p.name for p in output.iterdir()} and (output / "model.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_released_checkpoint_is_recognised_by_its_sha256(tmp_path, monkeypatch):
    """The card carries mmaction2's mAP only for the released file; here the fixture plays the released ViT-B (its
    sha256 prefix and architecture are patched in), the real files being out of reach offline."""
    import dataclasses

    from videomae_action_detection.training import recipe as recipe_module

    checkpoint = fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth")
    sha256 = mmaction2_checkpoint.file_sha256(checkpoint)
    release = dataclasses.replace(VIT_BASE.detection_checkpoint, file_name=f"released_20230314-{sha256[:8]}.pth")
    fake_base = dataclasses.replace(VIT_BASE, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                    intermediate_size=256, detection_checkpoint=release)
    monkeypatch.setitem(recipe_module.RECIPES, "base", fake_base)
    result = conversion.convert(checkpoint, tmp_path / "out", variant="base", progress=False)
    assert result.recipe is fake_base and result.release_match
    card = ModelCard.load(tmp_path / "out" / "README.md")
    assert card.data.eval_results[0].metric_value == 33.6
    assert f"its sha256 `{sha256}` starts with the `{sha256[:8]}`" in card.text
    assert "| layer-wise lr decay | 0.75 per layer" in card.text  # the release's recipe is known

    # another file of that architecture (here: the same weights with other metadata) is not the release
    other = tmp_path / "other.pth"
    state = torch.load(checkpoint, weights_only=True)
    state["meta"] = {**state["meta"], "note": "retrained"}
    torch.save(state, other)
    result = conversion.convert(other, tmp_path / "other", variant="base", progress=False)
    assert result.recipe is fake_base and not result.release_match
    card = ModelCard.load(tmp_path / "other" / "README.md")
    assert card.data.eval_results is None and "No training recipe is recorded" in card.text


# ------------------------------------------------------------------------------------------------ recognition backbones
def _recognition_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """An mmaction2 VideoMAE recognizer checkpoint (use_mean_pooling=True + TimeSformerHead, 400 classes) built from
    the interp_batch2 detector's backbone: no `backbone.norm`, a `backbone.fc_norm` and `cls_head.fc_cls`."""
    state_dict = torch.load(fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth"), weights_only=True)["state_dict"]
    generator = torch.Generator().manual_seed(0)
    recognizer = {k: v for k, v in state_dict.items() if k.startswith("backbone.") and not k.startswith("backbone.norm.")}
    recognizer["backbone.fc_norm.weight"] = 1 + 0.1 * torch.randn(64, generator=generator)
    recognizer["backbone.fc_norm.bias"] = 0.1 * torch.randn(64, generator=generator)
    recognizer["cls_head.fc_cls.weight"] = 0.02 * torch.randn(400, 64, generator=generator)
    recognizer["cls_head.fc_cls.bias"] = 0.1 * torch.randn(400, generator=generator)
    torch.save({"meta": {"config": "num_heads=4, num_frames=16, img_size=224"}, "state_dict": recognizer}, path)
    return recognizer


def test_recognition_checkpoint_becomes_the_detectors_starting_point(tmp_path, capsys):
    recognizer = _recognition_checkpoint(tmp_path / "recognizer.pth")
    output = tmp_path / "backbone"
    assert convert(["--checkpoint", tmp_path / "recognizer.pth", "--output_dir", output]) == 0
    summary = capsys.readouterr().out
    print(summary)
    assert "kind        recognition" in summary and "(final LayerNorm ones / zeros) (ok)" in summary

    classifier = VideoMAEForVideoClassification.from_pretrained(output).eval()
    config = classifier.config
    assert config.model_type == "videomae" and config.use_mean_pooling and config.layer_norm_eps == 1e-6
    assert config.num_labels == 400
    torch.testing.assert_close(classifier.fc_norm.weight, recognizer["backbone.fc_norm.weight"], rtol=0, atol=0)
    torch.testing.assert_close(classifier.classifier.weight, recognizer["cls_head.fc_cls.weight"], rtol=0, atol=0)
    # transformers' fc_norm ignores config.layer_norm_eps (nn.LayerNorm default 1e-5; mmaction2: 1e-6): measure it
    assert classifier.fc_norm.eps == 1e-5
    pixel_values = torch.randn(1, 16, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = classifier(pixel_values).logits
        classifier.fc_norm.eps = 1e-6
        mmaction2_eps_logits = classifier(pixel_values).logits
    print(f"Kinetics logits, fc_norm eps 1e-5 vs mmaction2's 1e-6: max abs difference "
          f"{(logits - mmaction2_eps_logits).abs().max().item():.3g}")

    # the detector starts from the folder exactly as mmaction2's does from the recognizer ...
    detector = VideoMAEForActionDetection.from_pretrained(output).eval()
    assert (detector.videomae.layernorm.weight == 1).all() and (detector.videomae.layernorm.bias == 0).all()
    folder, tensors, pixel_values, boxes = load_model_case_inputs("interp_batch2")
    reference, _ = mmaction2_keys.convert_detection_checkpoint(folder / "checkpoint.pth")
    reference_state = reference.state_dict()
    backbone_keys = [k for k in reference_state if k.startswith("videomae.") and not k.startswith("videomae.layernorm.")]
    for key in backbone_keys:
        torch.testing.assert_close(detector.state_dict()[key], reference_state[key], rtol=0, atol=0, msg=key)
    # ... so with the trained final norm and head of the fixture detector it gives the fixture's logits
    with torch.no_grad():
        detector.videomae.layernorm.load_state_dict(reference.videomae.layernorm.state_dict())
        detector.roi_head.load_state_dict(reference.roi_head.state_dict())
        logits = flat_logits(detector(pixel_values, boxes).logits, boxes)
    assert (logits - tensors["logits"][:, 1:]).abs().max().item() <= 1e-4


def test_recognition_checkpoint_with_a_final_norm_is_refused(tmp_path, capsys):
    recognizer = _recognition_checkpoint(tmp_path / "recognizer.pth")
    recognizer["backbone.norm.weight"] = torch.ones(64)
    torch.save({"state_dict": recognizer}, tmp_path / "odd.pth")
    assert convert(["--checkpoint", tmp_path / "odd.pth", "--output_dir", tmp_path / "out"]) == 2
    assert "backbone.norm.weight" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------------------------- push
def test_push_to_a_fake_hub_sends_every_file_intact(tmp_path):
    output = tmp_path / "out"
    with FakeHub() as hub:
        env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
        env.update(HF_ENDPOINT=hub.endpoint, HF_TOKEN="hf_fake_token", HF_HUB_DISABLE_XET="1", HF_HUB_OFFLINE="0",
                   HF_HOME=str(tmp_path / "hf_home"), NO_PROXY="127.0.0.1,localhost", PYTHONDONTWRITEBYTECODE="1")
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "convert_checkpoints.py"), "--no_progress",
             "--checkpoint", str(fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth")),
             "--output_dir", str(output), "--push_to_hub", "tester/tiny"],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    assert f"pushed      {hub.endpoint}/tester/tiny/commit/" in result.stdout
    assert hub.repos == ["tester/tiny"] and len(hub.commits) == 1
    local = {p.name: p.read_bytes() for p in output.iterdir()}
    assert set(hub.files["tester/tiny"]) == set(local)
    for name, content in local.items():
        assert hub.files["tester/tiny"][name] == content, name
    assert '"tester/tiny"' in local["README.md"].decode()  # the card's code sample names the pushed repo
    assert all(request.startswith(("GET", "HEAD")) for request in hub.unhandled), hub.unhandled


def test_converted_folder_declares_the_video_action_detection_pipeline(remote_run):
    """The converter's folder carries the pipeline as remote code (`pipeline(..., trust_remote_code=True)`)."""
    converted = remote_run["converted"]
    config = json.loads((converted / "config.json").read_text())
    assert config["custom_pipelines"]["video-action-detection"]["impl"] == (
        "pipeline_video_action_detection.VideoActionDetectionPipeline")
    assert (converted / "pipeline_video_action_detection.py").is_file() and (converted / "person_boxes.py").is_file()


def test_hub_configs_hold_the_converters_config_files(remote_run):
    """hub_configs/<model>/ config.json and video_preprocessor_config.json have the fields of the converter's folder,
    in its layout, with the same remote-code entries (`auto_map`, `custom_pipelines`); the code files those name are
    not kept in hub_configs/ (the converter writes them next to the weights)."""
    converted_folder = remote_run["converted"]
    converted_files = {path.name for path in converted_folder.iterdir()}
    for name in ("config.json", "video_preprocessor_config.json"):
        converted = json.loads((converted_folder / name).read_text())
        for recipe in RECIPES.values():
            written = json.loads((HUB_CONFIGS / recipe.model_name / name).read_text())
            assert list(written) == list(converted), (recipe.model_name, name)  # the same fields, in the same order
            assert list(written["id2label"]) == list(converted["id2label"]) == [str(i) for i in range(80)]
            for key in ("auto_map", "custom_pipelines", "architectures", "model_type"):
                assert written.get(key) == converted.get(key), (recipe.model_name, name, key)
            modules = [reference.split(".")[0] for reference in written["auto_map"].values()]
            modules += [entry["impl"].split(".")[0] for entry in written.get("custom_pipelines", {}).values()]
            assert {f"{module}.py" for module in modules} <= converted_files
    assert "custom_pipelines" in json.loads((HUB_CONFIGS / VIT_BASE.model_name / "config.json").read_text())
