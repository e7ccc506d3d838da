"""Model cards for `VideoMAEForActionDetection` folders: one generator for the `hub_configs/` folders, the checkpoint
converter and the training script.

- `build_model_card(model_name, config, ...)`: the card of a detector folder: what the model does and does not do,
  usage, architecture, training recipe, evaluation, provenance, licence, citation, and YAML metadata whose
  `model-index` carries the mAP figures (`huggingface_hub.ModelCard.load(path).data.eval_results` parses them back).
- `EvaluationResult`: one mAP figure and how it was obtained. `reported_result(recipe)` is the figure mmaction2
  reports for a released checkpoint (marked as reported by the source, `verified: false`); the training script passes
  its own measured figures (`measured_here=True`, naming its protocol) and they go in the same fields.
- `build_backbone_card(...)`: the short card of a converted recognition backbone folder.

Cards are markdown strings, deterministic functions of their arguments (the `hub_configs/` test regenerates them
byte for byte); `write_model_card` writes one.
"""

from dataclasses import dataclass

from huggingface_hub import EvalResult, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index
from huggingface_hub.utils import yaml_dump

from ...modeling import AVA_EVALUATED_ACTION_IDS, NUM_AVA_ACTIONS
from ..recipe import (
    MMACTION2_DETECTION_README,
    MMACTION2_RECOGNITION_README,
    REPORTED_EVALUATION_PROTOCOL,
    DetectionRecipe,
    ReleasedCheckpoint,
)

WEIGHTS_LICENSE = "cc-by-nc-4.0"
CODE_LICENSE = "Apache-2.0"
TAGS = ["video", "action-detection", "spatio-temporal-action-detection", "ava", "videomae", "mmaction2", "custom_code"]
DATASETS = ["ava", "ava-kinetics"]

TASK_TYPE = "spatio-temporal-action-detection"
TASK_NAME = "Spatio-temporal action detection"

VIDEOMAE_BIBTEX = """@inproceedings{tong2022videomae,
  title={Video{MAE}: Masked Autoencoders are Data-Efficient Learners for Self-Supervised Video Pre-Training},
  author={Zhan Tong and Yibing Song and Jue Wang and Limin Wang},
  booktitle={Advances in Neural Information Processing Systems},
  year={2022}
}"""

MMACTION2_BIBTEX = """@misc{2020mmaction2,
  title={OpenMMLab's Next Generation Video Understanding Toolbox and Benchmark},
  author={MMAction2 Contributors},
  howpublished={\\url{https://github.com/open-mmlab/mmaction2}},
  year={2020}
}"""


@dataclass(frozen=True)
class EvaluationResult:
    """One frame-mAP figure for the card text and its `model-index`.

    value: mAP in percent. protocol: a sentence naming the evaluator and its settings. measured_here: False for a
    figure reported by the source (not re-measured by this project), True for one this project's evaluation measured.
    source_name / source_url: where the figure comes from (the `source` of the model-index entry).
    metric_config: a short name of the protocol, stored as the metric's `config` in the model-index.
    """

    value: float
    protocol: str
    measured_here: bool
    metric_config: str
    source_name: str | None = None
    source_url: str | None = None
    dataset_name: str = "AVA v2.2"
    dataset_type: str = "ava"
    dataset_config: str = "v2.2"
    dataset_split: str = "validation"
    metric_name: str = f"frame-mAP@0.5IoU ({len(AVA_EVALUATED_ACTION_IDS)} classes)"

    def __post_init__(self):
        if (self.source_name is None) != (self.source_url is None):
            raise ValueError(
                f"EvaluationResult: give both source_name and source_url, or neither (got {self.source_name!r}, "
                f"{self.source_url!r}); the model-index needs both"
            )

    def to_eval_result(self) -> EvalResult:
        return EvalResult(
            task_type=TASK_TYPE,
            task_name=TASK_NAME,
            dataset_type=self.dataset_type,
            dataset_name=self.dataset_name,
            dataset_config=self.dataset_config,
            dataset_split=self.dataset_split,
            metric_type="mAP",
            metric_value=self.value,
            metric_name=self.metric_name,
            metric_config=self.metric_config,
            verified=False,  # Hub-verified evaluations only; neither reported nor self-measured figures are
            source_name=self.source_name,
            source_url=self.source_url,
        )

    def origin(self) -> str:
        return "measured by this project" if self.measured_here else f"reported by {self.source_name}, not re-measured here"


