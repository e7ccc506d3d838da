"""Hostile and careless input: every entry point refuses it with a clear error naming the file, row or
argument, and changes nothing else.

Entry points attacked here: read_clip, the CSV readers, the unpicklers, the video processor, the converter, the
data set builder, the toy generator and the command lines. Every test builds its own small files (a few KB) so the
module runs in seconds.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from videomae_action_detection.processing.clip_reader import read_clip
from videomae_action_detection.processing.synthetic_video import write_synthetic_video


def _faststart_copy(source: Path, target: Path) -> Path:
    """Remux `source` with its index (moov) first, as web downloads are: cutting it leaves a readable header."""
    import av

    with av.open(str(source)) as reader, av.open(str(target), "w", options={"movflags": "faststart"}) as writer:
        stream = reader.streams.video[0]
        out_stream = writer.add_stream_from_template(stream)
        for packet in reader.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            writer.mux(packet)
    return target


# --------------------------------------------------------------------------------------------------- read_clip
def test_read_clip_past_the_cut_of_a_truncated_faststart_download_is_a_clear_error(tmp_path):
    """this raised `NameError: name 'av' is not defined`."""
    whole = write_synthetic_video(tmp_path / "whole.mp4", 300)
    data = _faststart_copy(whole, tmp_path / "faststart.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    frames, numbers = read_clip(cut, 1)  # before the cut: still reads
    assert frames.shape == (16, 48, 64, 3) and numbers[-1] == 58
    with pytest.raises(ValueError, match=r"cut\.mp4 \(corrupt or truncated file\)"):
        read_clip(cut, 8)


# ------------------------------------------------------------------------------------------- CSV readers (BOM)
_BOM = b"\xef\xbb\xbf"


def test_bom_is_not_part_of_the_first_video_id_in_any_csv_reader(tmp_path):
    """with a UTF-8 BOM the slow CSV paths read the first video id as '\\ufeffvidA'."""
    from videomae_action_detection.processing.inference.proposals_file import ProposalsFile
    from videomae_action_detection.training.data.ava_annotations import read_excluded_keyframes
    from videomae_action_detection.processing.formats.ava_files import read_ava_csv, read_keyframe_list, read_label_map

    excluded = tmp_path / "excluded.csv"
    excluded.write_bytes(_BOM + b"vidA,0902\nvidB,0903\n")
    assert [row[:2] for row in read_keyframe_list(excluded)] == [("vidA", "0902"), ("vidB", "0903")]
    assert read_excluded_keyframes(excluded) == {("vidA", 902), ("vidB", 903)}

    groundtruth = tmp_path / "gt.csv"  # a 2-column row first: the slow exact pass reads it
    groundtruth.write_bytes(_BOM + b"vidA,0902\nvidA,0903,0.1,0.1,0.5,0.5,12,1\n")
    rows = read_ava_csv(groundtruth)
    assert list(rows.video_ids) == ["vidA"]
    fast = tmp_path / "fast.csv"  # pyarrow's pass: already right, stays right
    fast.write_bytes(_BOM + b"vidA,0903,0.1,0.1,0.5,0.5,12,1\n")
    assert list(read_ava_csv(fast).video_ids) == ["vidA"]

    proposals = tmp_path / "proposals.csv"
    proposals.write_bytes(_BOM + b"vidA,2,0.1,0.1,0.5,0.5\n")
    assert ProposalsFile(proposals).video_ids == ["vidA"]

    label_map = tmp_path / "labels.pbtxt"
    label_map.write_bytes(_BOM + b'item {\n  name: "stand"\n  id: 12\n}\n')
    assert read_label_map(label_map) == {12: "stand"}


# ------------------------------------------------------------------------------------------------ unpicklers
def _checkpoint_with_pickle(path: Path, pickle_bytes: bytes) -> Path:
    """A torch.save zip whose data.pkl is replaced by `pickle_bytes` (hand-written opcodes)."""
    import zipfile

    import torch

    template = path.with_suffix(".template")
    torch.save({}, template)
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = pickle_bytes if item.filename.endswith("/data.pkl") else source.read(item)
            target.writestr(item, data)
    template.unlink()
    return path


def test_a_refused_checkpoint_cannot_change_what_later_loads_return(tmp_path):
    """BUILD was applied to torch's real `_rebuild_tensor_v2` before the file was refused."""
    import torch

    from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError, load_checkpoint

    # GLOBAL torch._utils._rebuild_tensor_v2; BUILD (None, {"__kwdefaults__"-like attribute}); then os.system
    payload = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x06\x00\x00\x00markerK\x01s\x86bcos\nsystem\n."
    path = _checkpoint_with_pickle(tmp_path / "evil.pth", payload)
    try:
        with pytest.raises(UntrustedPickleError, match=r"evil\.pth: refused BUILD on .*_rebuild_tensor_v2"):
            load_checkpoint(path)
        assert not hasattr(torch._utils._rebuild_tensor_v2, "marker")
    finally:
        vars(torch._utils._rebuild_tensor_v2).pop("marker", None)


