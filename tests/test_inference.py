"""Action detection on a user video: keyframe schedule, person boxes from a proposals file or an object
detector, the AVA CSV, the JSON, the annotated video, the pipeline and bad input.

Tiny random models on `tests/fixtures/videos/bikes.mp4` (640x272, 25 fps, 250 frames, 10 s), short side 64.
"""

import json
import pickle
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from conftest import fixture_path, tiny_config

from videomae_action_detection.processing import read_clip
from videomae_action_detection.processing.inference.annotated_video import box_mask
from videomae_action_detection.processing.synthetic_video import write_synthetic_video
from videomae_action_detection.processing.inference.command import main
from videomae_action_detection.processing.inference.model_loading import load_action_detector
from videomae_action_detection.processing.inference.proposals_file import ProposalsFile
from videomae_action_detection.processing.inference.video_detection import detect_actions
from videomae_action_detection.processing.inference.writers import write_outputs
from videomae_action_detection.processing.keyframe_actions import Timings
from videomae_action_detection.processing.person_boxes import ObjectDetectorBoxes
from videomae_action_detection.processing.video_keyframes import keyframe_schedule, probe_video
from videomae_action_detection.processing.formats.ava_files import read_ava_csv


BIKES_FRAMES, BIKES_WIDTH, BIKES_HEIGHT = 250, 640, 272
# Proposals for bikes.mp4 at keyframes 0, 2 and 3 s (none at 1 s: "no person found"); the 0.4-score box is dropped
# by person_threshold 0.9.
PROPOSALS = {
    "bikes,0000": [[0.10, 0.20, 0.45, 0.95, 0.99], [0.55, 0.10, 0.90, 0.80, 0.40]],
    "bikes,0002": [[0.20, 0.15, 0.60, 0.90, 0.95], [0.62, 0.30, 0.98, 0.99, 0.92]],
    "bikes,0003": [[0.05, 0.05, 0.50, 0.60, 0.97]],
}
KEPT = {0: [[0.10, 0.20, 0.45, 0.95]], 2: [[0.20, 0.15, 0.60, 0.90], [0.62, 0.30, 0.98, 0.99]], 3: [[0.05, 0.05, 0.50, 0.60]]}


@pytest.fixture(scope="module")
def bikes():
    return str(fixture_path("videos", "bikes.mp4"))


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_action_model")
    VideoMAEForActionDetection(tiny_config()).eval().save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def proposals_pkl(tmp_path_factory):
    path = tmp_path_factory.mktemp("proposals") / "proposals.pkl"
    with open(path, "wb") as handle:
        pickle.dump({key: np.array(value, dtype=np.float32) for key, value in PROPOSALS.items()}, handle)
    return str(path)


def decode_rgb(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)], (stream.width, stream.height)


def test_keyframe_schedule():
    assert keyframe_schedule(10.0) == list(range(10))
    assert keyframe_schedule(2.0, stride=0.5, start=0.5) == [Fraction(1, 2), 1, Fraction(3, 2)]
    assert keyframe_schedule(10.0, stride=2, end=5) == [0, 2, 4]
    assert keyframe_schedule(0.4) == [0]
    with pytest.raises(ValueError, match="multiple of 1/30"):
        keyframe_schedule(10.0, stride=0.01)
    with pytest.raises(ValueError, match="positive"):
        keyframe_schedule(10.0, stride=0)


