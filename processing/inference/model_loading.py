"""The action detector and its video processor, from a model folder, a Hub id or a model instance."""

from __future__ import annotations

import os

import torch

from ..video_processing_videomae_action_detection import VideoMAEActionDetectionVideoProcessor


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def load_action_detector(model, device=None, dtype: str | torch.dtype | None = None, trust_remote_code: bool = False):
    """(model in eval mode on `device` / `dtype`, video processor) from our detection model folder / Hub id (or a
    model instance).

    The video processor is the folder's own (`AutoVideoProcessor`) when it has one, else the AVA evaluation settings
    naming the model's actions (`VideoMAEActionDetectionVideoProcessor.from_model_config`).
    `dtype`: a torch dtype or one of `DTYPES`' names ("fp32", "bf16", "fp16").
    """
    from transformers import AutoModel, AutoVideoProcessor

    from ... import modeling  # noqa: F401  (registers the model with AutoModel)

    torch_dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    processor = None
    if isinstance(model, (str, os.PathLike)):
        folder = os.fspath(model)
        if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, "config.json")):
            raise FileNotFoundError(f"{folder} holds no config.json: not a model folder")
        model = AutoModel.from_pretrained(folder, trust_remote_code=trust_remote_code)
        try:
            processor = AutoVideoProcessor.from_pretrained(folder, trust_remote_code=trust_remote_code)
        except (OSError, ValueError):
            processor = None
    if processor is None:
        processor = VideoMAEActionDetectionVideoProcessor.from_model_config(model.config)
    model = model.eval()
    if device is not None or torch_dtype is not None:
        model.to(device=device, dtype=torch_dtype)
    return model, processor


__all__ = ["DTYPES", "load_action_detector"]