def test_a_refused_data_pickle_cannot_rewrite_a_numpy_module(tmp_path):
    """`numpy.dtypes.__dict__` was handed out and SETITEM rewrote it."""
    from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError, load_pickled_data

    real = np.dtypes.Float64DType
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x02cnumpy.dtypes\n__dict__\nX\x0c\x00\x00\x00Float64DTypeX\x03\x00\x00\x00bads.")
    try:
        with pytest.raises(UntrustedPickleError, match=r"evil\.pkl: refused to load numpy\.dtypes\.__dict__"):
            load_pickled_data(path)
        assert np.dtypes.Float64DType is real
    finally:
        np.dtypes.Float64DType = real


def test_a_data_pickle_cannot_modify_numpy_shared_dtypes(tmp_path):
    """BUILD on `numpy.dtype('f8', False, False)` (numpy's shared float64 object) acts on a copy."""
    import pickle

    from videomae_action_detection.processing.formats.untrusted_pickle import load_pickled_data

    path = tmp_path / "dtype.pkl"
    path.write_bytes(pickle.dumps(np.dtype("f8"), protocol=2).replace(b"\x89\x88", b"\x89\x89"))  # copy=False
    loaded = load_pickled_data(path)
    assert loaded == np.dtype("f8") and loaded is not np.dtype("f8")


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x04\x85R.", "refused bytearray"),  # 64 MiB from 20 bytes
        (b"\x80\x02c__builtin__\nset\nc__builtin__\nrange\nJ\x40\x42\x0f\x00\x85R\x85R.", "refused to load builtins.range"),
        (b"\x80\x02c__builtin__\nset\nJ\x40\x42\x0f\x00\x85R.", "refused set"),
        (b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x04\x85R.", "refused a call on class numpy.ndarray"),
        (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R.", "only latin1"),
        (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\x00\x00\x04\x85U\x01b\x87R.",
         "numpy pickles start empty"),
    ],
    ids=["bytearray-64MiB", "set-of-range", "set-of-int", "ndarray-call", "zlib-codec", "reconstruct-shape"],
)
def test_a_small_data_pickle_cannot_allocate_much(tmp_path, payload, message):
    """`bytearray(64 MiB)`, `set(range(10**6))` ... were built from a few bytes."""
    from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError, load_pickled_data

    path = tmp_path / "small.pkl"
    path.write_bytes(payload)
    with pytest.raises(UntrustedPickleError, match=message) as caught:
        load_pickled_data(path)
    assert str(path) in str(caught.value)


def test_a_stride_zero_tensor_is_refused_before_anything_makes_it_contiguous(tmp_path):
    """a (10**6, 10**6) view of one float loaded fine; `.contiguous()` would ask for 4 TB."""
    import torch

    from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError, load_checkpoint

    path = tmp_path / "broadcast.pth"
    torch.save({"state_dict": {"w": torch.zeros(1).expand(10**6, 10**6)}}, path)
    with pytest.raises(UntrustedPickleError, match=r"broadcast\.pth: refused a tensor of shape \(1000000, 1000000\)"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "payload",
    [b"\x80\x02)Q.", b"\x80\x02(X\x07\x00\x00\x00storageQ.", b"\x80\x02X\x01\x00\x00\x00ab."],
    ids=["empty-persistent-id", "short-persistent-id", "build-on-str"],
)
def test_garbage_checkpoint_is_one_clear_error_naming_the_file(tmp_path, payload):
    """torch's own IndexError / ValueError / AttributeError on garbage become one error that names the file."""
    import pickle

    from videomae_action_detection.processing.formats.untrusted_pickle import load_checkpoint

    path = _checkpoint_with_pickle(tmp_path / "garbage.pth", payload)
    with pytest.raises((ValueError, pickle.UnpicklingError)) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)


