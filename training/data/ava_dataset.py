"""The AVA v2.2 / AVA-Kinetics data set as a `datasets` builder: one example per annotated keyframe.

datasets 5 no longer runs loading scripts, so the builder is used directly:

    builder = AVAKinetics(config_name="ava", data_dir="/data/ava")
    builder.download_and_prepare()
    dataset = builder.as_dataset()              # DatasetDict: train, validation

or in one call `load_ava_dataset("/data/ava", "ava")`; `dataset_export.export_ava_dataset(dataset, folder, "ava")` writes
parquet and a dataset card so that `datasets.load_dataset(folder, "ava")` loads it (offline too).

Configs:
- `ava`: AVA v2.2 train / validation.
- `ava_kinetics`: train = AVA v2.2 train + the Kinetics part, validation = AVA v2.2 val (mmaction2's recipe), plus
  `kinetics_validation` (the Kinetics val keyframes) when `kinetics_val_v1.0.csv` is there.

Files under `data_dir/annotations/` (official names; `v2.2` is the config's `annotation_version`):
`ava_{train,val}_v2.2.csv`, `ava_{train,val}_excluded_timestamps_v2.2.csv`, `ava_dense_proposals_{train,val}.FAIR.
recall_93.9.pkl`, the label map (`label_map_file`, default `ava_action_list_v2.2.pbtxt`; optional; its ids are
checked), and for the Kinetics part `kinetics_{train,val}_v1.0.csv` with proposals `kinetics_proposals_{train,val}.pkl`
(or mmaction2's `kinetics_proposal.pkl` for train; Kinetics entries merged into the AVA proposal pickle also count).
An `ava_train_v2.2.csv` in mmaction2's merged format (Kinetics rows named `{ytid}_{start:06d}_{end:06d}`, person id
-1, appended) is read as is by `ava_kinetics` (the Kinetics CSV is then not read) and its Kinetics rows are left out
by `ava`.

Videos: see `ava_media.py` (`videos/<clip>.<ext>` or `rawframes/<clip>/img_{:05d}.jpg`).

Each example has what `read_clip` needs:

    read_clip(ex["video_path"] or ex["frame_dir"], ex["timestamp"], timestamp_start=ex["timestamp_start"],
              video_start=ex["video_start"], fps=ex["fps"], num_frames=ex["num_frames"], train=...)
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import ChainMap
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from ...modeling.ava_labels import AVA_ACTIONS, AVA_EVALUATED_ACTION_IDS, action_id_to_index
from ...processing.clip_reader import AVA_FPS
from ...processing.formats.ava_files import read_label_map
from ...processing.formats.proposals import NUM_MAX_PROPOSALS, PERSON_DET_SCORE_THR, load_proposals
from .ava_annotations import (
    KeyframeRecord,
    attach_proposals,
    drop_excluded,
    label_map_ids,
    read_excluded_keyframes,
    read_keyframe_records,
)
from .ava_media import CHECKS, MEDIA_KINDS, MediaIndex, MediaSource, assign_kinetics_clips, format_missing, resolve_media

logger = logging.getLogger(__name__)

AVA_ACTION_LABEL_NAMES = [name for _, name, _ in AVA_ACTIONS]
KINETICS_VALIDATION = "kinetics_validation"
MISSING_VIDEO_POLICIES = ("error", "drop")
SHARD_KEYFRAMES = 25_000


def ava_features() -> datasets.Features:
    """The example schema (one annotated keyframe)."""
    box = datasets.List(datasets.Value("float32"), length=4)
    return datasets.Features(
        {
            "video_id": datasets.Value("string"),
            "timestamp": datasets.Value("float64"),
            "img_key": datasets.Value("string"),
            "clip_name": datasets.Value("string"),
            "video_path": datasets.Value("string"),
            "frame_dir": datasets.Value("string"),
            "video_start": datasets.Value("float64"),
            "timestamp_start": datasets.Value("float64"),
            "timestamp_end": datasets.Value("float64"),
            "fps": datasets.Value("int32"),
            "num_frames": datasets.Value("int32"),
            "boxes": datasets.List(box),
            "labels": datasets.List(datasets.List(datasets.ClassLabel(names=AVA_ACTION_LABEL_NAMES))),
            "person_ids": datasets.List(datasets.Value("int32")),
            "proposals": datasets.List(box),
            "proposal_scores": datasets.List(datasets.Value("float32")),
        }
    )


@dataclass
class AVAKineticsConfig(datasets.BuilderConfig):
    """Options of the AVA / AVA-Kinetics builder.

    Args:
        include_kinetics: add the Kinetics part (the `ava_kinetics` config).
        annotation_version: the AVA annotation version in the file names ("v2.2"; "v2.1" files work the same).
        missing_videos: "error" (default) stops with the list of missing / unreadable videos; "drop" leaves their
            keyframes out (the list and counts are logged as a warning).
        video_start: timeline second at which AVA movie files start: 0 (full movies), 900 (mmaction2's 15-minute
            cuts) or None to detect it per file from its duration.
        label_map_file: label map under `annotations/` whose ids are checked (optional file).
        media: "auto" (video file if present, else frame folder), "videos" or "rawframes".
        check_videos: "open" (every video is opened with PyAV) or "exists" (only looked up; faster for 100k clips).
        keep_empty_keyframes: also make examples (without boxes) of the Kinetics CSVs' 2-column rows (keyframes with
            nobody); mmaction2 has none.
        person_det_score_thr, num_max_proposals: mmaction2's proposal filter (0.9, 1000).
        fps: timeline frame rate (30).
        source_fingerprint: set by the builder (do not pass it): a digest of the annotation files' content and of
            the set of videos / frame folders found (names and sizes). It is part of the config, so it names the
            cache folder: edited annotations or added / removed / replaced videos give a new cache, unchanged ones
            reuse the old.
    """

    include_kinetics: bool = False
    annotation_version: str = "v2.2"
    missing_videos: str = "error"
    video_start: float | None = None
    label_map_file: str = "ava_action_list_v2.2.pbtxt"
    media: str = "auto"
    check_videos: str = "open"
    keep_empty_keyframes: bool = False
    person_det_score_thr: float = PERSON_DET_SCORE_THR
    num_max_proposals: int = NUM_MAX_PROPOSALS
    fps: int = AVA_FPS
    source_fingerprint: str | None = None

    def validate(self) -> None:
        """Check the options (datasets sets keyword options after construction, so the builder calls this)."""
        if self.missing_videos not in MISSING_VIDEO_POLICIES:
            raise ValueError(f"`missing_videos` must be one of {MISSING_VIDEO_POLICIES}, got {self.missing_videos!r}")
        if self.media not in MEDIA_KINDS:
            raise ValueError(f"`media` must be one of {MEDIA_KINDS}, got {self.media!r}")
        if self.check_videos not in CHECKS:
            raise ValueError(f"`check_videos` must be one of {CHECKS}, got {self.check_videos!r}")
        if self.video_start is not None:
            self.video_start = float(self.video_start)
        if not 0 <= self.person_det_score_thr <= 1:
            raise ValueError(f"`person_det_score_thr` must lie in [0, 1], got {self.person_det_score_thr}")


def source_fingerprint(data_dir: str | os.PathLike, chunk_size: int = 1 << 22) -> str:
    """sha256 (hex, 16 digits) of what a build reads: every file under `annotations/` (name and content) and the
    names and sizes of the entries of `videos/` and `rawframes/` (the set of videos found)."""
    root = Path(os.path.abspath(data_dir))
    digest = hashlib.sha256()
    annotations = root / "annotations"
    if annotations.is_dir():
        for path in sorted(p for p in annotations.rglob("*") if p.is_file()):
            digest.update(f"annotation {path.relative_to(annotations).as_posix()}\n".encode())
            with open(path, "rb") as handle:
                while chunk := handle.read(chunk_size):
                    digest.update(chunk)
    for folder in ("videos", "rawframes"):
        if (root / folder).is_dir():
            with os.scandir(root / folder) as entries:
                listing = sorted((entry.name, 0 if entry.is_dir() else entry.stat().st_size) for entry in entries)
            for name, size in listing:
                digest.update(f"{folder} {name} {size}\n".encode())
    return digest.hexdigest()[:16]


@dataclass
class _Part:
    """One annotation CSV of a split and its companions."""

    csv: Path
    excluded: Path | None
    proposals: list[Path]
    kinetics_ids: bool  # bare YouTube ids (official Kinetics CSV)
    keep: str  # "all", "ava" (leave merged Kinetics rows out)


class AVAKinetics(datasets.GeneratorBasedBuilder):
    """AVA v2.2 (`ava`) and AVA-Kinetics (`ava_kinetics`) spatio-temporal action detection keyframes."""

    BUILDER_CONFIG_CLASS = AVAKineticsConfig
    BUILDER_CONFIGS = [
        AVAKineticsConfig(name="ava", description="AVA v2.2: train and validation keyframes."),
        AVAKineticsConfig(
            name="ava_kinetics",
            include_kinetics=True,
            description="AVA-Kinetics: train = AVA v2.2 train + Kinetics train, validation = AVA v2.2 val, "
            "kinetics_validation = Kinetics val.",
        ),
    ]
    DEFAULT_CONFIG_NAME = "ava"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "ava_kinetics")  # cache folder name, whatever the module is called
        if kwargs.get("data_dir"):
            kwargs["source_fingerprint"] = source_fingerprint(kwargs["data_dir"])
        super().__init__(*args, **kwargs)
        self.config.validate()

    def download_and_prepare(self, *args, download_mode=None, verification_mode=None, **kwargs):
        """datasets' `download_and_prepare`; a forced rebuild does not check the new split sizes against the ones
        recorded by the build it replaces (they differ whenever videos were dropped or came back)."""
        if str(getattr(download_mode, "value", download_mode)) == "force_redownload" and verification_mode is None:
            verification_mode = "no_checks"
        return super().download_and_prepare(*args, download_mode=download_mode, verification_mode=verification_mode,
                                            **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=(
                "AVA v2.2 / AVA-Kinetics keyframes as mmaction2's AVAKineticsDataset builds them: ground-truth boxes "
                "with multi-hot AVA action labels (label index = AVA action id - 1), person proposals, and where to "
                f"read each clip. Evaluated action ids: {list(AVA_EVALUATED_ACTION_IDS)}."
            ),
            features=ava_features(),
            homepage="https://research.google.com/ava/",
            citation=(
                "@inproceedings{gu2018ava, title={AVA: A Video Dataset of Spatio-temporally Localized Atomic Visual "
                "Actions}, author={Gu, Chunhui and others}, booktitle={CVPR}, year={2018}}\n"
                "@article{li2020ava, title={The AVA-Kinetics Localized Human Actions Video Dataset}, "
                "author={Li, Ang and others}, journal={arXiv:2005.00214}, year={2020}}"
            ),
        )

    # ------------------------------------------------------------------------------------------------------------

    def _annotation(self, name: str) -> Path:
        return Path(os.path.abspath(self.config.data_dir)) / "annotations" / name

    def _split_generators(self, dl_manager):
        config = self.config
        if not config.data_dir:
            raise ValueError("AVAKinetics needs `data_dir` (the folder holding annotations/ and videos/ or rawframes/)")
        annotations = self._annotation("")
        if not annotations.is_dir():
            raise FileNotFoundError(f"no annotations folder: {annotations}")
        self._check_label_map()
        self.missing_videos_report: dict[str, list] = {}
        self._index = None
        version = config.annotation_version

        def ava_part(split: str, keep: str) -> _Part:
            csv = self._require(f"ava_{split}_{version}.csv")
            excluded = self._annotation(f"ava_{split}_excluded_timestamps_{version}.csv")
            proposals = self._require(f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl")
            return _Part(csv, excluded if excluded.is_file() else None, [proposals], False, keep)

        train = [ava_part("train", "all" if config.include_kinetics else "ava")]
        validation = [ava_part("val", "all" if config.include_kinetics else "ava")]
        generators = []
        if config.include_kinetics:
            if _has_clip_rows(train[0].csv):
                logger.info("%s holds Kinetics rows (mmaction2's merged format): the Kinetics train CSV is not read", train[0].csv)
            else:
                kinetics_train = self._require("kinetics_train_v1.0.csv")
                train.append(_Part(kinetics_train, None, self._kinetics_proposals("train") + train[0].proposals, True, "all"))
            kinetics_val = self._annotation("kinetics_val_v1.0.csv")
            if kinetics_val.is_file():
                generators.append(
                    datasets.SplitGenerator(
                        name=KINETICS_VALIDATION,
                        gen_kwargs=self._gen_kwargs(
                            [_Part(kinetics_val, None, self._kinetics_proposals("val"), True, "all")], KINETICS_VALIDATION
                        ),
                    )
                )
            else:
                logger.info("no %s: the ava_kinetics config has no %s split", kinetics_val, KINETICS_VALIDATION)
        generators[:0] = [
            datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs=self._gen_kwargs(train, "train")),
            datasets.SplitGenerator(name=datasets.Split.VALIDATION, gen_kwargs=self._gen_kwargs(validation, "validation")),
        ]
        return generators

    def _gen_kwargs(self, parts: list[_Part], split: str) -> dict:
        pairs = self._resolve_split(parts, split)
        # Shards of keyframes, in order: `download_and_prepare(num_proc=N)` writes them in N processes.
        shards = [
            _Shard(pairs[start : start + SHARD_KEYFRAMES], number)
            for number, start in enumerate(range(0, len(pairs), SHARD_KEYFRAMES))
        ]
        return {"shards": shards or [_Shard([], 0)], "split": split}

    def _require(self, name: str) -> Path:
        path = self._annotation(name)
        if not path.is_file():
            raise FileNotFoundError(f"missing annotation file {path} (config {self.config.name!r})")
        return path

    def _kinetics_proposals(self, split: str) -> list[Path]:
        names = [f"kinetics_proposals_{split}.pkl", f"kinetics_dense_proposals_{split}.pkl"]
        if split == "train":
            names.append("kinetics_proposal.pkl")  # mmaction2's fetch_proposal.py output
        found = [self._annotation(name) for name in names if self._annotation(name).is_file()]
        if not found:
            logger.warning(
                "no Kinetics %s proposals (%s) under %s: Kinetics keyframes without an entry in the AVA proposal "
                "pickle get the whole-frame box", split, " / ".join(names), self._annotation(""),
            )
        return found[:1]

    def _check_label_map(self) -> None:
        path = self._annotation(self.config.label_map_file)
        if not path.is_file():
            if self.config.label_map_file != AVAKineticsConfig.label_map_file:
                raise FileNotFoundError(f"label map not found: {path}")
            logger.info("no label map %s: using the official AVA v2.2 action names", path)
            return
        label_map_ids(read_label_map(path), path)

    # ------------------------------------------------------------------------------------------------------------

    def _resolve_split(self, parts: list[_Part], split: str) -> list[tuple[KeyframeRecord, MediaSource]]:
        """Records of a split with their media; missing media raise or are dropped (`missing_videos`).

        Runs in `_split_generators`, so that errors reach the caller as they are (datasets wraps errors raised while
        writing examples in a DatasetGenerationError)."""
        config = self.config
        records = build_split_records(
            parts,
            keep_empty_keyframes=config.keep_empty_keyframes,
            person_det_score_thr=config.person_det_score_thr,
            num_max_proposals=config.num_max_proposals,
        )
        index = self._media_index()
        assign_kinetics_clips(records, index)
        resolved, problems = resolve_media(records, index, video_start=config.video_start, check=config.check_videos)
        if problems:
            report = format_missing(problems, len(records), split)
            if config.missing_videos == "error":
                raise ValueError(
                    f"{report}\nLooked in {index.describe()}. Pass missing_videos='drop' to leave these keyframes out."
                )
            logger.warning("%s\nthese keyframes are left out (missing_videos='drop')", report)
        self.missing_videos_report[split] = problems
        logger.info("split %r: %d keyframes", split, len(resolved))
        return resolved

    def _media_index(self) -> MediaIndex:
        if getattr(self, "_index", None) is None:
            self._index = MediaIndex(self.config.data_dir, self.config.media)
        return self._index

    def _generate_examples(self, shards: list["_Shard"], split: str):
        fps = self.config.fps
        for shard in shards:
            for number, (record, source) in enumerate(shard.pairs):
                yield datasets.builder.Key(shard.index, number), example_from_record(record, source, fps)


class _Shard:
    """(record, media) pairs of part of a split, in order."""

    def __init__(self, pairs, index: int):
        self.pairs = pairs
        self.index = index


def _has_clip_rows(csv_path: Path) -> bool:
    """Whether a box CSV holds Kinetics clip names (mmaction2's merged format)."""
    from .ava_annotations import parse_clip_name
    from ...processing.formats.ava_files import read_ava_csv

    rows = read_ava_csv(csv_path)
    return any(parse_clip_name(video_id) is not None for video_id in rows.video_ids.tolist())


def build_split_records(
    parts: list[_Part],
    *,
    keep_empty_keyframes: bool = False,
    person_det_score_thr: float = PERSON_DET_SCORE_THR,
    num_max_proposals: int = NUM_MAX_PROPOSALS,
) -> list[KeyframeRecord]:
    """The keyframe records of a split's annotation files (before videos are looked up), in file order."""
    records: list[KeyframeRecord] = []
    loaded: dict[Path, dict] = {}  # a pickle shared by two parts (AVA's, for merged Kinetics entries) is read once
    for part in parts:
        part_records = read_keyframe_records(
            part.csv, kinetics_clip_ids=part.kinetics_ids, keep_empty_keyframes=keep_empty_keyframes and part.kinetics_ids
        )
        if part.keep == "ava":
            kept = [record for record in part_records if not record.is_kinetics]
            if len(kept) != len(part_records):
                logger.warning(
                    "%s: %d Kinetics keyframes (mmaction2's merged format) left out of the `ava` config; use "
                    "`ava_kinetics` to train on them", part.csv, len(part_records) - len(kept),
                )
            part_records = kept
        part_records = drop_excluded(part_records, read_excluded_keyframes(part.excluded))
        pickles = [loaded[path] if path in loaded else loaded.setdefault(path, load_proposals(path)) for path in part.proposals]
        lookup = ChainMap(*reversed(pickles)) if pickles else None  # the last pickle (AVA's) wins, as mmaction2's merge
        without = attach_proposals(
            part_records, lookup, source=" + ".join(str(path) for path in part.proposals) or "no proposal file",
            person_det_score_thr=person_det_score_thr, num_max_proposals=num_max_proposals,
        )
        if without:
            logger.info("%s: %d of %d keyframes have no proposals (whole-frame box)", part.csv, without, len(part_records))
        records.extend(part_records)
    return records


def example_from_record(record: KeyframeRecord, source: MediaSource, fps: int = AVA_FPS) -> dict:
    """A KeyframeRecord and its media -> the example dict of `ava_features()`."""
    video_start = source.video_start if source.video_path else record.timestamp_start
    return {
        "video_id": record.video_id,
        "timestamp": float(record.timestamp),
        "img_key": record.img_key,
        "clip_name": record.clip_name,
        "video_path": source.video_path,
        "frame_dir": source.frame_dir,
        "video_start": float(video_start),
        "timestamp_start": float(record.timestamp_start),
        "timestamp_end": float(record.timestamp_end),
        "fps": int(fps),
        "num_frames": record.shot_frames(fps),
        "boxes": record.boxes.astype(np.float32).tolist(),
        "labels": [[action_id_to_index(action_id) for action_id in labels] for labels in record.action_ids],
        "person_ids": [int(person) for person in record.person_ids],
        "proposals": record.proposals.astype(np.float32).tolist(),
        "proposal_scores": record.proposal_scores.astype(np.float32).tolist(),
    }


def load_ava_dataset(
    data_dir: str | os.PathLike,
    config_name: str = "ava",
    *,
    cache_dir: str | os.PathLike | None = None,
    missing_videos: str = "error",
    download_mode: str | None = None,
    num_proc: int | None = None,
    transcoded_dir: str | os.PathLike | None = None,
    **config_kwargs,
) -> datasets.DatasetDict:
    """Prepare (once; cached under `cache_dir`) and load the AVA / AVA-Kinetics keyframes as a DatasetDict.

    Args:
        data_dir: folder with `annotations/` and `videos/` or `rawframes/`.
        config_name: "ava" or "ava_kinetics".
        cache_dir: datasets cache (default: datasets' own).
        missing_videos: "error" or "drop" (see `AVAKineticsConfig`).
        download_mode: datasets' `DownloadMode` ("force_redownload" rebuilds, e.g. after videos were added).
        num_proc: processes writing the examples (shards of 25k keyframes); reading the annotations and checking
            the videos happen before, in this process.
        transcoded_dir: a transcoded video store (`training/data/transcode.py`, `videomae-ava-dataset --transcode`):
            every example's `video_path` points at its transcoded file (same timeline, `video_start` unchanged); a
            video missing from the store's manifest is an error naming it.
        config_kwargs: other `AVAKineticsConfig` options (`video_start`, `media`, `check_videos`, ...).
    """
    builder = AVAKinetics(
        config_name=config_name,
        data_dir=os.path.abspath(data_dir),
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        missing_videos=missing_videos,
        **config_kwargs,
    )
    builder.download_and_prepare(download_mode=download_mode, num_proc=num_proc)
    dataset = builder.as_dataset()
    if transcoded_dir is not None:
        dataset = use_transcoded_videos(dataset, data_dir, transcoded_dir)
    return dataset


def use_transcoded_videos(dataset: datasets.DatasetDict, data_dir, transcoded_dir) -> datasets.DatasetDict:
    """`dataset` with each `video_path` replaced by its file in the transcoded store (see `load_ava_dataset`)."""
    from .transcode import MANIFEST_NAME, transcoded_paths

    paths = transcoded_paths(data_dir, transcoded_dir)
    for split, data in dataset.items():
        missing = sorted({path for path in data["video_path"] if path and path not in paths})
        if missing:
            raise ValueError(f"{len(missing)} videos of split {split} are not in {Path(transcoded_dir) / MANIFEST_NAME}, "
                             f"e.g. {missing[:3]}: run videomae-ava-dataset {data_dir} --transcode {transcoded_dir}")

    def point_at_store(batch):
        return {"video_path": [paths[path] if path else path for path in batch["video_path"]]}

    return dataset.map(point_at_store, batched=True, desc="pointing at the transcoded videos")
