"""The model and the video processor a training run starts from: a checkpoint or a preset config, the actions it
learns (a label map), config overrides from the command line."""

from __future__ import annotations

import difflib
import json
import logging
import os
import re

import torch

from ..modeling import NUM_AVA_ACTIONS, VideoMAEActionDetectionConfig, VideoMAEForActionDetection
from ..processing import ava_video_processor
from .arguments import DataArguments, ModelArguments
from .recipe import recipe_for_variant
from .toy_preset import TOY_MODEL_CONFIG, TOY_PROCESSOR

logger = logging.getLogger(__name__)


def parse_config_overrides(text: str | None) -> dict:
    """`--config_overrides "hidden_size=64,image_size=[96,96]"` -> {field: value}; a name that is not a config field
    is a ValueError (with the closest field names)."""
    overrides = {}
    if not text:
        return overrides
    known = set(VideoMAEActionDetectionConfig.__dataclass_fields__) | {"num_labels"}
    for item in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", text):
        name, separator, value = item.partition("=")
        name = name.strip()
        if not separator or name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(f"--config_overrides: {item.strip()!r} does not set a VideoMAEActionDetectionConfig "
                             f"field{hint}")
        overrides[name] = json.loads(value) if value.strip()[:1] in "0123456789-[{tf" else value.strip()
    return overrides


def label_map_overrides(label_map: dict[int, str] | None, path=None) -> dict:
    """Config fields of a model learning the actions of `label_map` ({action id: name}, in file order): one output
    per action, `id2label` its names, `action_ids` its ids. {} for None."""
    if not label_map:
        return {}
    outside = [action_id for action_id in label_map if not 1 <= action_id <= NUM_AVA_ACTIONS]
    if outside:
        raise ValueError(f"--label_map {path}: action ids {outside} are outside the data set's 1..{NUM_AVA_ACTIONS}")
    return {"id2label": dict(enumerate(label_map.values())), "action_ids": list(label_map)}


def _checkpoint_label_vocabulary(model_name_or_path: str, cache_dir=None) -> list[tuple[int, str]] | None:
    """[(action id, name)] of a detection checkpoint's outputs; None for another kind of checkpoint."""
    config_dict, _ = VideoMAEActionDetectionConfig.get_config_dict(model_name_or_path, cache_dir=cache_dir)
    if config_dict.get("model_type") != VideoMAEActionDetectionConfig.model_type:
        return None
    config = VideoMAEActionDetectionConfig.from_dict(config_dict)
    return list(zip(config.label_action_ids, (config.id2label[i] for i in range(config.num_labels))))


def build_model(model_args: ModelArguments, toy: bool, label_map: dict[int, str] | None = None,
                label_map_path=None):
    """The model: from a checkpoint (VideoMAE backbone or detection folder) or a new one from a config; with
    `label_map`, its outputs are those actions (a detection checkpoint with other actions gets a new classifier)."""
    overrides = parse_config_overrides(model_args.config_overrides)
    if model_args.drop_path_rate is not None:
        overrides["drop_path_rate"] = model_args.drop_path_rate
    overrides.update(label_map_overrides(label_map, label_map_path))
    if model_args.model_name_or_path:
        path = model_args.model_name_or_path
        if not label_map:
            return VideoMAEForActionDetection.from_pretrained(path, cache_dir=model_args.cache_dir, **overrides)
        before = _checkpoint_label_vocabulary(path, model_args.cache_dir)
        model = VideoMAEForActionDetection.from_pretrained(path, cache_dir=model_args.cache_dir,
                                                           ignore_mismatched_sizes=True, **overrides)
        after = list(zip(model.config.label_action_ids, label_map.values()))
        if before is not None and before != after and len(before) == len(after):
            logger.warning(f"{path} scores other actions than --label_map {label_map_path}: its classifier starts "
                           "anew")
            torch.manual_seed(0)
            model._init_weights(model.roi_head)
        return model
    name = model_args.config_name or ("toy" if toy else None)
    if name is None:
        raise ValueError("give --model_name_or_path (a VideoMAE or detection checkpoint) or --config_name (a config "
                         "file or a preset: toy, base, large) to train on --data_dir")
    if name == "toy":
        config = VideoMAEActionDetectionConfig(**{**TOY_MODEL_CONFIG, **overrides})
    elif name in ("base", "large"):
        config = VideoMAEActionDetectionConfig(**{**recipe_for_variant(name).config_kwargs(), **overrides})
    else:
        config = VideoMAEActionDetectionConfig.from_pretrained(name, **overrides)
    torch.manual_seed(0)
    return VideoMAEForActionDetection(config)


def hub_base_model(model_args: ModelArguments) -> str | None:
    """The Hub id the model was finetuned from (for the card's `base_model`); None for a local folder or a new model."""
    name = model_args.model_name_or_path
    if not name or os.path.exists(name) or not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        return None
    return name


def build_processor(model_args: ModelArguments, data_args: DataArguments, model, toy: bool):
    kwargs = dict(TOY_PROCESSOR) if toy else {}
    if data_args.short_side is not None:
        kwargs["size"] = {"shortest_edge": data_args.short_side}
    if data_args.train_scale_range is not None:
        if len(data_args.train_scale_range) != 2:
            raise ValueError(f"--train_scale_range takes LOW HIGH, got {data_args.train_scale_range}")
        kwargs["scale_range"] = list(data_args.train_scale_range)
    if data_args.crop_size is not None:
        if len(data_args.crop_size) not in (1, 2):
            raise ValueError(f"--crop_size takes SIZE or HEIGHT WIDTH, got {data_args.crop_size}")
        height, width = (data_args.crop_size * 2)[:2]
        kwargs["crop_size"] = {"height": height, "width": width}
    if model_args.model_name_or_path:
        try:
            from transformers import AutoVideoProcessor

            processor = AutoVideoProcessor.from_pretrained(model_args.model_name_or_path, cache_dir=model_args.cache_dir,
                                                           **kwargs)
            if hasattr(processor, "post_process_action_detection"):
                return processor
        except (OSError, ValueError):
            pass  # a VideoMAE backbone folder: it has no detection processor
    return ava_video_processor(model.config, **kwargs)