def test_cli_proposals_csv_json_and_lossless_video(bikes, model_folder, proposals_pkl, tmp_path):
    annotated = tmp_path / "annotated.mp4"
    code = main([bikes, "--model", model_folder, "--proposals", proposals_pkl, "--end", "4", "--short_side", "64",
                 "--action_threshold", "0.5", "--label_threshold", "0.5", "--top_k", "2", "--output_dir", str(tmp_path),
                 "--output_video", str(annotated), "--lossless", "--no_progress"])
    assert code == 0

    # The same run through the API: the CSV holds exactly its (box, action > 0.5) pairs, per keyframe.
    model, processor = load_action_detector(model_folder)
    results = list(detect_actions(bikes, model, processor, ProposalsFile(proposals_pkl), end=4, short_side=64,
                                  person_threshold=0.9, progress=False))
    assert [float(result.timestamp) for result in results] == [0, 1, 2, 3]
    assert len(results[1].boxes) == 0 and results[1].action_scores.shape == (0, 80)  # no person at 1 s: no rows
    rows = read_ava_csv(tmp_path / "actions.csv")
    assert rows.num_rows == sum(int((result.action_scores > 0.5).sum()) for result in results) > 0
    timestamps = rows.timestamps[rows.timestamp_index].astype(float)
    assert set(timestamps.tolist()) == {0.0, 2.0, 3.0}
    assert ((timestamps >= 0) & (timestamps < probe_video(bikes).duration)).all()
    assert set(rows.video_ids.tolist()) == {"bikes"}
    assert rows.action_ids.min() >= 1 and rows.action_ids.max() <= 80
    for result in results:
        if not len(result.boxes):
            continue
        np.testing.assert_allclose(result.boxes, KEPT[int(result.timestamp)], atol=1e-6)
        here = timestamps == float(result.timestamp)
        for box, scores in zip(result.boxes, result.action_scores):
            mine = here & np.all(np.abs(rows.boxes - box) < 1e-4, axis=1)
            assert sorted(rows.action_ids[mine].tolist()) == (np.flatnonzero(scores > 0.5) + 1).tolist()
            np.testing.assert_allclose(rows.scores[mine], scores[rows.action_ids[mine] - 1], atol=6e-5)

    records = json.loads((tmp_path / "actions.json").read_text())["keyframes"]
    assert [len(record["persons"]) for record in records] == [1, 0, 2, 1]
    top = records[2]["persons"][1]["actions"]
    expected = np.argsort(-results[2].action_scores[1], kind="stable")[:2]
    assert [action["action_id"] for action in top] == [i + 1 for i in expected if results[2].action_scores[1][i] > 0.5]

    # Annotated video: the input's frame count, size and rate; pixels differ from the input inside drawn boxes only.
    source, size = decode_rgb(bikes)
    drawn, drawn_size = decode_rgb(annotated)
    assert len(drawn) == len(source) == BIKES_FRAMES and drawn_size == size == (BIKES_WIDTH, BIKES_HEIGHT)
    with av.open(str(annotated)) as container:
        assert container.streams.video[0].average_rate == 25
    changed_frames = 0
    for index, (before, after) in enumerate(zip(source, drawn)):
        seconds = index // 25  # 25 fps, keyframes every second: frame index shows keyframe floor(index / 25)
        boxes = np.array(KEPT.get(seconds, []) if seconds < 4 else []).reshape(-1, 4)
        differs = (before != after).any(axis=-1)
        assert not (differs & ~box_mask(boxes, BIKES_WIDTH, BIKES_HEIGHT)).any(), f"frame {index} changed outside its boxes"
        if len(boxes):
            assert differs.any(), f"frame {index}: nothing drawn"
            changed_frames += 1
    assert changed_frames == 3 * 25