def reported_result(recipe: DetectionRecipe) -> EvaluationResult:
    """The mAP mmaction2 reports for the released checkpoint of `recipe`."""
    return EvaluationResult(
        value=recipe.reported_map,
        protocol=REPORTED_EVALUATION_PROTOCOL,
        measured_here=False,
        metric_config="mmaction2-ava-eval-2023-03",
        source_name="mmaction2 (configs/detection/videomae)",
        source_url=MMACTION2_DETECTION_README,
    )


@dataclass(frozen=True)
class ConvertedCheckpoint:
    """The mmaction2 file a folder was (or is to be) converted from: its name, its sha256 (None when not computed:
    the `hub_configs/` cards describe the release before any conversion), and the release it is (None when its
    sha256 does not match a released file's name)."""

    file_name: str
    sha256: str | None = None
    release: ReleasedCheckpoint | None = None


def _metadata(model_name: str, results, datasets=DATASETS, base_model: str | None = None) -> str:
    """The card's YAML: library, licence, tags, datasets and a `model-index` with one entry per result.

    huggingface_hub's `ModelCardData` merges results on the same task and dataset into one entry with the first
    one's `source`, which would credit a measured figure to the paper's source (or the reverse); each result is
    therefore written as its own entry (the format `ModelCard.load` parses back into separate `EvalResult`s).
    """
    data = ModelCardData(
        library_name="transformers",
        license=WEIGHTS_LICENSE,
        tags=list(TAGS),
        datasets=list(datasets) or None,
        metrics=["mAP"] if results else None,
        base_model=base_model,
    ).to_dict()
    if results:
        entries = [eval_results_to_model_index(model_name, [r.to_eval_result()])[0]["results"][0] for r in results]
        data["model-index"] = [{"name": model_name, "results": entries}]
    return yaml_dump(data, sort_keys=False).strip()


def _card(metadata_yaml: str, body: str) -> str:
    return f"---\n{metadata_yaml}\n---\n\n{body.strip()}\n"


def write_model_card(card: str, path) -> None:
    """Write a card made here as it is (`ModelCard.save` would re-serialise its metadata through `ModelCardData` and
    merge the model-index entries)."""
    from pathlib import Path

    Path(path).write_text(card, encoding="utf-8")


def _parameters(config) -> tuple[int, int]:
    """(all parameters, backbone parameters) of `VideoMAEForActionDetection(config)`, without allocating weights."""
    from accelerate import init_empty_weights

    from ...modeling import VideoMAEForActionDetection

    with init_empty_weights():
        model = VideoMAEForActionDetection(config)
    total = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for name, p in model.named_parameters() if name.startswith("videomae."))
    return total, backbone


def _number(value: float) -> str:
    """1.25e-4 -> "1.25e-4", 0.05 -> "0.05", 40.0 -> "40": short, exact for the recipe's values."""
    if value != 0 and abs(value) < 1e-3:
        mantissa, exponent = f"{value:.6e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}"


def _vit_name(config) -> str:
    names = {(384, 12): "ViT-S/16", (768, 12): "ViT-B/16", (1024, 24): "ViT-L/16", (1280, 32): "ViT-H/16"}
    return names.get((config.hidden_size, config.num_hidden_layers), f"ViT ({config.hidden_size}-wide, {config.num_hidden_layers} layers)")


