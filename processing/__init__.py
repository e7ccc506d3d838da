"""Clip reading and the video processor of `VideoMAEForActionDetection`, registered with `AutoVideoProcessor` on
import.

- `read_clip(source, timestamp, ...)`: the clip around a keyframe from a frame folder, a video file or memory;
  `ava_clip_frame_numbers(...)`: which frame numbers it uses (mmaction2's SampleAVAFrames, the one place this is
  computed). `read_clips(source, timestamps, ...)`: several keyframes' clips of one source, a video opened once and
  overlapping clips decoded in one forward pass.
- `VideoMAEActionDetectionVideoProcessor`: clips + normalised boxes -> `pixel_values` and pixel boxes (evaluation
  resize or training augmentation), and `post_process_action_detection` back to scored actions.
- `ava_video_processor(**kwargs)`: that processor with the AVA action names (or a model config's `id2label` and
  `action_ids`).
"""

from transformers import AutoVideoProcessor

from ..modeling import VideoMAEActionDetectionConfig, ava_id2label
from .clip_reader import FILENAME_TEMPLATE, ava_clip_frame_numbers, read_clip, read_clips, read_frames
from .video_processing_videomae_action_detection import (
    MMACTION2_MEAN,
    MMACTION2_STD,
    TrainAugmentation,
    VideoMAEActionDetectionVideoProcessor,
    rescaled_size,
)


AutoVideoProcessor.register(VideoMAEActionDetectionConfig, VideoMAEActionDetectionVideoProcessor, exist_ok=True)
# save_pretrained then writes `auto_map` and copies the processor's code files, for `trust_remote_code=True` loading.
VideoMAEActionDetectionVideoProcessor.register_for_auto_class("AutoVideoProcessor")

# Registers the "video-action-detection" pipeline (the installed package's: it also reads proposals files).
from .inference import pipeline as _video_action_detection_pipeline  # noqa: E402,F401


def ava_video_processor(config=None, **kwargs) -> VideoMAEActionDetectionVideoProcessor:
    """A `VideoMAEActionDetectionVideoProcessor` whose `id2label` comes from `config` (a model config or model) or,
    by default, the official AVA action names (`modeling.ava_labels`). `kwargs` are processor settings."""
    if config is not None:
        return VideoMAEActionDetectionVideoProcessor.from_model_config(config, **kwargs)
    return VideoMAEActionDetectionVideoProcessor(id2label=ava_id2label(), **kwargs)


__all__ = [
    "FILENAME_TEMPLATE",
    "MMACTION2_MEAN",
    "MMACTION2_STD",
    "TrainAugmentation",
    "VideoMAEActionDetectionVideoProcessor",
    "ava_clip_frame_numbers",
    "ava_video_processor",
    "read_clip",
    "read_clips",
    "read_frames",
    "rescaled_size",
]
