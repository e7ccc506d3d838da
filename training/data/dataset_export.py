"""A prepared AVA / AVA-Kinetics set as files others load: parquet plus a dataset card (`export_ava_dataset`, for
`datasets.load_dataset(folder, config)`), or a Hub data set repo (`push_ava_dataset`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import datasets


_CARD_BODY = """# AVA v2.2 / AVA-Kinetics keyframes

Spatio-temporal action detection keyframes of [AVA v2.2](https://research.google.com/ava/) and AVA-Kinetics, one
row per annotated keyframe, as mmaction2's `AVAKineticsDataset` builds them: ground-truth person boxes (normalised
`x1, y1, x2, y2`) with multi-hot AVA action labels (label index = AVA action id - 1; all 80 actions, 60 of them
evaluated), person proposals with scores, and where to read each clip. The videos are not included (AVA licence):
`video_path` / `frame_dir` point into the data folder the set was prepared from{relative}.

Configs: {configs}.

```python
from datasets import load_dataset
from videomae_action_detection.processing import read_clip

dataset = load_dataset("<this folder or repo>", "{first}")
example = dataset["validation"][0]
frames, frame_numbers = read_clip(
    example["video_path"] or example["frame_dir"], example["timestamp"],
    timestamp_start=example["timestamp_start"], video_start=example["video_start"],
    fps=example["fps"], num_frames=example["num_frames"],
)
```

Made with `videomae_action_detection.training.data.dataset_export.export_ava_dataset`.
"""


def export_ava_dataset(
    dataset_dict: datasets.DatasetDict,
    folder: str | os.PathLike,
    config_name: str,
    *,
    relative_to: str | os.PathLike | None = None,
) -> Path:
    """Write a prepared set as parquet plus a dataset card, for the Hub or for `datasets.load_dataset(folder, config)`.

    Files: `folder/<config_name>/<split>-00000-of-00001.parquet` and `folder/README.md`, whose YAML lists every
    config exported into the folder (`configs:` with per-split `data_files`, and `dataset_info` with the features, so
    the label names survive). Exporting a second config into the same folder adds it to the card.

    Args:
        dataset_dict: e.g. `load_ava_dataset(...)`.
        folder: output folder (created).
        config_name: the config name to write it under ("ava", "ava_kinetics").
        relative_to: when given, `video_path` and `frame_dir` are written relative to this folder (usually the
            data folder), so that users join them to their own copy of the videos.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    folder = Path(folder)
    (folder / config_name).mkdir(parents=True, exist_ok=True)
    if relative_to is not None:
        dataset_dict = with_relative_paths(dataset_dict, relative_to)
    data_files = []
    for split, dataset in dataset_dict.items():
        for old in (folder / config_name).glob(f"{split}-*.parquet"):
            old.unlink()
        dataset.to_parquet(str(folder / config_name / f"{split}-00000-of-00001.parquet"))
        data_files.append({"split": split, "path": f"{config_name}/{split}-*.parquet"})

    card_path = folder / "README.md"
    card_data = DatasetCard.load(card_path).data if card_path.is_file() else DatasetCardData()
    existing = MetadataConfigs.from_dataset_card_data(card_data)
    MetadataConfigs({config_name: {"data_files": data_files}}).to_dataset_card_data(card_data)
    names = sorted({*existing, config_name})
    default = "ava" if "ava" in names else names[0]
    card_data["configs"] = [
        {key: value for key, value in entry.items() if key != "default"} | ({"default": True} if entry["config_name"] == default else {})
        for entry in card_data["configs"]
    ]
    info = next(iter(dataset_dict.values())).info.copy()
    info.splits = None
    info.config_name = config_name
    DatasetInfosDict({config_name: info}).to_dataset_card_data(card_data)
    card_data["license"] = card_data.get("license") or "cc-by-4.0"
    card_data["task_categories"] = ["video-classification"]
    card_data["tags"] = ["ava", "ava-kinetics", "spatio-temporal-action-detection"]
    body = _CARD_BODY.format(
        relative=" (relative paths: join them to your own data folder)" if relative_to is not None else "",
        configs=", ".join(f"`{name}`" for name in names),
        first=default,
    )
    card = DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}\n{card_details(dataset_dict, config_name)}")
    card.save(card_path)
    return folder