USAGE_CODE = '''import torch
from transformers import AutoModel, AutoVideoProcessor

repo_id = "{repo_id}"
model = AutoModel.from_pretrained(repo_id, trust_remote_code=True).eval()
processor = AutoVideoProcessor.from_pretrained(repo_id, trust_remote_code=True)

# 16 frames, 4 apart on a 30 fps timeline, around second 2.0 of the video: (16, H, W, 3) uint8 RGB
frames, _ = processor.read_clip("video.mp4", timestamp=2.0)
# person boxes on the keyframe (from your person detector): normalised x1, y1, x2, y2
person_boxes = [[0.30, 0.05, 0.75, 0.95]]

inputs = processor(frames, boxes=person_boxes, return_tensors="pt")  # resized, normalised; boxes in pixels
with torch.no_grad():
    outputs = model(**inputs)  # logits (1, boxes, 80)
detections = processor.post_process_action_detection(outputs, boxes=person_boxes, threshold=0.2, top_k=5)
for box, names, scores in zip(person_boxes, detections[0]["label_names"], detections[0]["label_scores"]):
    print(box, [f"{{name}}: {{score:.2f}}" for name, score in zip(names, scores)])'''

def _usage_section(repo_id: str) -> str:
    return (
        "## How to use\n\nNeeds `torch`, `torchvision`, `transformers` and `av` (PyAV, to decode the video); the model "
        "and video processor code comes with this repository (`trust_remote_code=True`). `read_clip` takes the clip "
        "around a keyframe as mmaction2 samples it; the processor resizes and normalises it as mmaction2 evaluates, "
        "and turns normalised boxes into pixels of the resized frames.\n\n"
        f"```python\n{USAGE_CODE.format(repo_id=repo_id)}\n```\n"
    )


def _vocabulary_sentence(config) -> str:
    """What the outputs are: the AVA vocabulary, or the model's own actions with their ids."""
    if config.is_ava_vocabulary:
        return f"the {NUM_AVA_ACTIONS} AVA atomic actions"
    actions = ", ".join(f"{config.id2label[index]} ({action_id})" for index, action_id in enumerate(config.label_action_ids))
    return f"{config.num_labels} actions of its own label map: {actions}"


def _scope_section(config) -> str:
    if not config.is_ava_vocabulary:
        return f"""## What it does and does not do

- **Does:** given a short clip ({config.num_frames} frames) and the boxes of the people on its middle frame (the
  keyframe), it scores every box for {_vocabulary_sentence(config)} (name, then the action id written in detection
  CSVs). It is multi-label: one sigmoid per action. Output `i` is named `config.id2label[i]` and has the action id
  `config.label_action_ids[i]` (`config.action_ids`).
- **Does not:** find the people. It classifies the actions of **given** person boxes, so it needs a person detector
  or precomputed proposals. It does not refine or track boxes: they come back unchanged, one row of scores per box.
"""
    evaluated = len(AVA_EVALUATED_ACTION_IDS)
    return f"""## What it does and does not do

- **Does:** given a short clip ({config.num_frames} frames) and the boxes of the people on its middle frame (the
  keyframe), it scores every box for the {NUM_AVA_ACTIONS} atomic actions of AVA (stand, sit, walk, talk to, watch,
  carry/hold, ride, ...). It is multi-label: one sigmoid per action, several actions per person. Output `i` is AVA
  action id `i + 1`; the names are in `config.id2label`.
- **Does not:** find the people. It classifies the actions of **given** person boxes, so it needs a person detector
  or precomputed proposals (mmaction2 evaluates on FAIR's AVA person proposals with score >= 0.9). It does not
  refine or track boxes: they come back unchanged, one row of scores per box.
- Only {evaluated} of the {NUM_AVA_ACTIONS} actions are in the AVA benchmark; the other {NUM_AVA_ACTIONS - evaluated} are
  trained, but their scores are not evaluated. AVA is movies and AVA-Kinetics adds YouTube
  clips: expect a domain gap on surveillance, egocentric or sports footage.
- There is no Hub pipeline task for spatio-temporal action detection; use the model and processor as below.
"""