def test_csv_proposals_and_pipeline_match_pickle(bikes, model_folder, proposals_pkl, tmp_path):
    from transformers import pipeline

    import videomae_action_detection.processing.pipeline_video_action_detection  # noqa: F401

    csv_path = tmp_path / "proposals.csv"
    lines = []
    for key, boxes in PROPOSALS.items():
        for box in boxes:
            text = ",".join(f"{value:.2f}" for value in box[:4])
            lines += [f"{key},{text},12,{box[4]}", f"{key},{text},14,{box[4] - 0.1:.2f}"]  # one box, two actions
    csv_path.write_text("\n".join(lines) + "\n")

    detector = pipeline("video-action-detection", model=model_folder)
    from_pickle = detector(bikes, proposals=proposals_pkl, end=4, short_side=64, progress=False, top_k=None)
    from_csv = detector(bikes, proposals=str(csv_path), end=4, short_side=64, progress=False, top_k=None,
                        batch_size=3, return_results=True)
    assert [len(record["persons"]) for record in from_pickle] == [1, 0, 2, 1]
    import av

    with av.open(bikes) as container:
        width, height = container.streams.video[0].width, container.streams.video[0].height
    for record, result in zip(from_pickle, from_csv):
        assert record["timestamp"] == result.timestamp
        np.testing.assert_allclose(np.array([p["box"] for p in record["persons"]]).reshape(-1, 4), result.boxes, atol=1e-6)
        for person, scores in zip(record["persons"], result.action_scores):
            x1, y1, x2, y2 = person["box"]
            assert person["pixel_box"] == pytest.approx({"xmin": x1 * width, "ymin": y1 * height, "xmax": x2 * width,
                                                         "ymax": y2 * height})
            assert len(person["actions"]) == 80  # top_k=None, threshold 0: every action, best first
            np.testing.assert_allclose([a["score"] for a in person["actions"]], np.sort(scores)[::-1], atol=1e-5)


def _tiny_detr(folder, person_bias: float, box=(0.30, 0.50, 0.20, 0.60)):
    """A tiny random DETR (ResNet backbone built locally, nothing downloaded) whose every query predicts one fixed box:
    the class head's weights are zeroed and its bias favours "person" (`person_bias` > 0) or "bicycle"; the box
    head's last layer is zeroed with bias logit(cx, cy, w, h), so every query outputs `box`."""
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    torch.manual_seed(0)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", out_features=["stage2"])
    config = DetrConfig(
        use_timm_backbone=False, backbone_config=backbone, use_pretrained_backbone=False, d_model=16, encoder_layers=1,
        decoder_layers=1, encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2,
        num_queries=3, id2label={0: "bicycle", 1: "person"}, label2id={"bicycle": 0, "person": 1},
    )
    model = DetrForObjectDetection(config).eval()
    with torch.no_grad():
        model.class_labels_classifier.weight.zero_()
        model.class_labels_classifier.bias.copy_(torch.tensor([0.0, person_bias, 0.0]))
        last = model.bbox_predictor.layers[-1]
        last.weight.zero_()
        last.bias.copy_(torch.logit(torch.tensor(box)))
    model.save_pretrained(folder)
    DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 128}).save_pretrained(folder)
    return str(folder)


def test_object_detector_person_boxes(bikes, model_folder, tmp_path):
    detr = _tiny_detr(tmp_path / "detr", person_bias=8.0)
    code = main([bikes, "--model", model_folder, "--detector", detr, "--end", "2", "--short_side", "64",
                 "--output_dir", str(tmp_path / "out"), "--no_progress", "--action_threshold", "0.3",
                 "--output_video", str(tmp_path / "out" / "annotated.mp4")])
    assert code == 0
    with av.open(str(tmp_path / "out" / "annotated.mp4")) as container:  # default (lossy libx264 yuv420p) encoding
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.pix_fmt) == ("h264", "yuv420p")
        assert sum(1 for _ in container.decode(stream)) == BIKES_FRAMES and (stream.width, stream.height) == (640, 272)
    rows = read_ava_csv(tmp_path / "out" / "actions.csv")
    # cx 0.3, cy 0.5, w 0.2, h 0.6 -> x1 0.2, y1 0.2, x2 0.4, y2 0.8 (normalised), from the detector.
    assert rows.num_rows > 0
    np.testing.assert_allclose(rows.boxes, np.tile([0.2, 0.2, 0.4, 0.8], (rows.num_rows, 1)), atol=2e-4)
    assert set(rows.timestamps[rows.timestamp_index].tolist()) == {"0000", "0001"}

    records = json.loads((tmp_path / "out" / "actions.json").read_text())["keyframes"]
    assert [len(record["persons"]) for record in records] == [3, 3]  # 3 queries, all confident persons
    assert all(person["person_score"] > 0.99 for record in records for person in record["persons"])

    # No person found (the detector only sees bicycles): no rows, no clip read, no crash.
    no_person = ObjectDetectorBoxes(_tiny_detr(tmp_path / "detr_bikes", person_bias=-8.0))
    model, processor = load_action_detector(model_folder)
    timings = Timings()
    results = list(detect_actions(bikes, model, processor, no_person, end=2, person_threshold=0.5, progress=False,
                                  timings=timings))
    assert [len(result.boxes) for result in results] == [0, 0] and timings.clips == 0
    paths = write_outputs(results, tmp_path / "empty", bikes)
    assert read_ava_csv(paths.csv).num_rows == 0

    with pytest.raises(ValueError, match="no label named 'pedestrian'"):
        ObjectDetectorBoxes(detr, person_label="pedestrian")


