"""`VideoMAEForActionDetection` and its config, registered with transformers' Auto classes on import."""

from transformers import AutoConfig, AutoModel

from .ava_labels import (
    AVA_ACTION_NAMES,
    AVA_ACTION_TYPES,
    AVA_ACTIONS,
    AVA_EVALUATED_ACTION_IDS,
    NUM_AVA_ACTIONS,
    action_id_to_index,
    ava_id2label,
    index_to_action_id,
)
from .configuration_videomae_action_detection import VideoMAEActionDetectionConfig
from .export_videomae_action_detection import export_dynamic_shapes, export_onnx
from .modeling_videomae_action_detection import (
    VideoMAEActionDetectionOutput,
    VideoMAEActionDetectionPreTrainedModel,
    VideoMAEForActionDetection,
)


AutoConfig.register(VideoMAEActionDetectionConfig.model_type, VideoMAEActionDetectionConfig, exist_ok=True)
AutoModel.register(VideoMAEActionDetectionConfig, VideoMAEForActionDetection, exist_ok=True)
# save_pretrained then writes `auto_map` and copies the code files, for `trust_remote_code=True` loading.
VideoMAEActionDetectionConfig.register_for_auto_class()
VideoMAEForActionDetection.register_for_auto_class("AutoModel")

__all__ = [
    "AVA_ACTIONS",
    "AVA_ACTION_NAMES",
    "AVA_ACTION_TYPES",
    "AVA_EVALUATED_ACTION_IDS",
    "NUM_AVA_ACTIONS",
    "action_id_to_index",
    "ava_id2label",
    "index_to_action_id",
    "VideoMAEActionDetectionConfig",
    "VideoMAEActionDetectionOutput",
    "VideoMAEActionDetectionPreTrainedModel",
    "VideoMAEForActionDetection",
    "export_dynamic_shapes",
    "export_onnx",
]