def _architecture_section(config) -> str:
    total, backbone = _parameters(config)
    image = config.image_size if isinstance(config.image_size, int) else "x".join(map(str, config.image_size))
    return f"""## Model

`VideoMAEForActionDetection`: a VideoMAE {_vit_name(config)} backbone with mmaction2's AVA RoI head.

| | |
|---|---|
| backbone | hidden {config.hidden_size}, {config.num_hidden_layers} layers, {config.num_attention_heads} heads, MLP {config.intermediate_size}, patch {config.patch_size}, tubelet {config.tubelet_size}, q/v biases, LayerNorm eps {_number(config.layer_norm_eps)} |
| input | `pixel_values` (batch, {config.num_frames}, 3, H, W), any H, W >= {config.patch_size}; the fixed sinusoid position table of the {image} pre-training grid is resized bicubically to the input grid |
| head | time average of the feature map (stride {config.patch_size}), RoIAlign {config.roi_output_size}x{config.roi_output_size} (aligned, adaptive sampling), dropout {config.head_dropout:g}, spatial max, linear {config.hidden_size} -> {config.num_labels} |
| output | `logits` (batch, max boxes, {config.num_labels}), `boxes_mask`; padding rows are -100 |
| parameters | {total:,} ({backbone:,} in the backbone) |
"""


def _training_section(config, recipe: DetectionRecipe | None, training_notes: str | None) -> str:
    parts = ["## Training\n"]
    if training_notes:
        parts.append(training_notes.strip() + "\n")
    if recipe is None:
        if not training_notes:
            parts.append("No training recipe is recorded for these weights.\n")
        return "\n".join(parts)
    low, high = recipe.train_short_side_range
    parts.append(
        f"""mmaction2's recipe `{recipe.mmaction2_config}.py`:

- **Data:** AVA-Kinetics train: AVA v2.2 train (movies, keyframes at 1 Hz) merged with the Kinetics-700 clips of
  AVA-Kinetics v1.0, with person proposals (FAIR's for AVA, Cascade R-CNN for Kinetics; score >= 0.9, else the best
  box). All {NUM_AVA_ACTIONS} actions are trained.
- **Initialisation:** mmaction2's Kinetics-400 fine-tuned VideoMAE recognizer `{recipe.backbone_checkpoint.file_name}`
  (self-supervised VideoMAE pre-training on Kinetics-400, then supervised fine-tuning; ported by mmaction2 from the
  original VideoMAE repository). Its `fc_norm` and Kinetics classifier are dropped; the final LayerNorm and the action
  classifier start fresh.
- **Clips:** {recipe.clip_len} frames, {recipe.frame_interval} apart on the 30 fps timeline, around the keyframe
  (random per-frame offsets in training); short side rescaled to a random {low}-{high}, random {recipe.train_crop_size}x{recipe.train_crop_size}
  crop, horizontal flip with probability {recipe.flip_ratio:g}; evaluation at short side {recipe.test_short_side}, no crop.
- **Boxes and loss:** ground-truth boxes are added to the proposals; a proposal is positive at IoU >=
  {config.assigner_pos_iou_threshold:g} with a ground-truth box; up to {config.sampler_num} positives per clip;
  binary cross-entropy over positives x {NUM_AVA_ACTIONS} actions.

| setting | value |
|---|---|
| epochs | {recipe.epochs} ({recipe.warmup_epochs} linear warm-up epochs from {recipe.warmup_start_factor:g} x lr, then cosine to 0, per iteration) |
| batch | {recipe.batch_size} clips: {recipe.batch_size_note} |
| optimizer | AdamW, lr {_number(recipe.learning_rate)}, betas {recipe.adam_betas}, eps {_number(recipe.adam_epsilon)}, weight decay {_number(recipe.weight_decay)} (none on biases and norms) |
| layer-wise lr decay | {recipe.layer_decay:g} per layer over {recipe.num_hidden_layers} layers |
| gradient clipping | L2 norm {recipe.max_grad_norm:g} |
| stochastic depth | {recipe.drop_path_rate:g} (linearly increasing over the blocks) |
| head dropout | {config.head_dropout:g} |
| precision | fp32 |
"""
    )
    return "\n".join(parts)


def _evaluation_section(results) -> str:
    if not results:
        return (
            "## Evaluation\n\nNo mAP is recorded for these weights: they are not a released checkpoint with a "
            "published figure, and they have not been evaluated by this project.\n"
        )
    rows = "\n".join(
        f"| {r.dataset_name} {r.dataset_split} | {r.metric_name} | **{r.value:g}** | {r.origin()} |" for r in results
    )
    protocols = "\n".join(
        f"- **{r.value:g}** ({r.origin()}"
        + (f", [source]({r.source_url})" if r.source_url else "")
        + f"): {r.protocol}"
        for r in results
    )
    return f"""## Evaluation

| data | metric | value | origin |
|---|---|---|---|
{rows}

{protocols}

AVA mAP depends on the evaluator (which classes count, excluded timestamps, the official 50-detections-per-keyframe
cap, rounding): compare figures only under the same protocol.
"""