# ------------------------------------------------------------------------------------------------- converter
def _fixture_state_dict():
    import torch

    from conftest import fixture_path

    return torch.load(fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth"), weights_only=True)["state_dict"]


def _convert(tmp_path, state_dict, capsys):
    import torch

    import convert_checkpoints

    checkpoint = tmp_path / "hostile.pth"
    torch.save({"state_dict": state_dict}, checkpoint)
    output = tmp_path / "converted"
    status = convert_checkpoints.main(["--checkpoint", str(checkpoint), "--output_dir", str(output)])
    return status, capsys.readouterr().err, output


def test_converter_refuses_module_prefixed_and_plain_copies_of_one_key(tmp_path, capsys):
    """`module.X` silently replaced `X` (or the reverse), whichever came last."""
    state_dict = _fixture_state_dict()
    key = next(iter(state_dict))
    state_dict[f"module.{key}"] = state_dict[key] + 1
    status, error, output = _convert(tmp_path, state_dict, capsys)
    assert status == 2 and not output.exists()
    assert f"both 'module.{key}' and '{key}'" in error and "hostile.pth" in error


def test_converter_names_the_non_finite_tensor(tmp_path, capsys):
    """an inf weight converted 'ok' (or failed as a NaN self-check) without naming the tensor."""
    state_dict = _fixture_state_dict()
    key = "backbone.blocks.0.attn.qkv.weight"
    state_dict[key] = state_dict[key].clone()
    state_dict[key][0, 0] = float("inf")
    status, error, output = _convert(tmp_path, state_dict, capsys)
    assert status == 2 and not output.exists()
    assert f"non-finite weights (NaN or inf) in {key} (1 of" in error


def test_converter_takes_an_fp16_checkpoint_instead_of_blaming_a_learned_position_embedding(tmp_path, capsys):
    """an fp16 copy of a good checkpoint was refused as 'a learned position embedding'."""
    state_dict = {key: value.half() for key, value in _fixture_state_dict().items()}
    status, error, output = _convert(tmp_path, state_dict, capsys)
    assert status == 0, error
    assert (output / "model.safetensors").is_file()


# ------------------------------------------------------------------------------------------- video processor
@pytest.fixture(scope="module")
def processor():
    from videomae_action_detection.processing import VideoMAEActionDetectionVideoProcessor

    return VideoMAEActionDetectionVideoProcessor()


@pytest.mark.parametrize(
    "videos, message",
    [
        (np.zeros((0, 4, 8, 8, 3), np.uint8), r"`videos` holds 0 clips"),
        ([], r"`videos` is an empty list"),
        (np.zeros((0, 8, 8, 3), np.uint8), r"`videos\[0\]` is empty: 0 frames"),
        (np.zeros((4, 0, 8, 3), np.uint8), r"`videos\[0\]` is empty: 4 frames of 0x8"),
        (np.full((4, 8, 8, 3), np.nan, np.float32), r"`videos\[0\]` must be uint8 .* NaN / inf"),
        (np.zeros((4, 8, 8, 3), np.float32), r"`videos\[0\]` must be uint8 .* not pixel_values"),
        (np.zeros((4, 8, 8, 3), np.int64), r"`videos\[0\]` must be uint8 .* got torch.int64"),
    ],
    ids=["zero-clips-array", "zero-clips-list", "zero-frames", "zero-height", "nan", "float", "int64"],
)
def test_processor_refuses_empty_and_wrongly_typed_clips_naming_the_argument(processor, videos, message):
    with pytest.raises(ValueError, match=message):
        processor(videos, return_tensors="pt")


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_processor_caps_the_resized_size_of_a_thin_strip(processor, train):
    """a 16x4000 clip was resized to 256x64000 (3 GB of float32 for 16 frames)."""
    strip = np.zeros((16, 16, 4000, 3), np.uint8)
    with pytest.raises(ValueError, match=r"`videos\[0\]` is 16x4000 .* resized to \d{3}x\d{5}, over the 4096-pixel limit"):
        processor(strip, do_train_augmentation=train, return_tensors="pt")


# --------------------------------------------------------------------------------------------- toy generator
_TOY = dict(train_videos=2, val_videos=1, keyframes_per_video=1, width=64, height=48, min_people=1, max_people=1)


def _toy(path, **overrides):
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

    return generate_toy_dataset(path, seed=1, **{**_TOY, **overrides})


def test_toy_overwrite_keeps_the_old_set_until_the_new_one_is_complete(tmp_path, monkeypatch):
    """`--overwrite` deleted the old set before building; a failure then left nothing."""
    from videomae_action_detection.training.data import toy_dataset

    folder = _toy(tmp_path / "toy")
    before = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))

    def fail(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(toy_dataset, "_split", fail)
    with pytest.raises(OSError, match="simulated"):
        _toy(folder, keyframes_per_video=2, overwrite=True)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]  # no staging folder left behind


