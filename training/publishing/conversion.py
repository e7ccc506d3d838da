"""`convert`: an mmaction2 VideoMAE checkpoint -> a complete, self-checked transformers / Hub folder (weights,
config, video processor and remote code for a detector; model card), assembled in a temporary sibling and moved into
place only when complete; optionally pushed (`push.py`). The command is `convert_checkpoints.py` at the top of the
repository."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import VideoMAEForVideoClassification

from ...modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
from ...processing import ava_video_processor
from ...processing.inference.pipeline import add_pipeline_code
from ..recipe import DetectionRecipe, recipe_for_architecture, recipe_for_variant
from .mmaction2_checkpoint import (
    DETECTION,
    ConversionError,
    checkpoint_kind,
    file_sha256,
    infer_config,
    infer_recognition_config,
    read_mmaction2_checkpoint,
)
from .mmaction2_keys import ConversionReport, _detection_model, _recognition_model
from .model_card import ConvertedCheckpoint, build_backbone_card, build_model_card, reported_result, write_model_card
from .push import push_folder


class PushError(RuntimeError):
    """The folder was written and checked, but uploading it failed; `result` describes the folder."""

    def __init__(self, message: str, result: "ConversionResult"):
        super().__init__(message)
        self.result = result


def save_converted(model: VideoMAEForActionDetection, output_dir: Path, max_shard_size: str = "50GB") -> None:
    """Write config, safetensors weights and the remote-code files (with `auto_map`)."""
    type(model.config).register_for_auto_class()
    type(model).register_for_auto_class("AutoModel")
    model.save_pretrained(output_dir, max_shard_size=max_shard_size)


def self_check(output_dir: Path, reference: VideoMAEForActionDetection) -> float:
    """Reload the written folder through `AutoModel` and compare one forward with the in-memory model."""
    from transformers import AutoModel

    reloaded = AutoModel.from_pretrained(output_dir, trust_remote_code=True).eval()
    config = reference.config
    size = 2 * config.patch_size
    generator = torch.Generator().manual_seed(0)
    pixel_values = torch.randn(1, config.num_frames, config.num_channels, size, size + config.patch_size, generator=generator)
    boxes = [torch.tensor([[2.0, 3.0, size - 4.0, size - 1.0]])]
    with torch.no_grad():
        expected = reference(pixel_values, boxes).logits
        actual = reloaded(pixel_values, boxes).logits
    return (expected - actual).abs().max().item()


def backbone_self_check(output_dir: Path, reference: VideoMAEForVideoClassification) -> dict:
    """Reload a converted recognition folder twice: as `VideoMAEForVideoClassification` (every tensor must round-trip
    exactly) and as the detector's starting point, `VideoMAEForActionDetection.from_pretrained` (every backbone
    tensor must arrive; only the final LayerNorm and the action classifier may be new).

    Returns `max_abs_difference` (over all classification tensors), `backbone_tensors` (how many the detector took
    from the folder), `backbone_max_abs_difference`, `newly_initialised` (the detector's keys not in the folder) and
    `final_norm_fresh` (the detector's final LayerNorm starts at ones / zeros, as mmaction2's does).
    """
    reloaded = VideoMAEForVideoClassification.from_pretrained(output_dir).eval()
    reference_state = reference.state_dict()
    reloaded_state = reloaded.state_dict()
    if set(reference_state) != set(reloaded_state):
        raise ConversionError(f"{output_dir}: reloaded keys differ: {sorted(set(reference_state) ^ set(reloaded_state))}")
    difference = max((reference_state[k] - reloaded_state[k]).abs().max().item() for k in reference_state)

    detector, info = VideoMAEForActionDetection.from_pretrained(output_dir, output_loading_info=True)
    compared, backbone_difference = 0, 0.0
    for key, value in detector.state_dict().items():
        if key in reference_state:
            backbone_difference = max(backbone_difference, (value - reference_state[key]).abs().max().item())
            compared += 1
    final_norm = detector.videomae.layernorm
    return {
        "max_abs_difference": difference,
        "backbone_tensors": compared,
        "backbone_max_abs_difference": backbone_difference,
        "newly_initialised": sorted(info["missing_keys"]),
        "final_norm_fresh": bool((final_norm.weight == 1).all() and (final_norm.bias == 0).all()),
    }


_EXPECTED_NEW_IN_DETECTOR = ["roi_head.classifier.bias", "roi_head.classifier.weight", "videomae.layernorm.bias", "videomae.layernorm.weight"]


@dataclass
class ConversionResult:
    """What `convert` did, for the summary (and tests)."""

    kind: str
    checkpoint: Path
    output_dir: Path
    sha256: str
    recipe: DetectionRecipe | None
    release_match: bool
    architecture: str
    parameters: int
    report: ConversionReport
    check: dict
    files: list[str]
    commit_url: str | None = None

    def summary(self) -> str:
        recipe = f"mmaction2 {self.recipe.variant} recipe" if self.recipe else "no released recipe"
        release = (
            f"the released {self.expected_release()} (sha256 prefix matches)"
            if self.release_match
            else (f"not the released {self.expected_release()}" if self.recipe else "not a released file")
        )
        dropped = "; ".join(f"{key}: {why}" for key, why in self.report.dropped.items()) or "none"
        lines = [
            f"checkpoint  {self.checkpoint}",
            f"kind        {self.kind} ({self.architecture}; {recipe})",
            f"sha256      {self.sha256} ({release})",
            f"parameters  {self.parameters:,}",
            f"keys        {self.report.num_source_keys} source keys: {len(self.report.mapped)} mapped to "
            f"{self.report.num_target_keys} weights, {len(self.report.dropped)} dropped ({dropped})",
        ]
        if self.kind == DETECTION:
            lines.append(
                f"self-check  reloaded with AutoModel(trust_remote_code=True): max |logit difference| = "
                f"{self.check['max_abs_logit_difference']:.3g} ({'ok' if self.check['ok'] else 'FAILED'})"
            )
        else:
            lines.append(
                f"self-check  reloaded as VideoMAEForVideoClassification: max |tensor difference| = "
                f"{self.check['max_abs_difference']:.3g}; VideoMAEForActionDetection.from_pretrained took "
                f"{self.check['backbone_tensors']} backbone tensors (max |difference| "
                f"{self.check['backbone_max_abs_difference']:.3g}), newly initialised {self.check['newly_initialised']}"
                f"{' (final LayerNorm ones / zeros)' if self.check['final_norm_fresh'] else ''} "
                f"({'ok' if self.check['ok'] else 'FAILED'})"
            )
        lines.append(f"written     {self.output_dir}: {', '.join(self.files)}")
        if self.commit_url:
            lines.append(f"pushed      {self.commit_url}")
        return "\n".join(lines)

    def expected_release(self) -> str:
        if self.recipe is None:
            return "checkpoint"
        release = self.recipe.detection_checkpoint if self.kind == DETECTION else self.recipe.backbone_checkpoint
        return release.file_name


def _check_variant(recipe_or_none, variant, architecture, source) -> DetectionRecipe | None:
    """The recipe of the checkpoint's architecture; with `variant` given, it must be that variant's."""
    if variant is None:
        return recipe_or_none
    wanted = recipe_for_variant(variant)
    if recipe_or_none is not wanted:
        raise ConversionError(
            f"--variant {variant}: {source} is a {architecture} ViT (hidden/layers/heads/MLP), the {variant} recipe is "
            f"{'/'.join(map(str, wanted.architecture()))}"
        )
    return wanted


def _prepare_output(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"--output_dir {output_dir} exists and is not a folder")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise ValueError(f"--output_dir {output_dir} exists and is not empty (pass --overwrite to replace it)")


def _move_into_place(staging: Path, output_dir: Path) -> None:
    """Replace `output_dir` (absent, empty, or an old folder with --overwrite) by the complete `staging` folder."""
    old = None
    if output_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.old-", dir=output_dir.parent))
        old.rmdir()
        output_dir.rename(old)
    staging.rename(output_dir)
    if old is not None:
        shutil.rmtree(old)


def convert(
    checkpoint: str | Path,
    output_dir: str | Path,
    *,
    variant: str | None = None,
    config: VideoMAEActionDetectionConfig | None = None,
    label_map: dict[int, str] | None = None,
    repo_id: str | None = None,
    push: bool = False,
    private: bool = False,
    overwrite: bool = False,
    max_shard_size: str = "1GB",
    progress: bool = True,
) -> ConversionResult:
    """Convert `checkpoint` into the complete folder `output_dir`, self-check it and optionally push it to `repo_id`.

    Raises ConversionError / ValueError / FileNotFoundError / UntrustedPickleError before writing anything when the
    input is bad; the folder appears only complete and checked (assembled in a temporary sibling).
    """
    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    source = str(checkpoint)
    _prepare_output(output_dir, overwrite)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"--checkpoint {checkpoint}: no such file")
    sha256 = file_sha256(checkpoint, progress=progress)
    state_dict, meta = read_mmaction2_checkpoint(checkpoint)
    kind = checkpoint_kind(state_dict, source)
    if kind == DETECTION:
        if label_map is not None:
            raise ValueError("--label_map names the classes of a recognition checkpoint; the detector uses the AVA names")
        model_config = config if config is not None else infer_config(state_dict, meta, source)
    else:
        if config is not None:
            raise ValueError("--config is a detection config; a recognition checkpoint's config comes from its shapes")
        model_config = infer_recognition_config(state_dict, meta, source, label_map)
    dims = (model_config.hidden_size, model_config.num_hidden_layers, model_config.num_attention_heads, model_config.intermediate_size)
    architecture = "/".join(map(str, dims))
    recipe = _check_variant(recipe_for_architecture(*dims), variant, architecture, source)  # before the slow part
    if kind == DETECTION:
        model, report = _detection_model(state_dict, meta, model_config, source, progress)
    else:
        model, report = _recognition_model(state_dict, meta, label_map, source, progress, config=model_config)
    del state_dict
    release = None if recipe is None else (recipe.detection_checkpoint if kind == DETECTION else recipe.backbone_checkpoint)
    release_match = release is not None and sha256.startswith(release.expected_sha256_prefix)
    model_name = (repo_id or output_dir.resolve().name).split("/")[-1]
    card_repo_id = repo_id or model_name
    converted_from = ConvertedCheckpoint(file_name=checkpoint.name, sha256=sha256, release=release if release_match else None)

    output_dir.resolve().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.resolve().parent))
    try:
        if kind == DETECTION:
            save_converted(model, staging, max_shard_size=max_shard_size)
            ava_video_processor(model_config).save_pretrained(staging)  # + its remote-code files
            add_pipeline_code(staging)  # the "video-action-detection" pipeline as remote code
            results = [reported_result(recipe)] if release_match else []
            card = build_model_card(
                model_name,
                model_config,
                repo_id=card_repo_id,
                recipe=recipe if release_match else None,  # the recipe of other weights is not known
                results=results,
                converted_from=converted_from,
            )
            write_model_card(card, staging / "README.md")
            difference = self_check(staging, model)
            check = {"max_abs_logit_difference": difference, "ok": difference <= 1e-5}
        else:
            model.save_pretrained(staging, max_shard_size=max_shard_size)
            card = build_backbone_card(
                model_name, model_config, recipe=recipe if release_match else None, converted_from=converted_from
            )
            write_model_card(card, staging / "README.md")
            check = backbone_self_check(staging, model)
            check["ok"] = (
                check["max_abs_difference"] == 0.0
                and check["backbone_max_abs_difference"] == 0.0
                and check["newly_initialised"] == _EXPECTED_NEW_IN_DETECTOR
                and check["final_norm_fresh"]
            )
        if not check["ok"]:
            raise ConversionError(f"self-check failed for {source}: {check}")
        files = sorted(path.name for path in staging.iterdir())
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp made it private; the folder gets the usual permissions
        _move_into_place(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    result = ConversionResult(
        kind=kind,
        checkpoint=checkpoint,
        output_dir=output_dir,
        sha256=sha256,
        recipe=recipe,
        release_match=release_match,
        architecture=architecture,
        parameters=sum(p.numel() for p in model.parameters()),
        report=report,
        check=check,
        files=files,
    )
    if push:
        try:
            result.commit_url = push_folder(output_dir, repo_id, private=private, checkpoint_name=checkpoint.name)
        except Exception as error:  # any Hub / network error: the local folder stays complete
            raise PushError(f"pushing {output_dir} to {repo_id} failed ({type(error).__name__}: {error}); the folder "
                            "is complete locally, push it again with huggingface_hub's upload_folder", result) from error
    return result