def _figures_section(figures) -> str:
    """Markdown images (relative links, so they show on the Hub and in a local viewer) with their captions."""
    return "".join(f"\n![{caption}]({file_name})\n\n*{caption}*\n" for file_name, caption in figures)


def _provenance_section(converted_from: ConvertedCheckpoint | None, kind: str) -> str:
    if converted_from is None:
        return ""
    if converted_from.release is not None and converted_from.sha256 is None:
        identity = (
            f"mmaction2's released file ([download]({converted_from.release.url})); the converter checks that its sha256 "
            f"starts with the `{converted_from.release.expected_sha256_prefix}` in its name"
        )
    elif converted_from.release is not None:
        identity = (
            f"the released file (its sha256 `{converted_from.sha256}` starts with the `{converted_from.release.expected_sha256_prefix}` "
            f"in its name; [download]({converted_from.release.url}))"
        )
    else:
        identity = f"sha256 `{converted_from.sha256}`; not a file mmaction2 released"
    mapping = (
        "The fused `qkv` weights are split into query / key / value, `q_bias` / `v_bias` become the query / value "
        "biases, the fixed `pos_embed` table is checked against the one the model computes and dropped"
    )
    if kind == "detection":
        mapping += (
            ", and the 81-row classifier loses its background row 0 (never trained by mmaction2; its score is never "
            "evaluated). On the project's reference cases (small detectors run through mmaction2 1.2.0) the converted "
            "model reproduces mmaction2's action logits to 1e-4"
        )
    return f"""## Conversion

Converted with this project's `convert_checkpoints.py` from `{converted_from.file_name}`: {identity}.
{mapping}. The checkpoint was read without running pickled code.
"""


def _licence_section() -> str:
    return f"""## Licence

- **Weights:** CC-BY-NC-4.0 (non-commercial). They derive from the VideoMAE weights of MCG-NJU, released under
  CC-BY-NC-4.0.
- **Code** (the `*.py` files loaded with `trust_remote_code=True`): {CODE_LICENSE}.
- The AVA / AVA-Kinetics annotations and videos used for training have their own terms.
"""


def _citation_section() -> str:
    return f"""## Citation

```bibtex
{VIDEOMAE_BIBTEX}

{MMACTION2_BIBTEX}
```
"""


def build_model_card(
    model_name: str,
    config,
    *,
    repo_id: str | None = None,
    recipe: DetectionRecipe | None = None,
    results=(),
    converted_from: ConvertedCheckpoint | None = None,
    training_notes: str | None = None,
    datasets=DATASETS,
    base_model: str | None = None,
    figures=(),
) -> str:
    """The model card (markdown with YAML metadata) of a `VideoMAEForActionDetection` folder; write it with
    `write_model_card`, and read it back with `huggingface_hub.ModelCard.load`.

    Args:
        model_name: the model-index name (e.g. "videomae-base-ava-kinetics").
        config: its `VideoMAEActionDetectionConfig` (architecture table, parameter count).
        repo_id: the Hub id in the code sample (default `model_name`).
        recipe: the mmaction2 recipe the weights were trained with (None: unknown, e.g. a converted file that is not
            a release).
        results: `EvaluationResult`s for the text and `model-index` (reported by the source and/or measured here).
        converted_from: the mmaction2 file the weights were converted from, for the provenance section.
        training_notes: markdown about how these weights were trained (the training script), placed before the recipe.
        datasets: the Hub data set ids of the metadata's `datasets:` (default AVA and AVA-Kinetics; empty for weights
            trained on something else, such as the generated toy set).
        base_model: the Hub id the weights were finetuned from (the metadata's `base_model`); None when unknown or a
            local folder.
        figures: (file name in the model folder, caption) pictures shown in the evaluation section (e.g. the
            training script's per-class AP chart).

    The folder is expected to hold the video processor (`video_preprocessor_config.json`): the usage sample reads a
    video with it.
    """
    results = list(results)
    title = f"{_vit_name(config)} VideoMAE spatio-temporal action detector (AVA)"
    if recipe is not None:
        origin = (
            f"converted from mmaction2's released `{recipe.detection_checkpoint.file_name}`"
            if converted_from is not None and converted_from.release is not None
            else f"with the architecture and recipe of mmaction2's `{recipe.mmaction2_config}`"
        )
    else:
        origin = "weights that are not one of mmaction2's released checkpoints"
    intro = (
        f"# {model_name}\n\n{title}: {origin}. It scores {_vocabulary_sentence(config)} of each given person "
        f"box in a video clip."
    )
    if recipe is not None and any(not r.measured_here for r in results):
        reported = next(r for r in results if not r.measured_here)
        intro += f" mmaction2 reports **{reported.value:g} frame-mAP@0.5IoU** on AVA v2.2 val (not re-measured here)."
    body = "\n".join(
        [
            intro + "\n",
            _scope_section(config),
            _usage_section(repo_id or model_name),
            _architecture_section(config),
            _training_section(config, recipe, training_notes),
            _evaluation_section(results) + _figures_section(figures),
            _provenance_section(converted_from, "detection"),
            _licence_section(),
            _citation_section(),
        ]
    )
    return _card(_metadata(model_name, results, datasets, base_model), body)


