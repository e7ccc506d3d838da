"""The `"video-action-detection"` pipeline of the installed package, and a model folder made to carry it.

- `VideoActionDetectionPipeline`: the remote-code pipeline (`processing.pipeline_video_action_detection`) that also
  reads `proposals=` given as a file path (an AVA proposals pickle or CSV, `ProposalsFile`); registered for the task
  when `videomae_action_detection.processing` is imported.
- `add_pipeline_code(folder)`: copies the remote-code pipeline's files into a saved model folder and declares it in
  the folder's `config.json` (`custom_pipelines`), so that `pipeline("video-action-detection", model=folder,
  trust_remote_code=True)` works where this package is not installed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from transformers import AutoModel
from transformers.dynamic_module_utils import custom_object_save
from transformers.pipelines import PIPELINE_REGISTRY

from ..pipeline_video_action_detection import TASK
from ..pipeline_video_action_detection import VideoActionDetectionPipeline as RemoteCodePipeline
from .proposals_file import ProposalsFile


class VideoActionDetectionPipeline(RemoteCodePipeline):
    """The remote-code pipeline; `proposals=` may also be the path of an AVA proposals pickle or CSV."""

    def proposals_source(self, proposals):
        if isinstance(proposals, (str, os.PathLike)):
            return ProposalsFile(proposals)
        return super().proposals_source(proposals)


PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=VideoActionDetectionPipeline,
                                    pt_model=AutoModel, type="video")


def custom_pipelines_entry() -> dict:
    """The `custom_pipelines` value of a model folder's config.json that points at the remote-code pipeline (what
    transformers' `Pipeline.save_pretrained` writes for a registered pipeline class)."""
    remote_class = RemoteCodePipeline
    return {
        TASK: {
            "impl": f"{remote_class.__module__.rsplit('.', 1)[-1]}.{remote_class.__name__}",
            "pt": ["AutoModel"],
            "type": "video",
        }
    }


def add_pipeline_code(folder: str | os.PathLike) -> list[Path]:
    """Make a saved model folder (config.json + weights) carry the `"video-action-detection"` pipeline as remote
    code: copy the pipeline's module and its sibling modules (transformers' `custom_object_save`: the file and its
    relative imports, recursively) and add `custom_pipelines` to `config.json`.

    Returns the copied files. Raises FileNotFoundError when `folder` has no config.json.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder} holds no config.json: save the model there first")
    copied = [Path(path) for path in custom_object_save(RemoteCodePipeline, folder)]
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["custom_pipelines"] = custom_pipelines_entry()
    # save_pretrained's layout: keys sorted at the top level; the nested values keep the order they were saved in
    # (`id2label` numerically, not as the strings "0", "1", "10", ...)
    config = dict(sorted(config.items()))
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return copied


__all__ = ["VideoActionDetectionPipeline", "add_pipeline_code", "custom_pipelines_entry"]