def test_short_video_is_clamped_like_the_sampler(model_folder, tmp_path):
    """A video shorter than one clip (12 frames, 0.4 s, vs 4 x 4 ticks = 0.53 s): one keyframe at 0 s whose clip
    repeats the first and last frames, exactly as `read_clip` clamps."""
    video = write_synthetic_video(tmp_path / "short.mp4", 12, width=64, height=48, fps=30)
    proposals = tmp_path / "short.csv"
    proposals.write_text("short,0000,0.1,0.1,0.9,0.9\n")
    model, processor = load_action_detector(model_folder)
    results = list(detect_actions(video, model, processor, ProposalsFile(proposals), short_side=64, progress=False))
    assert len(results) == 1 and results[0].action_scores.shape == (1, 80)

    clip, numbers = read_clip(str(video), 0, timestamp_start=0, video_start=0, fps=30, clip_len=4, frame_interval=4)
    assert numbers.tolist() == [1, 1, 1, 4]  # centre 0: -8, -4, 0, 4 clamped to >= 1
    inputs = processor(clip[None], boxes=[np.array([[0.1, 0.1, 0.9, 0.9]])], return_tensors="pt", size={"shortest_edge": 64})
    with torch.no_grad():
        expected = model(**inputs).logits[0].sigmoid().numpy()
    np.testing.assert_allclose(results[0].action_scores, expected, atol=1e-6)


def test_bad_videos(model_folder, proposals_pkl, tmp_path, capsys):
    model, processor = load_action_detector(model_folder)
    missing = tmp_path / "missing.mp4"
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        list(detect_actions(missing, model, processor, ProposalsFile(proposals_pkl), progress=False))
    corrupt = tmp_path / "bikes.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="bikes.mp4"):
        list(detect_actions(corrupt, model, processor, ProposalsFile(proposals_pkl), progress=False))
    assert main([str(corrupt), "--model", model_folder, "--proposals", proposals_pkl, "--no_progress",
                 "--output_dir", str(tmp_path)]) == 2
    assert f"error: cannot open video file {corrupt}" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no boxes for video id 'other'"):
        list(detect_actions(fixture_path("videos", "bikes.mp4"), model, processor, ProposalsFile(proposals_pkl),
                            video_id="other", progress=False))


def test_batches_stream_and_bf16(bikes, model_folder, proposals_pkl, monkeypatch):
    """Clips are read one batch at a time (the first result comes after `batch_size` clips, not all of them); bf16
    gives the fp32 scores to bf16 precision."""
    import videomae_action_detection.processing.keyframe_actions as core

    reads = []
    original = core.read_clips
    monkeypatch.setattr(core, "read_clips", lambda *args, **kwargs: reads.extend(args[1]) or original(*args, **kwargs))
    model, processor = load_action_detector(model_folder)
    stream = detect_actions(bikes, model, processor, ProposalsFile(proposals_pkl), end=4, batch_size=2,
                            short_side=64, progress=False)
    first = next(stream)
    assert reads == [0]  # batch {0 s, 1 s}: 1 s has no person, so one clip
    rest = list(stream)
    assert reads == [0, 2, 3] and len(rest) == 3

    model_bf16, _ = load_action_detector(model_folder, dtype="bf16")
    assert next(model_bf16.parameters()).dtype == torch.bfloat16
    half = list(detect_actions(bikes, model_bf16, processor, ProposalsFile(proposals_pkl), end=1, short_side=64,
                               progress=False))
    np.testing.assert_allclose(half[0].action_scores, first.action_scores, atol=0.03)


