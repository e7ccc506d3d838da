"""The AVA / AVA-Kinetics `datasets` builder: records equal mmaction2's, official and merged files parse, untrusted
pickles are refused, missing videos are reported, and `read_clip` reads the right frames with the example fields."""

import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import fixture_path

from videomae_action_detection.processing import read_clip
from videomae_action_detection.processing.clip_reader import AVA_FPS
from videomae_action_detection.processing.synthetic_video import synthetic_frame, synthetic_frame_index, write_synthetic_video
from videomae_action_detection.processing.formats.proposals import load_proposals
from videomae_action_detection.training.data.ava_annotations import (
    attach_proposals,
    drop_excluded,
    read_excluded_keyframes,
    read_keyframe_records,
)
from videomae_action_detection.training.data.ava_dataset import AVA_ACTION_LABEL_NAMES, AVAKinetics, load_ava_dataset
from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError

CASES = ("mmaction2_test_sample", "ava_kinetics_merged")



def mmaction2_record(record, frame_prefix: str = "FRAMES", fps: int = AVA_FPS) -> dict:
    """A KeyframeRecord as mmaction2's `AVAKineticsDataset.get_data_info` fields (boxes and scores as lists), with
    mmaction2's video id (the clip name for Kinetics) and the per-clip `shot_info`."""
    return {
        "video_id": record.clip_name,
        "timestamp": int(record.timestamp),
        "img_key": record.img_key,
        "frame_dir": f"{frame_prefix}/{record.clip_name}",
        "timestamp_start": record.timestamp_start,
        "timestamp_end": record.timestamp_end,
        "shot_info": [1, record.shot_frames(fps) + 1],
        "fps": fps,
        "gt_bboxes": record.boxes.tolist(),
        "entity_ids": list(record.person_ids),
        "proposals": record.proposals.tolist(),
        "scores": record.proposal_scores.tolist(),
        "gt_label_ids": [list(labels) for labels in record.action_ids],
    }

def _case(name):
    folder = fixture_path("mmaction2_data", "dataset", name)
    return folder, json.loads((folder / "records.json").read_text())


def _expected(record):
    """A fixture record with the per-clip shot info and a score of 1 for score-less (4-column) proposals."""
    expected = dict(record)
    expected["shot_info"] = expected.pop("shot_info_correct")
    expected.setdefault("scores", [1.0] * len(expected["proposals"]))
    return expected


@pytest.mark.parametrize("case", CASES)
def test_records_equal_mmaction2(case):
    folder, reference = _case(case)
    records = read_keyframe_records(folder / "annotations.csv")
    records = drop_excluded(records, read_excluded_keyframes(folder / "excluded_timestamps.csv"))
    attach_proposals(records, load_proposals(folder / "proposals.pkl"))
    got = [mmaction2_record(record) for record in records]
    for mode in ("train", "test"):
        expected = [_expected(record) for record in reference["records"][mode]]
        assert got == expected


