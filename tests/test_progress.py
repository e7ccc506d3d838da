"""Progress bars: shown on a terminal, silent with --quiet and when stderr is not a terminal, on every long step."""

import io
import sys

import pytest

from conftest import fixture_path

TINY_TOY = dict(train_videos=2, val_videos=1, keyframes_per_video=1, width=64, height=48, min_people=1, max_people=1)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


@pytest.fixture
def use_terminal(monkeypatch):
    """Call it in the test body (pytest's own capture resets sys.stderr after fixtures run): swaps stderr for a
    terminal-like buffer and returns it; `set_quiet(False)` again afterwards."""
    from videomae_action_detection.processing.cli.progress import set_quiet

    def swap():
        set_quiet(False)  # a command's --quiet holds for the rest of its process (earlier in-process calls)
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        return terminal

    yield swap
    set_quiet(False)


def test_toy_generation_and_video_probing_show_progress_on_a_terminal_only(tmp_path, use_terminal):
    from videomae_action_detection.training.data import dataset_command as ava_dataset
    from videomae_action_detection.training.data import toy_dataset

    stderr = use_terminal()

    assert toy_dataset.main([str(tmp_path / "toy"), "--seed", "1", "--train_videos", "2", "--val_videos", "1",
                             "--keyframes_per_video", "1", "--width", "64", "--height", "48", "--min_people", "1",
                             "--max_people", "1"]) == 0
    assert "toy videos: 100%" in stderr.getvalue() and "3/3" in stderr.getvalue()
    assert ava_dataset.main([str(tmp_path / "toy"), "--cache_dir", str(tmp_path / "cache")]) == 0
    assert "probing videos: 100%" in stderr.getvalue()

    quiet = use_terminal()
    assert toy_dataset.main([str(tmp_path / "toy2"), "--quiet", "--train_videos", "1", "--val_videos", "1"]) == 0
    assert ava_dataset.main([str(tmp_path / "toy2"), "--cache_dir", str(tmp_path / "cache"), "--quiet"]) == 0
    assert "toy videos" not in quiet.getvalue() and "probing" not in quiet.getvalue()


def test_no_bar_when_stderr_is_not_a_terminal(tmp_path, monkeypatch):
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    generate_toy_dataset(tmp_path / "toy", seed=2, **TINY_TOY)
    assert piped.getvalue() == ""


def test_metric_conversion_and_annotated_video_show_progress(tmp_path, use_terminal):
    from videomae_action_detection.training.publishing.mmaction2_checkpoint import file_sha256
    from videomae_action_detection.processing.inference.annotated_video import write_annotated_video
    from videomae_action_detection.training.evaluation.evaluation_command import main

    stderr = use_terminal()
    folder = fixture_path("ava_eval", "synthetic_small")
    assert main(["--groundtruth", str(folder / "groundtruth.csv"), "--detections", str(folder / "detections.csv"),
                 "--label_map", str(folder / "label_map.pbtxt")]) == 0
    assert "scoring detections.csv" in stderr.getvalue() and "row" in stderr.getvalue()
    checkpoint = fixture_path("mmaction2_model", "interp_batch2", "checkpoint.pth")
    file_sha256(checkpoint, progress=True)
    assert "reading checkpoint.pth: 100%" in stderr.getvalue()
    write_annotated_video(fixture_path("videos", "bikes.mp4"), tmp_path / "out.mp4", [])
    assert "annotating bikes.mp4: 100%" in stderr.getvalue() and "250/250" in stderr.getvalue()
    before = len(stderr.getvalue())
    assert main(["--groundtruth", str(folder / "groundtruth.csv"), "--detections", str(folder / "detections.csv"),
                 "--label_map", str(folder / "label_map.pbtxt"), "--quiet"]) == 0
    assert "scoring" not in stderr.getvalue()[before:]