def test_toy_generator_removes_staging_folders_of_killed_runs(tmp_path):
    """a killed run's `.toy.*` staging folder stayed forever."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".toy.staging-{int(dead.stdout)}-abc"
    (stale / "videos").mkdir(parents=True)
    alive = tmp_path / f".toy.staging-{os.getpid()}-xyz"  # a run still going (this process): kept
    alive.mkdir()
    _toy(tmp_path / "toy")
    assert not stale.exists() and alive.exists()


@pytest.mark.parametrize("damage", ["delete-video", "truncate-video", "truncate-csv"])
def test_toy_set_with_a_damaged_file_is_rebuilt_not_reused(tmp_path, damage):
    """a set with a deleted or truncated video was reused as complete."""
    from videomae_action_detection.processing.clip_reader import open_video

    folder = _toy(tmp_path / "toy")
    video = sorted((folder / "videos").iterdir())[0]
    csv_file = folder / "annotations" / "ava_train_v2.2.csv"
    if damage == "delete-video":
        video.unlink()
    elif damage == "truncate-video":
        video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    else:
        csv_file.write_bytes(csv_file.read_bytes()[:10])
    _toy(folder)
    container, _ = open_video(video)  # whole again
    container.close()
    assert csv_file.stat().st_size > 10


# ------------------------------------------------------------------------------------------- command lines
def _commands():
    from videomae_action_detection.processing.inference import command as video_action_detection
    from videomae_action_detection.training.data import dataset_command as ava_dataset
    from videomae_action_detection.training.data import toy_dataset
    from videomae_action_detection.training.evaluation import evaluation_command as ava_evaluation

    return {
        "videomae-ava-eval": ava_evaluation,
        "videomae-action-detection": video_action_detection,
        "videomae-ava-dataset": ava_dataset,
        "videomae-ava-toy-dataset": toy_dataset,
    }


def _run_cli(module, argv, capsys):
    status = module.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.err


def _one_error_line(status, err, *needles):
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO", "WARNING", "DEBUG"))
             and "%|" not in line]  # log records and progress bars aside
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("command", ["videomae-ava-eval", "videomae-action-detection", "videomae-ava-dataset",
                                     "videomae-ava-toy-dataset"])
def test_every_option_has_help_showing_its_default_and_a_log_level(command):
    """every option has help text and shows its default; `--log_level` is the same everywhere."""
    import argparse

    parser = _commands()[command].build_parser()
    assert isinstance(parser.formatter_class("x"), argparse.ArgumentDefaultsHelpFormatter)
    actions = [action for action in parser._actions if not isinstance(action, argparse._HelpAction)]
    assert all(action.help for action in actions), [action.dest for action in actions if not action.help]
    log_level = next(action for action in actions if action.dest == "log_level")
    assert log_level.default == "info" and list(log_level.choices) == ["debug", "info", "warning", "error"]
    text = parser.format_help()
    assert "(default: info)" in text


def test_eval_cli_errors_are_one_line_and_the_old_json_survives(tmp_path, capsys):
    from videomae_action_detection.training.evaluation import evaluation_command as ava_evaluation

    groundtruth = tmp_path / "gt.csv"
    groundtruth.write_text("vidA,0902,0.1,0.1,0.5,0.5,12,1\n", encoding="utf-8")
    detections = tmp_path / "det.csv"
    detections.write_text("vidA,0902,0.1,0.1,0.5,0.5,12,0.9\n", encoding="utf-8")
    output = tmp_path / "metrics.json"
    output.write_text('{"good": 1}\n', encoding="utf-8")
    cases = [
        (["--groundtruth", tmp_path / "nope.csv", "--detections", detections], ["nope.csv"]),
        (["--groundtruth", groundtruth, "--detections", detections, "--output_json", tmp_path / "no" / "m.json"],
         ["--output_json", "does not exist"]),
        (["--groundtruth", groundtruth, "--detections", detections, "--output_json", tmp_path],
         ["--output_json", "is a folder"]),
        (["--groundtruth", groundtruth, "--detections", groundtruth, "--output_json", output], []),
    ]
    bad_detections = tmp_path / "bad.csv"
    bad_detections.write_bytes(b"vidA,0902,0.1,0.1,0.5,zz,12,0.9\n")
    cases.append((["--groundtruth", groundtruth, "--detections", bad_detections, "--output_json", output],
                  ["bad.csv:1"]))
    for argv, needles in cases:
        status, err = _run_cli(ava_evaluation, argv, capsys)
        if not needles:
            assert status == 0, err  # ground truth as detections is valid: writes the JSON atomically
            assert "mAP" in output.read_text(encoding="utf-8")
            output.write_text('{"good": 1}\n', encoding="utf-8")
            continue
        _one_error_line(status, err, *needles)
    assert output.read_text(encoding="utf-8") == '{"good": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "det.csv", "gt.csv", "metrics.json"]


def test_toy_and_dataset_clis_refuse_bad_paths_with_one_line(tmp_path, capsys):
    from videomae_action_detection.training.data import dataset_command as ava_dataset
    from videomae_action_detection.training.data import toy_dataset

    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    _one_error_line(*_run_cli(toy_dataset, [a_file, "--train_videos", "1", "--val_videos", "1"], capsys), "a_file")
    _one_error_line(*_run_cli(toy_dataset, [tmp_path / "t", "--width", "63"], capsys), "width")
    _one_error_line(*_run_cli(ava_dataset, [tmp_path / "nothing_here"], capsys), "nothing_here")
    _one_error_line(*_run_cli(ava_dataset, [tmp_path, "--missing_list", tmp_path / "no" / "list.tsv"], capsys),
                    "--missing_list", "does not exist")
    assert a_file.read_text(encoding="utf-8") == "x"


@pytest.fixture(scope="module")
def tiny_model_folder(tmp_path_factory):
    import torch

    from conftest import tiny_config
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_model")
    VideoMAEForActionDetection(tiny_config()).eval().save_pretrained(folder)
    return folder


def test_inference_cli_checks_outputs_first_and_names_what_is_wrong(tmp_path, tiny_model_folder, capsys):
    import pickle

    from videomae_action_detection.processing.inference import command as video_action_detection

    video = write_synthetic_video(tmp_path / "clip.mp4", 90, width=64, height=48)
    proposals = tmp_path / "proposals.pkl"
    person = np.array([[0.1, 0.1, 0.6, 0.9, 0.99]], np.float32)
    proposals.write_bytes(pickle.dumps({"clip,0001": person, "clip,0008": person}))  # 8 s: past the cut below
    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    base = [video, "--proposals", proposals, "--no_progress", "--short_side", "32"]
    missing_model = ["--model", tmp_path / "no_model"]
    # output problems are found before the model is even looked for
    _one_error_line(*_run_cli(video_action_detection, [*base, *missing_model, "--output_dir", a_file], capsys),
                    "--output_dir", "a_file")
    _one_error_line(*_run_cli(video_action_detection, [*base, *missing_model, "--output_dir", tmp_path / "out",
                                                      "--output_video", tmp_path / "no" / "x.mp4"], capsys),
                    "--output_video", "does not exist")
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueq\x85R.")
    model = ["--model", tiny_model_folder, "--output_dir", tmp_path / "out"]
    _one_error_line(*_run_cli(video_action_detection, [video, "--proposals", evil, *model], capsys),
                    "evil.pkl", "refused to load posix.system")
    data = _faststart_copy(write_synthetic_video(tmp_path / "long.mp4", 300), tmp_path / "fs.mp4").read_bytes()
    cut = tmp_path / "clip_cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    _one_error_line(*_run_cli(video_action_detection, [cut, "--proposals", proposals, "--video_id", "clip",
                                                      "--no_progress", *model], capsys), "clip_cut.mp4")
    assert not (tmp_path / "out" / "actions.csv").exists()
    status, err = _run_cli(video_action_detection, [*base, *model, "--video_id", "clip", "--output_video",
                                                    tmp_path / "out" / "annotated.mp4"], capsys)
    assert status == 0, err
    out_files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out_files == ["actions.csv", "actions.json", "annotated.mp4"]  # no temporary names left


def test_annotated_video_write_error_blames_the_output_not_the_input(tmp_path, monkeypatch):
    """an encoder / muxer failure was reported as 'error while decoding video <input>'."""
    from videomae_action_detection.processing.inference import annotated_video
    from videomae_action_detection.processing.cli.conventions import atomic_output

    video = write_synthetic_video(tmp_path / "input.mp4", 10)
    output = tmp_path / "annotated.mp4"
    output.write_bytes(b"previous good file")

    def broken_encode(out_stream, sink, frame, name):
        raise OSError(f"cannot write the annotated video {name}: No space left on device")

    monkeypatch.setattr(annotated_video, "_encode", broken_encode)
    with pytest.raises(OSError, match=r"annotated\.mp4: No space left") as caught:
        with atomic_output(output) as temporary:
            annotated_video.write_annotated_video(video, temporary, [], output_name=output)
    assert "input.mp4" not in str(caught.value)
    assert output.read_bytes() == b"previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.mp4", "input.mp4"]


# -------------------------------------------------------------------------------------------- data set builder
def _builder(data_dir, cache_dir, **kwargs):
    from videomae_action_detection.training.data.ava_dataset import AVAKinetics

    return AVAKinetics(config_name="ava", data_dir=str(data_dir), cache_dir=str(cache_dir), **kwargs)


def _prepare(data_dir, cache_dir, **kwargs):
    builder = _builder(data_dir, cache_dir, **{key: value for key, value in kwargs.items() if key != "download_mode"})
    builder.download_and_prepare(download_mode=kwargs.get("download_mode"))
    fresh = getattr(builder, "missing_videos_report", None) is not None  # set only by a build, not a cache hit
    return builder, len(builder.as_dataset()["train"]), fresh


def test_builder_cache_follows_the_annotations_and_the_videos(tmp_path):
    """edited annotations were served from the old cache; `force_redownload` after videos changed
    raised NonMatchingSplitsSizesError."""
    data_dir = _toy(tmp_path / "toy", keyframes_per_video=2)
    cache = tmp_path / "cache"
    first, count, fresh = _prepare(data_dir, cache, missing_videos="drop")
    assert fresh and count == 4  # 2 videos x 2 keyframes
    again, count, fresh = _prepare(data_dir, cache, missing_videos="drop")
    assert not fresh and count == 4 and again.cache_dir == first.cache_dir  # nothing changed: reused

    csv_file = data_dir / "annotations" / "ava_train_v2.2.csv"
    lines = csv_file.read_text(encoding="utf-8").splitlines(keepends=True)
    last_key = lines[-1].split(",")[:2]
    csv_file.write_text("".join(line for line in lines if line.split(",")[:2] != last_key), encoding="utf-8")
    edited, count, fresh = _prepare(data_dir, cache, missing_videos="drop")
    assert fresh and count == 3 and edited.cache_dir != first.cache_dir  # edited annotations: rebuilt

    video = data_dir / "videos" / f"{last_key[0]}.mp4"
    moved = tmp_path / video.name
    video.rename(moved)
    _, count, fresh = _prepare(data_dir, cache, missing_videos="drop")
    assert fresh and count == 2  # a video gone: rebuilt without its keyframes
    moved.rename(video)  # "after adding videos": the README's case, with and without --force
    _, count, fresh = _prepare(data_dir, cache, missing_videos="drop", download_mode="force_redownload")
    assert fresh and count == 3
    _, count, fresh = _prepare(data_dir, cache, missing_videos="drop")
    assert not fresh and count == 3


# ---------------------------------------------------------------------------------------------------- rotation
def _rotated_video(path: Path, degrees: int, num_frames: int = 30) -> Path:
    """A 64x48 synthetic mp4 (frame i shows index i) whose display matrix asks players to rotate it."""
    import av

    from videomae_action_detection.processing.synthetic_video import synthetic_frame

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18", "bf": "0"}
        stream.set_display_rotation(degrees)
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(synthetic_frame(index, 64, 48), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_read_clip_applies_the_display_matrix_of_a_rotated_phone_video(tmp_path):
    """a 90-degree phone video came back sideways (48x64 stored = 64x48 shown ignored)."""
    from videomae_action_detection.processing.clip_reader import video_rotation
    from videomae_action_detection.processing.synthetic_video import synthetic_frame
    from videomae_action_detection.processing.video_keyframes import probe_video

    path = _rotated_video(tmp_path / "phone.mp4", -90)  # FFmpeg: counter-clockwise degrees; -90 = turn clockwise
    assert video_rotation(path) == 270
    frames, numbers = read_clip(path, 0.5, clip_len=2, frame_interval=4)
    assert frames.shape == (2, 64, 48, 3)  # shown portrait: 64 high, 48 wide
    expected = np.rot90(synthetic_frame(int(numbers[1]) - 1, 64, 48), k=-1)  # turned clockwise, as players do
    assert np.abs(frames[1].astype(int) - expected.astype(int)).mean() < 6
    info = probe_video(path)
    assert (info.width, info.height) == (48, 64)


def test_annotated_video_of_a_rotated_video_is_upright_with_boxes_in_the_shown_frame(tmp_path):
    """the annotated video dropped the rotation (written sideways, boxes in stored coordinates)."""
    import av

    from videomae_action_detection.processing.inference.annotated_video import write_annotated_video
    from videomae_action_detection.processing.clip_reader import displayed_rgb
    from videomae_action_detection.processing.keyframe_actions import KeyframeResult

    path = _rotated_video(tmp_path / "phone.mp4", -90)
    box = np.array([[0.0, 0.0, 0.5, 0.25]])  # normalised in the shown (portrait) frame: left half, top quarter
    result = KeyframeResult(0, box, np.array([0.99]), np.full((1, 80), 0.9))
    output = tmp_path / "annotated.mp4"
    write_annotated_video(path, output, [result], stride=1, lossless=True)
    with av.open(str(output)) as container:
        drawn = displayed_rgb(next(container.decode(video=0)))
    with av.open(str(path)) as container:
        shown = displayed_rgb(next(container.decode(video=0)))
    assert drawn.shape == shown.shape == (64, 48, 3)
    changed = np.abs(drawn.astype(int) - shown.astype(int)).sum(axis=2) > 0
    rows, cols = np.nonzero(changed)
    assert rows.min() <= 1 and cols.min() <= 1  # the box outline starts at the shown top-left corner
    assert not changed[40:, 30:].any()  # far from the box (bottom right of the shown frame) nothing is drawn


def test_converter_and_training_script_follow_the_cli_conventions(tmp_path, capsys):
    """The CLI conventions for the two remaining commands: help with defaults, one error line, exit 2."""
    import argparse
    import contextlib

    from transformers import HfArgumentParser

    import convert_checkpoints
    from videomae_action_detection.training import arguments, run_action_detection

    with contextlib.suppress(SystemExit):
        convert_checkpoints.main(["--help"])
    converter_help = capsys.readouterr().out
    assert "(default: 1GB)" in converter_help and "--log_level" in converter_help and "(default: info)" in converter_help
    status = convert_checkpoints.main(["--checkpoint", str(tmp_path / "none.pth"), "--output_dir", str(tmp_path / "out")])
    _one_error_line(status, capsys.readouterr().err, "none.pth")

    parser = HfArgumentParser((arguments.ModelArguments, arguments.DataArguments,
                               arguments.ActionDetectionTrainingArguments))
    assert parser.formatter_class is argparse.ArgumentDefaultsHelpFormatter
    assert all(action.help for action in parser._actions), [action.dest for action in parser._actions if not action.help]
    status = run_action_detection.console_main(["--data_dir", str(tmp_path / "nothing"), "--output_dir",
                                                 str(tmp_path / "train"), "--config_name", "toy", "--use_cpu"])
    _one_error_line(status, capsys.readouterr().err, "nothing")


def _make_source(tmp_path: Path, kind: str):
    if kind == "empty-file":
        (tmp_path / "empty.mp4").write_bytes(b"")
        return tmp_path / "empty.mp4"
    if kind == "text-as-mp4":
        (tmp_path / "notes.mp4").write_text("not a video\n", encoding="utf-8")
        return tmp_path / "notes.mp4"
    if kind == "corrupt-jpeg":
        folder = tmp_path / "frames"
        folder.mkdir()
        for number in range(1, 40):
            (folder / f"img_{number:05d}.jpg").write_bytes(b"\xff\xd8garbage")
        return folder
    if kind == "empty-folder":
        (tmp_path / "no_frames").mkdir()
        return tmp_path / "no_frames"
    if kind == "float-frames":
        return np.zeros((40, 8, 8, 3), np.float32)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("empty-file", r"empty\.mp4"),
        ("text-as-mp4", r"notes\.mp4"),
        ("corrupt-jpeg", r"img_000\d\d\.jpg"),
        ("empty-folder", r"no_frames holds no frames"),
        ("float-frames", r"must be uint8"),
    ],
)
def test_read_clip_refuses_malformed_sources_naming_them(tmp_path, kind, message):
    with pytest.raises(ValueError, match=message):
        read_clip(_make_source(tmp_path, kind), 1, clip_len=4, frame_interval=2)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(timestamp=float("nan")), "timestamp"),
        (dict(timestamp=1, frame_interval=0), "frame_interval"),
        (dict(timestamp=1, clip_len=-3), "clip_len"),
        (dict(timestamp=1, fps="thirty"), "fps"),
    ],
    ids=["nan-timestamp", "zero-interval", "negative-length", "text-fps"],
)
def test_read_clip_refuses_bad_arguments_naming_them(arguments, message):
    frames = np.zeros((60, 8, 8, 3), np.uint8)
    with pytest.raises((ValueError, TypeError), match=message):
        read_clip(frames, **arguments)


def test_transcoded_store_of_a_rotated_video_holds_the_frames_as_shown(tmp_path):
    """the store wrote a rotated phone video's frames as stored (sideways), while its boxes are in the shown frame."""
    from videomae_action_detection.training.data.transcode import resize_frame, transcode_video

    path = _rotated_video(tmp_path / "phone.mp4", -90)
    info = transcode_video(path, tmp_path / "store" / "phone.mp4", short_side=48)
    assert (info["height"], info["width"]) == (64, 48)  # portrait, as shown
    original, numbers = read_clip(path, 0.5, clip_len=2, frame_interval=4)
    stored, stored_numbers = read_clip(tmp_path / "store" / "phone.mp4", 0.5, clip_len=2, frame_interval=4)
    assert np.array_equal(numbers, stored_numbers) and stored.shape == original.shape == (2, 64, 48, 3)
    expected = np.stack([resize_frame(frame, (64, 48)) for frame in original])
    assert np.abs(stored.astype(int) - expected.astype(int)).mean() < 3