def _data_dir(root: Path, case: str, *, frames=True) -> Path:
    """A data folder with the fixture's files under their official names (as train and val) and frame folders."""
    folder, reference = _case(case)
    annotations = root / "annotations"
    annotations.mkdir(parents=True)
    for split in ("train", "val"):
        shutil.copy(folder / "annotations.csv", annotations / f"ava_{split}_v2.2.csv")
        shutil.copy(folder / "excluded_timestamps.csv", annotations / f"ava_{split}_excluded_timestamps_v2.2.csv")
        shutil.copy(folder / "proposals.pkl", annotations / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl")
    shutil.copy(fixture_path("ava_labels", "ava_action_list_v2.2.pbtxt"), annotations / "ava_action_list_v2.2.pbtxt")
    if frames:
        for record in reference["records"]["train"]:
            _write_frames(root / "rawframes" / record["video_id"], 1)
    return root


def _write_frames(folder: Path, count: int, start: int = 0, size=(48, 64)):
    import torch
    from torchvision.io import encode_jpeg

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        frame = torch.from_numpy(synthetic_frame(index, size[1], size[0])).permute(2, 0, 1).contiguous()
        (folder / f"img_{index + 1:05d}.jpg").write_bytes(encode_jpeg(frame, quality=95).numpy().tobytes())


@pytest.mark.parametrize("case,config", [("mmaction2_test_sample", "ava"), ("ava_kinetics_merged", "ava_kinetics")])
def test_builder_examples_equal_mmaction2(tmp_path, case, config):
    data_dir = _data_dir(tmp_path / "data", case)
    dataset = load_ava_dataset(data_dir, config, cache_dir=tmp_path / "cache")
    assert set(dataset) == {"train", "validation"}
    _, reference = _case(case)
    for split, mode in (("train", "train"), ("validation", "test")):
        rows = dataset[split].to_list()
        expected = [_expected(record) for record in reference["records"][mode]]
        assert [row["img_key"] for row in rows] == [record["img_key"] for record in expected]
        for row, record in zip(rows, expected):
            assert row["clip_name"] == record["video_id"]
            youtube_id = record["video_id"].rsplit("_", 2)[0] if len(record["video_id"]) > 11 else record["video_id"]
            assert row["video_id"] == youtube_id
            assert row["timestamp"] == record["timestamp"]
            assert row["frame_dir"] == str(data_dir / "rawframes" / record["video_id"]) and row["video_path"] == ""
            assert (row["timestamp_start"], row["timestamp_end"]) == (record["timestamp_start"], record["timestamp_end"])
            # read_clip clamps to [1, num_frames]; mmaction2 clips to [shot_info[0], shot_info[1] - 1]
            assert row["num_frames"] == record["shot_info"][1] - 1 and row["fps"] == 30
            assert row["video_start"] == record["timestamp_start"]
            np.testing.assert_array_equal(row["boxes"], np.float32(record["gt_bboxes"]))
            assert row["labels"] == [[action_id - 1 for action_id in labels] for labels in record["gt_label_ids"]]
            assert row["person_ids"] == record["entity_ids"]
            np.testing.assert_array_equal(row["proposals"], np.float32(record["proposals"]))
            np.testing.assert_array_equal(row["proposal_scores"], np.float32(record["scores"]))
    names = dataset["train"].features["labels"].feature.feature.names
    assert names == AVA_ACTION_LABEL_NAMES and len(names) == 80


def test_official_kinetics_csv_and_video_clips(tmp_path):
    """The official Kinetics CSV (7 columns, float timestamps, 2-column rows) matched to clips on disk."""
    data_dir = _data_dir(tmp_path / "data", "mmaction2_test_sample")
    annotations = data_dir / "annotations"
    (annotations / "kinetics_train_v1.0.csv").write_text(
        "kinetics_01,12.0,0.1,0.2,0.3,0.4,5\n"
        "kinetics_01,12.0,0.1,0.2,0.3,0.4,7\n"
        "kinetics_01,13.0,0.5,0.5,0.9,0.9,80\n"
        "kinetics_02,30,0.0,0.0,1.0,1.0,1\n"  # no clip holds second 30 -> missing
        "kinetics_01,14.0\n"  # keyframe without people
    )
    (annotations / "kinetics_val_v1.0.csv").write_text("kinetics_01,13.0,0.2,0.2,0.6,0.6,12\nkinetics_01,12.0\n")
    with open(annotations / "kinetics_proposals_train.pkl", "wb") as handle:
        pickle.dump({"kinetics_01,0012": np.array([[0.1, 0.2, 0.3, 0.4, 0.95], [0.0, 0.0, 0.5, 0.5, 0.2]])}, handle)
    write_synthetic_video(data_dir / "videos" / "kinetics_01_000010_000015.mp4", 5 * 30)
    with pytest.raises(ValueError) as error:
        load_ava_dataset(data_dir, "ava_kinetics", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "1 videos / frame folders missing or unreadable, needed by 1 of" in message
    assert "kinetics_02 (Kinetics)" in message and "missing_videos='drop'" in message

    dataset = load_ava_dataset(
        data_dir, "ava_kinetics", cache_dir=tmp_path / "cache", missing_videos="drop", keep_empty_keyframes=True
    )
    assert set(dataset) == {"train", "validation", "kinetics_validation"}
    train = dataset["train"].to_list()
    kinetics = [row for row in train if row["video_id"] == "kinetics_01"]
    assert [row["img_key"] for row in kinetics] == [f"kinetics_01_000010_000015,{second:04d}" for second in (12, 13, 14)]
    first, second, empty = kinetics
    assert first["clip_name"] == "kinetics_01_000010_000015" and first["video_path"].endswith(".mp4")
    assert (first["timestamp_start"], first["timestamp_end"], first["video_start"], first["num_frames"]) == (10, 15, 10, 150)
    assert first["labels"] == [[4, 6]] and first["person_ids"] == [-1]
    np.testing.assert_array_equal(first["proposals"], np.float32([[0.1, 0.2, 0.3, 0.4]]))
    np.testing.assert_array_equal(second["proposals"], np.float32([[0, 0, 1, 1]]))  # no entry: whole frame
    assert second["proposal_scores"] == [1.0]
    # the 2-column row (nobody there) is kept as asked (keep_empty_keyframes), with no boxes
    assert (empty["boxes"], empty["labels"], empty["person_ids"]) == ([], [], [])
    assert len(train) == 1 + 3
    val = dataset["kinetics_validation"].to_list()
    assert [(row["timestamp"], len(row["boxes"])) for row in val] == [(13.0, 1), (12.0, 0)]
    # read_clip with the example's fields: timeline frame k = clip frame k - 1 (the clip starts at second 10)
    frames, numbers = read_clip(
        first["video_path"] or first["frame_dir"], first["timestamp"], timestamp_start=first["timestamp_start"],
        video_start=first["video_start"], fps=first["fps"], num_frames=first["num_frames"],
    )
    assert numbers.tolist() == [max(1, 60 + 4 * i) for i in range(-8, 8)]
    assert [synthetic_frame_index(frame) for frame in frames] == [n - 1 for n in numbers.tolist()]


@pytest.mark.parametrize("layout", ["full_movie", "cut", "rawframes"])
def test_read_clip_with_example_fields(tmp_path, layout):
    """AVA movies as full movies (file second = keyframe second), 15-minute cuts (file starts at 900 s) and frame
    folders: the clip read with the example's fields is the one mmaction2 reads from its rawframes."""
    data_dir = _data_dir(tmp_path / "data", "mmaction2_test_sample", frames=False)
    if layout == "full_movie":
        # 2 fps for 905 s: the frame shown at timeline second t is file frame floor(2 t)
        write_synthetic_video(data_dir / "videos" / "0f39OWEqJ24.mkv", 905 * 2, fps=2, gop=60)
    elif layout == "cut":
        write_synthetic_video(data_dir / "videos" / "0f39OWEqJ24.mp4", 10 * 30)
    else:
        _write_frames(data_dir / "rawframes" / "0f39OWEqJ24", 100)
    dataset = load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache")
    row = dataset["train"][0]
    assert row["img_key"] == "0f39OWEqJ24,0902"
    assert row["video_start"] == {"full_movie": 0.0, "cut": 900.0, "rawframes": 900.0}[layout]
    frames, numbers = read_clip(
        row["video_path"] or row["frame_dir"], row["timestamp"], timestamp_start=row["timestamp_start"],
        video_start=row["video_start"], fps=row["fps"], num_frames=row["num_frames"],
    )
    assert numbers.tolist() == [28 + 4 * i for i in range(16)]  # mmaction2's frame_inds (sampling.json)
    seen = [synthetic_frame_index(frame) for frame in frames]
    if layout == "full_movie":
        assert seen == [int(2 * (900 + (n - 1) / 30)) for n in numbers.tolist()]
    else:
        assert seen == [n - 1 for n in numbers.tolist()]


def test_video_start_can_be_given(tmp_path):
    data_dir = _data_dir(tmp_path / "data", "mmaction2_test_sample", frames=False)
    write_synthetic_video(data_dir / "videos" / "0f39OWEqJ24.mp4", 10 * 30)
    row = load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache", video_start=900)["train"][0]
    assert row["video_start"] == 900.0
    # a file too short for its keyframes either way is reported, not read at the wrong place
    short = _data_dir(tmp_path / "short", "mmaction2_test_sample", frames=False)
    write_synthetic_video(short / "videos" / "0f39OWEqJ24.mp4", 30)
    with pytest.raises(ValueError, match="too short for its keyframe at 902 s"):
        load_ava_dataset(short, "ava", cache_dir=tmp_path / "cache2")


def test_missing_and_unreadable_videos(tmp_path, caplog):
    data_dir = _data_dir(tmp_path / "data", "ava_kinetics_merged", frames=False)
    write_synthetic_video(data_dir / "videos" / "0f39OWEqJ24.mp4", 10 * 30)
    (data_dir / "videos" / "aBcDeFgHiJk_000010_000020.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError) as error:
        load_ava_dataset(data_dir, "ava_kinetics", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "2 videos / frame folders missing or unreadable, needed by 3 of 5 keyframes" in message
    assert "aBcDeFgHiJk_000010_000020: unreadable video" in message
    assert "ZyXwVuTsRqP_000100_000110: no video" in message
    with caplog.at_level(logging.WARNING):
        dataset = load_ava_dataset(data_dir, "ava_kinetics", cache_dir=tmp_path / "cache", missing_videos="drop")
    assert dataset["train"]["img_key"] == ["0f39OWEqJ24,0902", "0f39OWEqJ24,0905"]
    assert "needed by 3 of 5 keyframes" in caplog.text


def test_merged_kinetics_rows_left_out_of_ava_config(tmp_path):
    data_dir = _data_dir(tmp_path / "data", "ava_kinetics_merged")
    dataset = load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache")
    assert dataset["train"]["img_key"] == ["0f39OWEqJ24,0902", "0f39OWEqJ24,0905"]


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_proposal_pickle_is_refused(tmp_path):
    data_dir = _data_dir(tmp_path / "data", "mmaction2_test_sample")
    marker = tmp_path / "pwned"
    pickle_path = data_dir / "annotations" / "ava_dense_proposals_train.FAIR.recall_93.9.pkl"
    pickle_path.write_bytes(pickle.dumps({"0f39OWEqJ24,0902": _RunsCode(marker)}))
    with pytest.raises(UntrustedPickleError, match="refused to load (posix|os).system"):
        load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache")
    assert not marker.exists()


def test_malformed_rows_name_file_and_line(tmp_path):
    data_dir = _data_dir(tmp_path / "data", "mmaction2_test_sample")
    csv = data_dir / "annotations" / "ava_train_v2.2.csv"
    lines = csv.read_text().splitlines()
    lines[3] = "0f39OWEqJ24,0903,0.034,0.189,0.669,0.980,81,0"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"ava_train_v2.2.csv:4: action id must be 1..80, got 81"):
        load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache")
    lines[3] = "0f39OWEqJ24,0903,0.034,0.189"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"ava_train_v2.2.csv:4: expected 2 \(video_id,timestamp\), 7 or 8 columns"):
        load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache2")


def test_builder_configs_and_errors(tmp_path):
    assert [config.name for config in AVAKinetics.BUILDER_CONFIGS] == ["ava", "ava_kinetics"]
    with pytest.raises(ValueError, match="missing_videos"):
        AVAKinetics(config_name="ava", data_dir=str(tmp_path), cache_dir=str(tmp_path / "c"), missing_videos="skip")
    data_dir = _data_dir(tmp_path / "data", "mmaction2_test_sample")
    (data_dir / "annotations" / "ava_dense_proposals_val.FAIR.recall_93.9.pkl").unlink()
    with pytest.raises(FileNotFoundError, match="ava_dense_proposals_val.FAIR.recall_93.9.pkl"):
        load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache")


def test_export_loads_offline_with_load_dataset(tmp_path):
    import datasets

    from videomae_action_detection.training.data.dataset_export import export_ava_dataset

    data_dir = _data_dir(tmp_path / "data", "ava_kinetics_merged")
    ava = load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache")
    ava_kinetics = load_ava_dataset(data_dir, "ava_kinetics", cache_dir=tmp_path / "cache")
    export = tmp_path / "export"
    export_ava_dataset(ava, export, "ava", relative_to=data_dir)
    export_ava_dataset(ava_kinetics, export, "ava_kinetics")
    assert datasets.get_dataset_config_names(str(export)) == ["ava", "ava_kinetics"]
    loaded = datasets.load_dataset(str(export), "ava_kinetics", cache_dir=str(tmp_path / "cache2"))
    assert set(loaded) == {"train", "validation"}
    assert loaded["train"].features == ava_kinetics["train"].features
    assert loaded["train"].to_list() == ava_kinetics["train"].to_list()
    relative = datasets.load_dataset(str(export), "ava", cache_dir=str(tmp_path / "cache2"))["train"]
    assert relative["frame_dir"] == ["rawframes/0f39OWEqJ24"] * 2
    assert relative.features["labels"].feature.feature.names[79] == "watch (a person)"


def test_label_map_formats_and_old_pickle_protocols(tmp_path):
    """`item { name id }` label maps (mmaction2's tests) and `label { name label_id label_type }` ones (the AVA
    release) are both read; a protocol-2 pickle of numpy arrays (as Python 2 wrote the FAIR proposals) loads."""
    folder, reference = _case("mmaction2_test_sample")
    data_dir = _data_dir(tmp_path / "data", "mmaction2_test_sample")
    annotations = data_dir / "annotations"
    shutil.copy(folder / "label_map.pbtxt", annotations / "label_map.pbtxt")
    for split in ("train", "val"):
        with open(annotations / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl", "wb") as handle:
            pickle.dump(load_proposals(folder / "proposals.pkl"), handle, protocol=2)
    dataset = load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache", label_map_file="label_map.pbtxt")
    np.testing.assert_array_equal(dataset["validation"][0]["proposal_scores"], np.float32([0.998163]))
    (annotations / "bad.pbtxt").write_text('item {\n  name: "x"\n  id: 81\n}\n')
    with pytest.raises(ValueError, match=r"bad.pbtxt: AVA action ids run from 1 to 80, the label map has \[81\]"):
        load_ava_dataset(data_dir, "ava", cache_dir=tmp_path / "cache", label_map_file="bad.pbtxt")


def test_command_line_lists_missing_videos_and_exports(tmp_path, capsys):
    from videomae_action_detection.training.data.dataset_command import main

    data_dir = _data_dir(tmp_path / "data", "ava_kinetics_merged", frames=False)
    _write_frames(data_dir / "rawframes" / "0f39OWEqJ24", 1)
    common = [str(data_dir), "--config", "ava_kinetics", "--cache_dir", str(tmp_path / "cache")]
    assert main(common) == 2
    assert "2 videos / frame folders missing or unreadable, needed by 3 of 5 keyframes" in capsys.readouterr().err
    missing_list = tmp_path / "missing.tsv"
    export = tmp_path / "export"
    assert main(common + ["--missing_videos", "drop", "--missing_list", str(missing_list), "--export", str(export)]) == 0
    output = capsys.readouterr().out
    assert "train: 2 keyframes, 2 missing videos (3 keyframes left out)" in output
    lines = sorted(line.split("\t")[:3] for line in missing_list.read_text().splitlines())
    assert lines == [
        ["train", "ZyXwVuTsRqP_000100_000110", "1"], ["train", "aBcDeFgHiJk_000010_000020", "2"],
        ["validation", "ZyXwVuTsRqP_000100_000110", "1"], ["validation", "aBcDeFgHiJk_000010_000020", "2"],
    ]
    assert sorted(path.name for path in (export / "ava_kinetics").iterdir()) == [
        "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"
    ]
