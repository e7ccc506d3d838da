"""Where the person boxes of each keyframe come from.

A person-box source is any callable `(video_id, timestamps, frames) -> [PersonBoxes]` (one per timestamp);
`frames` (the frames shown at the keyframes, `(H, W, 3)` uint8 RGB) are read for it only when it has
`needs_frames = True`; an optional `check_video_id(video_id)` and `check_schedule(timestamps)` are called before the
run (to fail before any clip is decoded).

- `GivenPersonBoxes`: boxes given directly, per keyframe second (the pipeline's `person_boxes=`).
- `ObjectDetectorBoxes`: a transformers object detector (`AutoModelForObjectDetection` + `AutoImageProcessor`, e.g.
  DETR / RT-DETR) run on the frame shown at the keyframe time; the detections of the label named `person`.
- (installed package only) `processing.inference.proposals_file.ProposalsFile`: an AVA proposals pickle or CSV.

Part of the pipeline's remote code: imports at top level only the stdlib, numpy, torch and its siblings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from .video_keyframes import as_seconds


@dataclass
class PersonBoxes:
    """Person boxes of one keyframe: `boxes (N, 4)` float64 normalised x1 y1 x2 y2, `scores (N,)` float64."""

    boxes: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> PersonBoxes:
        return cls(np.zeros((0, 4)), np.zeros(0))

    def above(self, threshold: float) -> PersonBoxes:
        """The boxes scoring >= `threshold`."""
        keep = self.scores >= threshold
        return PersonBoxes(self.boxes[keep], self.scores[keep])


def checked_normalised_boxes(boxes: np.ndarray, where: str) -> np.ndarray:
    """`boxes (N, 4)` if they are finite normalised x1 y1 x2 y2 in [0, 1] with x1 <= x2 and y1 <= y2; else a
    ValueError starting with `where` (the file and entry, or the argument)."""
    if not np.isfinite(boxes).all() or (boxes < 0).any() or (boxes > 1).any():
        raise ValueError(f"{where}: boxes must be normalised x1 y1 x2 y2 in [0, 1]")
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise ValueError(f"{where}: a box has x2 < x1 or y2 < y1")
    return boxes


def person_boxes_from_array(value, where: str) -> PersonBoxes:
    """`(N, 4)` normalised x1 y1 x2 y2 boxes (score 1 each) or `(N, 5)` with a score column -> `PersonBoxes`."""
    array = np.asarray(value, dtype=np.float64)
    if array.size == 0:
        array = array.reshape(0, 5)
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise ValueError(f"{where} must be (N, 4) normalised x1 y1 x2 y2 boxes or (N, 5) with a score, got {array.shape}")
    scores = array[:, 4] if array.shape[1] == 5 else np.ones(len(array))
    return PersonBoxes(checked_normalised_boxes(array[:, :4], where), scores)


class GivenPersonBoxes:
    """Person boxes given per keyframe second: `{timestamp: (N, 4) or (N, 5) normalised boxes [+ score]}`.

    Keys are matched on their numeric value (`2`, `2.0` and `"2"` are the same second); a keyframe with no entry has
    no persons. An entry whose second lies within the schedule's span but is not one of its keyframes is an error
    (it would be silently unused).
    """

    needs_frames = False

    def __init__(self, boxes: Mapping):
        if not isinstance(boxes, Mapping):
            raise TypeError(f"person_boxes must be a dict {{timestamp: (N, 4) boxes}}, got {type(boxes).__name__}")
        self._entries = {
            as_seconds(key, f"person_boxes key {key!r}"): person_boxes_from_array(value, f"person_boxes[{key!r}]")
            for key, value in boxes.items()
        }

    def check_schedule(self, timestamps: Sequence[Fraction]) -> None:
        if not timestamps:
            return
        scheduled = set(timestamps)
        for second in sorted(self._entries):
            if timestamps[0] <= second <= timestamps[-1] and second not in scheduled:
                raise ValueError(f"person_boxes has boxes at {float(second)} s, which is not a keyframe of the schedule "
                                 f"({float(timestamps[0])} s to {float(timestamps[-1])} s); check `stride` and `start`")

    def __call__(self, video_id: str, timestamps: Sequence[Fraction], frames=None) -> list[PersonBoxes]:
        return [self._entries.get(Fraction(timestamp), PersonBoxes.empty()) for timestamp in timestamps]


class ObjectDetectorBoxes:
    """Person boxes from a transformers object detector run on the frames shown at the keyframes.

    Args:
        model: an `AutoModelForObjectDetection` model, or a folder / Hub id to load it (and its image processor) from.
        image_processor: its `AutoImageProcessor` (loaded from the model folder when None).
        person_label: the `id2label` name of the person class (case-insensitive); `label_id` overrides it.
        device, dtype: where and how the detector runs.
    The detector's own threshold is 0: the caller's `person_threshold` selects the boxes.
    """

    needs_frames = True

    def __init__(self, model, image_processor=None, person_label: str = "person", label_id: int | None = None,
                 device=None, dtype=None):
        from transformers import AutoImageProcessor, AutoModelForObjectDetection

        if isinstance(model, (str, os.PathLike)):
            folder = os.fspath(model)
            model = AutoModelForObjectDetection.from_pretrained(folder)
            if image_processor is None:
                image_processor = AutoImageProcessor.from_pretrained(folder)
        elif image_processor is None:
            raise ValueError("pass the detector's image_processor with a model instance")
        self.model = model.eval()
        if device is not None or dtype is not None:
            self.model.to(device=device, dtype=dtype)
        self.image_processor = image_processor
        if label_id is None:
            names = {int(index): str(name) for index, name in model.config.id2label.items()}
            matches = [index for index, name in names.items() if name.lower() == person_label.lower()]
            if not matches:
                raise ValueError(
                    f"the detector has no label named {person_label!r} (labels: {sorted(set(names.values()))[:10]}...); "
                    "pass person_label= or label_id="
                )
            label_id = matches[0]
        self.label_id = int(label_id)

    @torch.no_grad()
    def __call__(self, video_id: str, timestamps: Sequence[Fraction], frames: Sequence[np.ndarray]) -> list[PersonBoxes]:
        if not len(frames):
            return []
        parameter = next(self.model.parameters())
        inputs = self.image_processor(images=list(frames), return_tensors="pt")
        inputs = {
            name: value.to(device=parameter.device, dtype=parameter.dtype if value.is_floating_point() else None)
            for name, value in inputs.items()
        }
        outputs = self.model(**inputs)
        sizes = [frame.shape[:2] for frame in frames]
        detections = self.image_processor.post_process_object_detection(outputs, threshold=0.0, target_sizes=sizes)
        results = []
        for (height, width), detection in zip(sizes, detections):
            person = detection["labels"] == self.label_id
            boxes = detection["boxes"][person].float().cpu().numpy().astype(np.float64)
            boxes = boxes / np.array([width, height, width, height], dtype=np.float64)
            boxes = np.clip(boxes, 0.0, 1.0)
            boxes[:, 2] = np.maximum(boxes[:, 2], boxes[:, 0])
            boxes[:, 3] = np.maximum(boxes[:, 3], boxes[:, 1])
            results.append(PersonBoxes(boxes, detection["scores"][person].float().cpu().numpy().astype(np.float64)))
        return results


__all__ = ["GivenPersonBoxes", "ObjectDetectorBoxes", "PersonBoxes", "checked_normalised_boxes", "person_boxes_from_array"]
