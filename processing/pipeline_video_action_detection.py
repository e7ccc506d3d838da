"""`VideoActionDetectionPipeline`: the `"video-action-detection"` transformers pipeline.

With this package installed (importing `videomae_action_detection.processing` registers the task):

    import videomae_action_detection.processing
    from transformers import pipeline

    detector = pipeline("video-action-detection", model="path/to/detection-model")

From a model folder or Hub repo that carries the pipeline's code (`custom_pipelines` in its config.json, written by
the converter and the finetuning script), without this package:

    detector = pipeline("video-action-detection", model="path/to/detection-model", trust_remote_code=True)

Inputs: a video file path, or one video as a list of frames (PIL images or `(H, W, 3)` uint8 RGB arrays) with their
`fps`; a list of paths gives a list of outputs. Person boxes, one of:
    person_boxes={0: [[x1, y1, x2, y2], ...], 1.5: ...}   # normalised boxes per keyframe second ((N, 5): + score)
    person_detector="path/to/detr"                         # an object detector's "person" boxes
    proposals=...                                          # any person-box source (see `person_boxes`); with the
                                                           # package installed also a proposals .pkl / .csv path

    keyframes = detector("video.mp4", person_boxes={0: [[0.1, 0.2, 0.5, 0.9]]}, top_k=3)
    keyframes = detector(frames, fps=25, person_detector="path/to/detr", person_threshold=0.9)

Returns, per keyframe, `{"timestamp": seconds, "persons": [{"box": [x1, y1, x2, y2] normalised, "pixel_box":
{"xmin", "ymin", "xmax", "ymax"} in pixels of the video (as transformers' object-detection pipeline),
"person_score", "actions": [{"action_id", "label", "score"}, ...]}]}` (`label` from the model's `id2label`,
`action_id` from its `label_action_ids`); `return_results=True` gives the `KeyframeResult`s with every score
instead. `batch_size` is the number of keyframes per model call, not a number of videos. `progress=True` shows a
tqdm bar over the keyframes on stderr (transformers' `logging.tqdm`: none after
`transformers.utils.logging.disable_progress_bar()`); the default shows none.

Pipeline remote code: imports at top level only the stdlib, transformers and its sibling files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from transformers import Pipeline
from transformers.utils import logging as transformers_logging

from .keyframe_actions import detect_keyframe_actions, results_to_records
from .person_boxes import GivenPersonBoxes, ObjectDetectorBoxes
from .video_keyframes import frames_on_timeline, probe_video
from .video_processing_videomae_action_detection import VideoMAEActionDetectionVideoProcessor, _is_frame


TASK = "video-action-detection"
FRAMES_VIDEO_ID = "frames"  # the video id of a video given as frames (what a person-box source is asked for)


class VideoFrames:
    """One video given as frames in memory: `frames` (PIL images or `(H, W, 3)` uint8 arrays) at `fps`."""

    def __init__(self, frames, fps):
        self.frames, self.fps = frames, fps


class VideoActionDetectionPipeline(Pipeline):
    """Person boxes (given, an object detector or a proposals source) + a `VideoMAEForActionDetection` over a video.

    Call arguments (also accepted by the constructor as defaults):
        fps: the frame rate of a video given as a list of frames (required then; not for a file).
        person_boxes: `{timestamp seconds: (N, 4) normalised x1 y1 x2 y2 boxes, or (N, 5) with a score}`.
        person_detector: an `ObjectDetectorBoxes`, or an object-detection model folder / Hub id.
        proposals: a person-box source object (callable `(video_id, timestamps, frames) -> [PersonBoxes]`).
        person_label: the detector's person label name (default "person").
        person_threshold: keep person boxes scoring >= this (default 0.9).
        video_id, stride, start, end, frame_interval, short_side, batch_size: as `detect_keyframe_actions`.
        top_k, threshold: the actions listed per person (at most `top_k`, score > threshold; defaults 3 and 0.0).
        return_results: return the `KeyframeResult`s (all scores) instead of records.
        progress: True: a tqdm bar over the keyframes of each video (transformers' `logging.tqdm`, on stderr);
            False / None (the default): none; or a callable `(total keyframes) -> bar` whose bar has `update(n)` and
            `close()`, as `detect_keyframe_actions` takes.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False
    _load_video_processor = None  # the folder's processor when it has one, else the model config's (below)

    _preprocess_names = ("fps", "person_boxes", "proposals", "person_detector", "person_label", "person_threshold",
                         "video_id", "stride", "start", "end", "frame_interval", "short_side", "clip_batch_size",
                         "progress")
    _postprocess_names = ("top_k", "threshold", "return_results")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.video_processor is None:
            self.video_processor = VideoMAEActionDetectionVideoProcessor.from_model_config(self.model.config)

    def __call__(self, video, **kwargs):
        """`video`: a video file path, one video as a list of frames (with `fps=`), or a list of paths."""
        if "batch_size" in kwargs:
            kwargs["clip_batch_size"] = kwargs.pop("batch_size")
        if _is_frame_list(video):
            if kwargs.get("fps") is None:
                raise ValueError("a video given as frames needs its frame rate: pass fps=")
            video = VideoFrames(video, kwargs.pop("fps"))
        return super().__call__(video, **kwargs)

    def _sanitize_parameters(self, **kwargs):
        if "batch_size" in kwargs:
            kwargs["clip_batch_size"] = kwargs.pop("batch_size")
        unknown = set(kwargs) - set(self._preprocess_names) - set(self._postprocess_names)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {sorted(unknown)}")
        if "progress" in kwargs:
            _check_progress(kwargs["progress"])
        preprocess = {name: kwargs[name] for name in self._preprocess_names if name in kwargs}
        postprocess = {name: kwargs[name] for name in self._postprocess_names if name in kwargs}
        return preprocess, {}, postprocess

    def proposals_source(self, proposals):
        """The person-box source for `proposals=`: the object itself when it is callable (e.g. a `ProposalsFile`).
        Paths need the installed package's proposals-file reader (its registered pipeline reads them)."""
        if callable(proposals):
            return proposals
        raise TypeError(
            "proposals= takes a person-box source object here; proposals files (.pkl / .csv) are read by the "
            "videomae_action_detection package's pipeline, or pass person_boxes={timestamp: boxes}"
        )

    def _person_box_source(self, person_boxes, proposals, person_detector, person_label):
        given = [name for name, value in (("person_boxes", person_boxes), ("proposals", proposals),
                                           ("person_detector", person_detector)) if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `person_boxes` (boxes per keyframe), `proposals` and "
                             f"`person_detector` (an object detector); got {given or 'none'}")
        if person_boxes is not None:
            return person_boxes if isinstance(person_boxes, GivenPersonBoxes) else GivenPersonBoxes(person_boxes)
        if proposals is not None:
            return self.proposals_source(proposals)
        if isinstance(person_detector, ObjectDetectorBoxes):
            return person_detector
        return ObjectDetectorBoxes(person_detector, person_label=person_label, device=self.device)

    def preprocess(self, video, fps=None, person_boxes: Mapping | None = None, proposals=None, person_detector=None,
                   person_label: str = "person", video_id: str | None = None, **settings):
        if isinstance(video, VideoFrames):
            source, info = frames_on_timeline(video.frames, video.fps)
            video_id = video_id if video_id is not None else FRAMES_VIDEO_ID
        elif isinstance(video, (str, os.PathLike)):
            if fps is not None:
                raise ValueError("fps= is for a video given as frames; a video file is read on its own timestamps")
            info = probe_video(video)
            source = info.path
            video_id = video_id if video_id is not None else os.path.splitext(os.path.basename(info.path))[0]
        else:
            raise TypeError(f"the video must be a file path or a list of frames, got {type(video).__name__}")
        person_source = self._person_box_source(person_boxes, proposals, person_detector, person_label)
        return {"source": source, "info": info, "video_id": video_id, "person_boxes": person_source,
                "settings": settings}

    def _forward(self, model_inputs):
        settings = dict(model_inputs["settings"])
        settings.setdefault("person_threshold", 0.9)
        settings["progress"] = keyframe_progress(settings.pop("progress", None), model_inputs["video_id"])
        batch_size = settings.pop("clip_batch_size", None) or 4
        info = model_inputs["info"]
        results = detect_keyframe_actions(
            model_inputs["source"], info, self.model, self.video_processor, model_inputs["person_boxes"],
            video_id=model_inputs["video_id"], batch_size=batch_size, **settings,
        )
        return {"results": list(results), "frame_size": (info.width, info.height)}

    def postprocess(self, model_outputs, top_k: int | None = 3, threshold: float = 0.0, return_results: bool = False):
        results = model_outputs["results"]
        if return_results:
            return results
        config = self.model.config
        id2label = {int(index): name for index, name in config.id2label.items()}
        return results_to_records(results, id2label, config.label_action_ids, top_k=top_k, label_threshold=threshold,
                                  frame_size=model_outputs["frame_size"])


def _check_progress(progress) -> None:
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError("progress= takes True (a bar over the keyframes), False / None (no bar) or a callable "
                        f"(total keyframes) -> bar with update(n) and close(); got {type(progress).__name__}")


def keyframe_progress(progress, video_id: str):
    """The pipeline's `progress=` as `detect_keyframe_actions`' `progress` (a bar factory, or None for no bar)."""
    _check_progress(progress)
    if progress is None or progress is False:
        return None
    if progress is True:
        def bar(total: int):
            return transformers_logging.tqdm(total=total, desc=f"actions in {video_id}", unit="keyframe")

        return bar
    return progress


def _is_frame_list(video) -> bool:
    """One video given as frames: a non-empty list / tuple of frames, or an `(N, H, W, 3)` array."""
    if isinstance(video, (list, tuple)):
        return len(video) > 0 and _is_frame(video[0])
    return getattr(video, "ndim", None) == 4 and video.shape[-1] == 3


__all__ = ["TASK", "VideoActionDetectionPipeline", "VideoFrames"]