# ------------------------------------------------------------------------------------------------ the pipeline
# Person boxes given directly, per keyframe second: 0 s two persons (one with a score), 1 s none, 2 s one.
GIVEN_BOXES = {0: [[0.10, 0.20, 0.45, 0.95], [0.55, 0.10, 0.90, 0.80]], 2: [[0.20, 0.15, 0.60, 0.90, 0.95]]}


def test_pipeline_takes_a_video_as_frames_at_their_fps(model_folder, tmp_path):
    """PIL images or (H, W, 3) arrays at a stated fps give exactly the records of the video file they were decoded
    from (a 25-fps video: timeline frame k is the last frame shown at (k - 1) / 30 s in both)."""
    from PIL import Image
    from transformers import pipeline

    video = write_synthetic_video(tmp_path / "clip.mp4", 75, width=64, height=48, fps=25)
    frames, _ = decode_rgb(video)
    detector = pipeline("video-action-detection", model=model_folder)
    settings = dict(person_boxes=GIVEN_BOXES, short_side=64, top_k=None, person_threshold=0.5)
    from_file = detector(str(video), **settings)
    assert [record["timestamp"] for record in from_file] == [0, 1, 2]
    assert [len(record["persons"]) for record in from_file] == [2, 0, 1]
    assert from_file[2]["persons"][0]["person_score"] == pytest.approx(0.95)
    assert from_file[0]["persons"][1]["pixel_box"] == pytest.approx({"xmin": 0.55 * 64, "ymin": 0.10 * 48,
                                                                     "xmax": 0.90 * 64, "ymax": 0.80 * 48})
    assert detector(frames, fps=25, **settings) == from_file
    assert detector([Image.fromarray(frame) for frame in frames], fps=25, **settings) == from_file
    # other rates sample other frames: the records differ (the frames are taken at their stated times)
    assert detector(frames, fps=30, **settings) != from_file

    with pytest.raises(ValueError, match="needs its frame rate: pass fps="):
        detector(frames, **settings)
    with pytest.raises(ValueError, match="fps= is for a video given as frames"):
        detector(str(video), fps=25, **settings)
    with pytest.raises(ValueError, match="boxes at 0.5 s, which is not a keyframe"):
        detector(frames, fps=25, person_boxes={0.5: [[0.1, 0.1, 0.5, 0.5]]})
    with pytest.raises(ValueError, match=r"person_boxes\[0\]: a box has x2 < x1"):
        detector(frames, fps=25, person_boxes={0: [[0.5, 0.1, 0.1, 0.5]]})
    with pytest.raises(ValueError, match="exactly one of `person_boxes`"):
        detector(frames, fps=25)


