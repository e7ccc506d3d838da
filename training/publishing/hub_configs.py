"""The `hub_configs/<model>/` folders: what a Hub repo of each released mmaction2 detector holds besides its weights.

`write_hub_config(recipe, folder, namespace)` writes
- `config.json`: the full architecture of the recipe (the 80 AVA names, `architectures`, `auto_map` for remote code,
  `custom_pipelines` for the `"video-action-detection"` pipeline), exactly as the converter writes it for a converted
  model of that architecture (`save_pretrained`, then `processing.inference.pipeline.add_pipeline_code`);
- `video_preprocessor_config.json`: the video processor (mmaction2's evaluation resize and normalisation, the AVA
  names, `auto_map` for remote code), as the converter writes it;
- `README.md`: the model card (`training/publishing/model_card.py`) with the mAP mmaction2 reports for the released checkpoint.

The remote-code `.py` files that `auto_map` and `custom_pipelines` point at (model, config, video processor,
pipeline and their sibling modules) are not kept here: they are copies of this package's source, which the converter
(`convert_checkpoints.py`) writes next to the weights.

`hub_configs/regenerate.py` calls it for every recipe; a test checks that the committed files equal a fresh
regeneration.
"""

import shutil
import tempfile
from pathlib import Path

import torch

from ...modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
from ...processing import ava_video_processor
from ...processing.inference.pipeline import add_pipeline_code
from .model_card import ConvertedCheckpoint, build_model_card, reported_result, write_model_card
from ..recipe import DetectionRecipe

# The Hub namespace the committed cards name in their code sample; the converter's --push_to_hub writes the real one.
DEFAULT_NAMESPACE = "<namespace>"

HUB_CONFIG_FILES = ("README.md", "config.json", "video_preprocessor_config.json")


def recipe_config(recipe: DetectionRecipe) -> VideoMAEActionDetectionConfig:
    """The detector config of `recipe`, with what `save_pretrained` adds for a converted model (`architectures`,
    `auto_map` of the config and model classes, dtype float32)."""
    config = VideoMAEActionDetectionConfig(**recipe.config_kwargs())
    config.architectures = [VideoMAEForActionDetection.__name__]
    model_module = VideoMAEForActionDetection.__module__.rsplit(".", 1)[-1]
    config.auto_map = {"AutoModel": f"{model_module}.{VideoMAEForActionDetection.__name__}"}  # AutoConfig: added on save
    config.dtype = torch.float32
    return config


def write_hub_config(recipe: DetectionRecipe, folder: str | Path, namespace: str = DEFAULT_NAMESPACE) -> list[Path]:
    """Write `HUB_CONFIG_FILES` of `recipe` into `folder` (created if needed); returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = recipe_config(recipe)
    with tempfile.TemporaryDirectory() as scratch:
        # the converter's steps (`conversion.convert`); they also copy the code files, which only the converted
        # weights folder carries
        config.save_pretrained(scratch)
        ava_video_processor(config).save_pretrained(scratch)
        add_pipeline_code(scratch)  # config.json: + custom_pipelines
        for name in ("config.json", "video_preprocessor_config.json"):
            shutil.copyfile(Path(scratch) / name, folder / name)
    release = recipe.detection_checkpoint
    card = build_model_card(
        recipe.model_name,
        config,
        repo_id=f"{namespace}/{recipe.model_name}",
        recipe=recipe,
        results=[reported_result(recipe)],
        converted_from=ConvertedCheckpoint(file_name=release.file_name, release=release),
    )
    write_model_card(card, folder / "README.md")
    return [folder / name for name in HUB_CONFIG_FILES]


__all__ = ["DEFAULT_NAMESPACE", "HUB_CONFIG_FILES", "recipe_config", "write_hub_config"]