def with_relative_paths(dataset_dict: datasets.DatasetDict, root: str | os.PathLike) -> datasets.DatasetDict:
    """The set with `video_path` and `frame_dir` relative to `root` (the data folder), for sharing."""
    root = os.path.abspath(root)

    def relative(batch):
        for column in ("video_path", "frame_dir"):
            batch[column] = [os.path.relpath(path, root) if path else "" for path in batch[column]]
        return batch

    return dataset_dict.map(relative, batched=True, desc="relative paths")


LICENCE_NOTES = """## Licence

The AVA v2.2 and AVA-Kinetics annotations (boxes, labels) are released by Google under CC BY 4.0; the proposals are
FAIR's (from the SlowFast / mmaction2 releases). The videos are not part of this set: AVA's movies and the Kinetics
clips come from YouTube and stay under their owners' terms; get them from the official AVA / Kinetics download
instructions and point `video_path` / `frame_dir` at your copy.
"""


def card_details(dataset_dict: datasets.DatasetDict, config_name: str) -> str:
    """Markdown for a dataset card: the config's splits with their keyframe, box and proposal counts, its features,
    and the licence notes."""
    lines = [f"## Config `{config_name}`", "", "| split | keyframes | ground-truth boxes | proposals | videos |",
             "|---|---|---|---|---|"]
    for split, dataset in dataset_dict.items():
        boxes = sum(len(item) for item in dataset["boxes"])
        proposals = sum(len(item) for item in dataset["proposals"])
        videos = len(set(dataset["video_id"]))
        lines.append(f"| {split} | {len(dataset)} | {boxes} | {proposals} | {videos} |")
    features = next(iter(dataset_dict.values())).features
    lines += ["", "Features:", ""]
    lines += [f"- `{name}`: {_feature_text(feature)}" for name, feature in features.items()]
    return "\n".join(lines) + "\n\n" + LICENCE_NOTES


def _feature_text(feature) -> str:
    """A feature's type for the card; a ClassLabel shows its class count, not its names (they are in the YAML)."""
    inner = feature
    while hasattr(inner, "feature"):
        inner = inner.feature
    if isinstance(inner, datasets.ClassLabel):
        return "`" + re.sub(r"ClassLabel\(names=\[.*\]\)", f"ClassLabel({inner.num_classes} names)", repr(feature)) + "`"
    return f"`{feature!r}`"


def push_ava_dataset(dataset_dict: datasets.DatasetDict, repo_id: str, config_name: str,
                     data_dir: str | os.PathLike, *, token: str | None = None, private: bool | None = None) -> str:
    """Publish a prepared set on the Hub as `repo_id`'s config `config_name`; returns the card commit's URL.

    `DatasetDict.push_to_hub(repo_id, config_name=...)` writes the parquet shards (`<config>/<split>-*.parquet`) and
    the card's YAML (`configs`, `dataset_info`; other configs already in the repo are kept); then the card's text is
    set: what the set is, licence, task tags and, per pushed config, splits with counts and the features.
    `video_path` / `frame_dir` are pushed relative to `data_dir` (local absolute paths mean nothing elsewhere).
    """
    from huggingface_hub import DatasetCard

    shared = with_relative_paths(dataset_dict, data_dir)
    shared.push_to_hub(repo_id, config_name=config_name, token=token, private=private,
                       set_default=True if config_name == "ava" else None)
    card = DatasetCard.load(repo_id, repo_type="dataset", token=token)
    data = card.data
    data["license"] = data.get("license") or "cc-by-4.0"
    data["task_categories"] = ["video-classification"]
    data["tags"] = ["ava", "ava-kinetics", "spatio-temporal-action-detection"]
    names = [entry["config_name"] for entry in data.get("configs") or []]
    previous = {section.split("`", 2)[1]: section for section in card.text.split("\n## Config ")[1:]
                if section.startswith("`")}
    sections = {name: "## Config " + previous[name].split("\n## Licence")[0].rstrip() + "\n"
                for name in names if name in previous and name != config_name}
    sections[config_name] = card_details(dataset_dict, config_name).split("## Licence")[0]
    body = _CARD_BODY.format(relative=" (relative paths: join them to your own data folder)",
                             configs=", ".join(f"`{name}`" for name in names),
                             first="ava" if "ava" in names else names[0])
    body = body.replace("<this folder or repo>", repo_id)
    text = body + "\n" + "\n".join(sections[name] for name in names if name in sections) + "\n" + LICENCE_NOTES
    final = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{text}")
    return str(final.push_to_hub(repo_id, repo_type="dataset", token=token,
                                 commit_message=f"Dataset card for config {config_name}"))