def test_pipeline_runs_as_remote_code_where_the_package_is_not_installed(tmp_path):
    """A folder saved as the converter and the finetuning script save it (model, processor, `add_pipeline_code`)
    gives, through `pipeline(..., trust_remote_code=True)` in a process that cannot import this package, the records
    of the installed package's pipeline, from a file and from frames."""
    from transformers import pipeline

    from conftest import run_without_package
    from videomae_action_detection.modeling import VideoMAEForActionDetection
    from videomae_action_detection.processing import ava_video_processor
    from videomae_action_detection.processing.inference.pipeline import VideoActionDetectionPipeline, add_pipeline_code

    torch.manual_seed(0)
    folder = tmp_path / "detector"
    model = VideoMAEForActionDetection(tiny_config()).eval()
    model.save_pretrained(folder)
    ava_video_processor(model.config, size={"shortest_edge": 64}).save_pretrained(folder)
    saved = json.loads((folder / "config.json").read_text())
    add_pipeline_code(folder)
    config = json.loads((folder / "config.json").read_text())
    # save_pretrained's layout is kept: the same fields in the same order (id2label numerically), plus the pipeline
    assert [key for key in config if key != "custom_pipelines"] == list(saved)
    assert list(config["id2label"]) == list(saved["id2label"]) == [str(index) for index in range(80)]
    assert config["custom_pipelines"] == {"video-action-detection": {
        "impl": "pipeline_video_action_detection.VideoActionDetectionPipeline", "pt": ["AutoModel"], "type": "video"}}
    assert {"pipeline_video_action_detection.py", "keyframe_actions.py", "person_boxes.py", "video_keyframes.py",
            "clip_reader.py"} <= {path.name for path in folder.iterdir()}
    video = write_synthetic_video(tmp_path / "clip.mp4", 75, width=64, height=48, fps=25)
    # A folder declaring its pipeline asks for trust_remote_code; the installed package's class is given explicitly.
    installed = pipeline("video-action-detection", model=str(folder), pipeline_class=VideoActionDetectionPipeline)(
        str(video), person_boxes=GIVEN_BOXES, top_k=5)

    result = run_without_package(
        f"""
        import json
        import av
        from transformers import pipeline
        detector = pipeline(model={str(folder)!r}, trust_remote_code=True)  # the task comes from custom_pipelines
        boxes = {{int(key): value for key, value in json.loads({json.dumps(GIVEN_BOXES)!r}).items()}}
        with av.open({str(video)!r}) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        print("RESULT " + json.dumps({{
            "class": type(detector).__module__,
            "file": detector({str(video)!r}, person_boxes=boxes, top_k=5),
            "frames": detector(frames, fps=25, person_boxes=boxes, top_k=5),
        }}))
        """
    )
    remote = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert remote["class"].startswith("transformers_modules.")
    assert remote["file"] == remote["frames"] == json.loads(json.dumps(installed))
    assert [len(record["persons"]) for record in installed] == [2, 0, 1]


def test_cli_writes_the_models_own_action_ids_and_names(bikes, proposals_pkl, tmp_path):
    """A model of 3 actions (AVA ids 12, 14, 79): the CSV and the JSON give those ids and names, not column + 1."""
    from videomae_action_detection.modeling import VideoMAEForActionDetection

    torch.manual_seed(0)
    names = {0: "stand", 1: "walk", 2: "talk to"}
    config = tiny_config(id2label=names, action_ids=[12, 14, 79])
    VideoMAEForActionDetection(config).eval().save_pretrained(tmp_path / "model")
    assert main([bikes, "--model", str(tmp_path / "model"), "--proposals", proposals_pkl, "--end", "1", "--short_side",
                 "64", "--action_threshold", "0", "--label_threshold", "0", "--top_k", "3", "--output_dir",
                 str(tmp_path), "--no_progress"]) == 0
    rows = read_ava_csv(tmp_path / "actions.csv")
    assert rows.num_rows == 3 and sorted(rows.action_ids.tolist()) == [12, 14, 79]
    (person,) = json.loads((tmp_path / "actions.json").read_text())["keyframes"][0]["persons"]
    assert {(action["action_id"], action["label"]) for action in person["actions"]} == {
        (12, "stand"), (14, "walk"), (79, "talk to")}