def build_backbone_card(
    model_name: str, config, *, recipe: DetectionRecipe | None = None, converted_from: ConvertedCheckpoint | None = None
) -> str:
    """The card of a converted mmaction2 VideoMAE recognition backbone (`VideoMAEForVideoClassification` folder)."""
    release = f" (`{recipe.backbone_checkpoint.file_name}`)" if recipe is not None else ""
    body = f"""# {model_name}

A {_vit_name(config)} VideoMAE Kinetics-400 video classifier in transformers' `VideoMAEForVideoClassification`
format, converted from mmaction2's VideoMAE recognition checkpoint{release}: self-supervised VideoMAE pre-training on
Kinetics-400, then supervised fine-tuning ({config.num_labels} classes; ported by mmaction2 from the original VideoMAE
repository, [details]({MMACTION2_RECOGNITION_README})). It is the starting point of mmaction2's AVA detection recipe.

## How to use

As the backbone of the action detector (this project's `videomae_action_detection` package): the backbone weights
load, `fc_norm` and the Kinetics classifier are ignored, and the final LayerNorm and the action classifier start fresh
(ones / zeros and xavier-normal), exactly as mmaction2 initialises its detector from this checkpoint.

```python
from videomae_action_detection.modeling import VideoMAEForActionDetection

model = VideoMAEForActionDetection.from_pretrained("{model_name}")
```

As a video classifier: `transformers.VideoMAEForVideoClassification.from_pretrained(...)` on 16 x 224 x 224 clips
normalised with mmaction2's mean / std (123.675, 116.28, 103.53) / (58.395, 57.12, 57.375) on 0-255 values. Class
names are {"in `config.id2label`" if not str(config.id2label.get(0, "")).startswith("LABEL_") else "not included (`LABEL_i` is Kinetics-400 class `i` in mmaction2's label order)"}.
transformers' `fc_norm` uses LayerNorm eps 1e-5 where mmaction2 uses 1e-6, so the Kinetics logits differ very
slightly from mmaction2's; the detector never uses `fc_norm`.
{_provenance_section(converted_from, "recognition")}
{_licence_section()}
{_citation_section()}"""
    data = ModelCardData(
        library_name="transformers",
        license=WEIGHTS_LICENSE,
        tags=["video", "video-classification", "videomae", "mmaction2", "kinetics-400"],
        datasets=["kinetics-400"],
        pipeline_tag="video-classification",
    )
    return _card(data.to_yaml(), body)


__all__ = [
    "CODE_LICENSE",
    "ConvertedCheckpoint",
    "EvaluationResult",
    "MMACTION2_BIBTEX",
    "VIDEOMAE_BIBTEX",
    "WEIGHTS_LICENSE",
    "build_backbone_card",
    "build_model_card",
    "reported_result",
    "write_model_card",
]
