"""AVA frame-mAP@0.5IoU as a Hugging Face `evaluate` metric (official ActivityNet 2020 / 2019 or mmaction2 protocol).

    import evaluate
    from videomae_action_detection.training.evaluation.ava_frame_map import MODULE_PATH
    metric = evaluate.load(MODULE_PATH)
    metric.add_batch(predictions=[{"key": "1j20qq1JyX4,0902", "boxes": [[0.1, 0.2, 0.5, 0.9]], "scores": [[...80]]}],
                     references=[{"key": "1j20qq1JyX4,0902", "boxes": [[0.1, 0.2, 0.5, 0.9]], "labels": [[12, 79]]}])
    metric.compute(protocol="activitynet-2020")

The computation is `videomae_action_detection.training.evaluation.ava_evaluation.ava_frame_map`; this file only adapts the
inputs.
"""

import datasets
import evaluate

from videomae_action_detection.processing.formats.detections import CSV_DECIMALS, detections_from_outputs
from videomae_action_detection.training.evaluation.ava_evaluation import ava_frame_map, groundtruth_from_references

_DESCRIPTION = """
AVA frame-mAP at IoU 0.5: per class, detections (person box, action score) are matched greedily in score order to
the ground-truth boxes of their keyframe; AP is the VOC all-point area under the precision-recall curve; the mAP
averages the classes of the label map (by default the 60 evaluated AVA v2.2 actions). Three protocols:
"activitynet-2020" (official script today), "activitynet-2019" (official script with excluded timestamps) and
"mmaction2" (mmaction2's re-implementation, which produced the published VideoMAE numbers). The result names its
protocol.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one per keyframe: {"key": "video_id,timestamp", "boxes": (N, 4) normalised x1 y1 x2 y2,
        "scores": (N, C) action scores (column j = action id j + 1, or `column_action_ids[j]`; C = 80 for AVA)}.
    references: one per keyframe: {"key": "video_id,timestamp", "boxes": (M, 4), "labels": M lists of action ids}.
        A reference without boxes is an evaluated keyframe with nobody in it (activitynet-2020).
    protocol: "activitynet-2020" (default), "activitynet-2019" or "mmaction2".
    label_map: .pbtxt path or {id: name}; None: the 60 AVA v2.2 classes.
    excluded_timestamps: CSV path or (video_id, timestamp) pairs (activitynet-2019, mmaction2).
    action_thr: keep (box, class) with score > action_thr (mmaction2 uses 0.002); None keeps all.
    decimals: round boxes and scores as a CSV written with this many decimals would (4, default); None: exact.
    column_action_ids: the action id of each score column, for a model with its own label set (its
        `config.label_action_ids`); None: column j is action id j + 1.
Returns:
    {"protocol": ..., "PascalBoxes_Precision/mAP@0.5IOU": ..., "PascalBoxes_PerformanceByCategory/AP@0.5IOU/<name>":
    ...} (official protocols) or {"protocol", "overall", "person_movement", "object_manipulation",
    "person_interaction", class APs} (mmaction2).
"""

_BOXES = datasets.Sequence(datasets.Sequence(datasets.Value("float64"), length=4))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AvaFrameMap(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Gu et al., AVA: A Video Dataset of Spatio-temporally Localized Atomic Visual Actions, CVPR 2018",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": {
                        "key": datasets.Value("string"),
                        "boxes": _BOXES,
                        "scores": datasets.Sequence(datasets.Sequence(datasets.Value("float64"))),
                    },
                    "references": {
                        "key": datasets.Value("string"),
                        "boxes": _BOXES,
                        "labels": datasets.Sequence(datasets.Sequence(datasets.Value("int64"))),
                    },
                }
            ),
            reference_urls=["https://github.com/activitynet/ActivityNet/tree/master/Evaluation"],
        )

    def _compute(self, predictions, references, protocol="activitynet-2020", label_map=None, excluded_timestamps=None,
                 action_thr=None, decimals=CSV_DECIMALS, iou_threshold=0.5, column_action_ids=None):
        _check_unique_keys(predictions, "predictions")
        _check_unique_keys(references, "references")
        detections = detections_from_outputs(
            [item["key"] for item in predictions],
            [item["boxes"] for item in predictions],
            [item["scores"] for item in predictions],
            action_thr=action_thr,
            decimals=decimals,
            source="<predictions>",
            column_action_ids=column_action_ids,
        )
        groundtruth = groundtruth_from_references(
            [item["key"] for item in references],
            [item["boxes"] for item in references],
            [item["labels"] for item in references],
            empty_keyframe_rows=protocol == "activitynet-2020",
        )
        return ava_frame_map(groundtruth, detections, label_map, excluded_timestamps, protocol, iou_threshold)


def _check_unique_keys(items, what):
    seen = set()
    for index, item in enumerate(items):
        if item["key"] in seen:
            raise ValueError(f"{what}[{index}]: keyframe {item['key']!r} appears twice")
        seen.add(item["key"])
