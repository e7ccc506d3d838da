"""`VideoActionDetectionPipeline`: the `"video-action-detection"` transformers pipeline (registered on import).

    import videomae_action_detection.processing.pipeline_video_action_detection  # registers the task
    from transformers import pipeline

    detector = pipeline("video-action-detection", model="path/to/detection-model")
    keyframes = detector("video.mp4", proposals="proposals.pkl", stride=1, top_k=3)
    # or person boxes from an object detector:
    keyframes = detector("video.mp4", person_detector="path/to/detr", person_threshold=0.9)

Returns, per keyframe, `{"timestamp": seconds, "persons": [{"box": [x1, y1, x2, y2] normalised, "pixel_box":
{"xmin", "ymin", "xmax", "ymax"} in pixels of the video (as transformers' object-detection pipeline), "person_score",
"actions": [{"action_id", "label", "score"}, ...]}]}` (the records of `actions.json`, plus `pixel_box`); `return_results=True` gives
the `KeyframeResult`s with all 80 scores instead. The work is `detect_actions` (see `video_action_detection`):
`batch_size` is the number of keyframes per model call, not a number of videos.
"""

from __future__ import annotations

import os

from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .. import modeling  # noqa: F401  (registers the model with AutoModel)
from . import ava_video_processor
from .video_action_detection import (
    ObjectDetectorBoxes,
    ProposalsFile,
    detect_actions,
    probe_video,
    results_to_records,
)


TASK = "video-action-detection"


class VideoActionDetectionPipeline(Pipeline):
    """Person boxes (a proposals file or an object detector) + a `VideoMAEForActionDetection` over a video file.

    Call arguments (also accepted by the constructor as defaults):
        proposals: a `ProposalsFile` or the path of an AVA proposals pkl / CSV.
        person_detector: an `ObjectDetectorBoxes`, or an object-detection model folder / Hub id.
        person_label: the detector's person label name (default "person").
        person_threshold: keep person boxes scoring >= this (default 0.9).
        video_id, stride, start, end, frame_interval, short_side, batch_size, progress: as `detect_actions`.
        top_k, threshold: the actions listed per person (at most `top_k`, score > threshold; defaults 3 and 0.0).
        return_results: return the `KeyframeResult`s (all scores) instead of records.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False
    _load_video_processor = None  # the folder's processor when it has one, else the AVA defaults (below)

    _preprocess_names = ("proposals", "person_detector", "person_label", "person_threshold", "video_id", "stride",
                         "start", "end", "frame_interval", "short_side", "clip_batch_size", "progress")
    _postprocess_names = ("top_k", "threshold", "return_results")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.video_processor is None:
            self.video_processor = ava_video_processor(self.model.config)

    def __call__(self, video, **kwargs):
        """`video`: a video file path (or a list of paths: a list of outputs)."""
        if "batch_size" in kwargs:
            kwargs["clip_batch_size"] = kwargs.pop("batch_size")
        return super().__call__(video, **kwargs)

    def _sanitize_parameters(self, **kwargs):
        if "batch_size" in kwargs:
            kwargs["clip_batch_size"] = kwargs.pop("batch_size")
        unknown = set(kwargs) - set(self._preprocess_names) - set(self._postprocess_names)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {sorted(unknown)}")
        preprocess = {name: kwargs[name] for name in self._preprocess_names if name in kwargs}
        postprocess = {name: kwargs[name] for name in self._postprocess_names if name in kwargs}
        return preprocess, {}, postprocess

    def preprocess(self, video, proposals=None, person_detector=None, person_label: str = "person", **settings):
        if not isinstance(video, (str, os.PathLike)):
            raise TypeError(f"the video must be a file path, got {type(video).__name__}")
        if (proposals is None) == (person_detector is None):
            raise ValueError("give exactly one of `proposals` (a file) and `person_detector` (an object detector)")
        if proposals is not None:
            person_boxes = proposals if isinstance(proposals, ProposalsFile) else ProposalsFile(proposals)
        elif isinstance(person_detector, ObjectDetectorBoxes):
            person_boxes = person_detector
        else:
            person_boxes = ObjectDetectorBoxes(person_detector, person_label=person_label, device=self.device)
        return {"video": os.fspath(video), "person_boxes": person_boxes, "settings": settings}

    @staticmethod
    def _add_pixel_boxes(records: list[dict], width: int, height: int) -> list[dict]:
        """Each person's box in pixels of the video, `{xmin, ymin, xmax, ymax}` (object-detection pipeline style)."""
        for record in records:
            for person in record["persons"]:
                x1, y1, x2, y2 = person["box"]
                person["pixel_box"] = {"xmin": x1 * width, "ymin": y1 * height, "xmax": x2 * width, "ymax": y2 * height}
        return records

    def _forward(self, model_inputs):
        settings = dict(model_inputs["settings"])
        settings.setdefault("person_threshold", 0.9)
        batch_size = settings.pop("clip_batch_size", None) or 4
        results = detect_actions(
            model_inputs["video"], self.model, self.video_processor, model_inputs["person_boxes"],
            batch_size=batch_size, **settings,
        )
        info = probe_video(model_inputs["video"])
        return {"results": list(results), "frame_size": (info.width, info.height)}

    def postprocess(self, model_outputs, top_k: int | None = 3, threshold: float = 0.0, return_results: bool = False):
        results = model_outputs["results"]
        if return_results:
            return results
        id2label = {int(index): name for index, name in self.model.config.id2label.items()}
        records = results_to_records(results, top_k=top_k, label_threshold=threshold, id2label=id2label,
                                     action_ids=getattr(self.model.config, "label_action_ids", None))
        return self._add_pixel_boxes(records, *model_outputs["frame_size"])


PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=VideoActionDetectionPipeline, pt_model=AutoModel, type="video")


__all__ = ["TASK", "VideoActionDetectionPipeline"]