def test_write_outputs_takes_its_action_ids_from_the_labels_given(tmp_path):
    """`write_outputs` defaults to the 80 AVA actions only when the labels given are AVA's: a model of 3 actions
    needs its `action_ids`; labels, ids and score columns that disagree are a ValueError naming the argument."""
    from videomae_action_detection.modeling import ava_id2label
    from videomae_action_detection.processing.keyframe_actions import KeyframeResult

    def result(columns):
        return KeyframeResult(timestamp=Fraction(2), boxes=np.array([[0.1, 0.2, 0.5, 0.9]]),
                              person_scores=np.array([0.95]),
                              action_scores=np.linspace(0.3, 0.9, columns, dtype=np.float32)[None])

    names = {0: "stand", 1: "walk", 2: "talk to"}
    paths = write_outputs([result(3)], tmp_path / "own", "bikes.mp4", id2label=names, action_ids=[12, 14, 79],
                          action_threshold=0.0)
    assert sorted(read_ava_csv(paths.csv).action_ids.tolist()) == [12, 14, 79]
    (person,) = json.loads(paths.json.read_text())["keyframes"][0]["persons"]
    assert [(a["action_id"], a["label"]) for a in person["actions"]] == [(79, "talk to"), (14, "walk"), (12, "stand")]

    # AVA's labels, given or not, mean ids 1..80
    for given in ({}, {"id2label": ava_id2label()}, {"action_ids": range(1, 81)}):
        paths = write_outputs([result(80)], tmp_path / f"ava{len(given)}{sorted(given)}", "bikes.mp4", **given)
        assert set(read_ava_csv(paths.csv).action_ids.tolist()) == set(range(1, 81))

    with pytest.raises(ValueError, match=r"action_ids is None, which means the 80 AVA actions, but id2label names 3"):
        write_outputs([result(3)], tmp_path / "a", "bikes.mp4", id2label=names)
    with pytest.raises(ValueError, match=r"action_ids is None.*id2label names 3"):  # 80 columns: no silent 1..80
        write_outputs([result(80)], tmp_path / "b", "bikes.mp4", id2label=names)
    with pytest.raises(ValueError, match=r"id2label is None, which means the 80 AVA actions, but action_ids gives 3"):
        write_outputs([result(3)], tmp_path / "c", "bikes.mp4", action_ids=[12, 14, 79])
    with pytest.raises(ValueError, match=r"id2label has 3 labels .*action_ids 2 ids"):
        write_outputs([result(3)], tmp_path / "d", "bikes.mp4", id2label=names, action_ids=[12, 14])
    with pytest.raises(ValueError, match=r"3 action scores per person, but id2label / action_ids describe 80"):
        write_outputs([result(3)], tmp_path / "e", "bikes.mp4")
    assert not any((tmp_path / name).exists() for name in "abcde")  # nothing written


def test_pipeline_progress_bar_over_keyframes(bikes, model_folder, capsys):
    """`progress=True` shows a bar over the keyframes on stderr (transformers' tqdm, so its switch turns it off);
    a callable gets the keyframe count and every keyframe; the default shows none; anything else is a TypeError."""
    from transformers import pipeline
    from transformers.utils import logging as transformers_logging

    import videomae_action_detection.processing  # noqa: F401  (registers the task)

    detector = pipeline("video-action-detection", model=model_folder)
    given = {0: [[0.10, 0.20, 0.45, 0.95]], 2: [[0.20, 0.15, 0.60, 0.90]]}
    settings = dict(person_boxes=given, end=4, short_side=64, batch_size=3)
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.enable_progress_bar()
    try:
        capsys.readouterr()
        records = detector(bikes, progress=True, **settings)
        shown = capsys.readouterr().err
        assert "actions in bikes" in shown and "4/4" in shown and "keyframe" in shown, shown
        assert records == detector(bikes, **settings)  # the bar changes nothing else
        assert "actions in" not in capsys.readouterr().err  # default: no bar
        detector(bikes, progress=False, **settings)
        assert "actions in" not in capsys.readouterr().err
        transformers_logging.disable_progress_bar()
        detector(bikes, progress=True, **settings)
        assert "actions in" not in capsys.readouterr().err
    finally:
        (transformers_logging.enable_progress_bar if was_enabled else transformers_logging.disable_progress_bar)()

    class Recorder:
        def __init__(self, total):
            self.total, self.updates, self.closed = total, [], False
            bars.append(self)

        def update(self, count):
            self.updates.append(count)

        def close(self):
            self.closed = True

    bars = []
    detector(bikes, progress=Recorder, **settings)
    assert [(bar.total, bar.updates, bar.closed) for bar in bars] == [(4, [3, 1], True)]  # batches of 3 keyframes
    with pytest.raises(TypeError, match=r"progress= takes True .* got str"):
        detector(bikes, progress="yes", **settings)
