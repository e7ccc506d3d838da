"""End-to-end keyframes per second of `videomae-action-detection` on a video, split into decode, model and drawing.

    python benchmarks/bench_video_inference.py                                  # tiny + ViT-B on the CPU, bikes.mp4
    python benchmarks/bench_video_inference.py --variants base --keyframes 10 --device cuda --dtype bf16

Person boxes come from a proposals file (two boxes per keyframe), so the person detector costs nothing; the models
have random weights (speed does not depend on them). For each variant:

- decode: reading the keyframes' clips (`read_clip`, PyAV seeking), s;
- model: processor (resize to `--short_side`, normalise) + forward + scores, s;
- drawing: the annotated video (sequential decode + drawing + libx264 encode) of the keyframes' span of the video
  (`keyframes x stride` seconds, from the start), s;
- keyframes/s: keyframes / (decode + model) ("inference") and / (decode + model + drawing) ("with video").
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def trimmed_copy(video: str, seconds: float, folder: str) -> str:
    """The first `seconds` of `video` (stream copy from the start), so that drawing covers the keyframes' span."""
    import av

    output = os.path.join(folder, f"first_{seconds:g}s.mp4")
    with av.open(video) as source, av.open(output, "w") as sink:
        in_stream = source.streams.video[0]
        out_stream = sink.add_stream_from_template(in_stream)
        limit = seconds / float(in_stream.time_base)
        for packet in source.demux(in_stream):
            if packet.dts is None:
                continue
            if packet.pts is not None and packet.pts >= limit and packet.is_keyframe:
                break
            if packet.pts is not None and packet.pts >= limit:
                continue
            packet.stream = out_stream
            sink.mux(packet)
    return output


def run_variant(name: str, args, folder: str) -> dict:
    from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
    from videomae_action_detection.processing import ava_video_processor
    from videomae_action_detection.processing.inference.annotated_video import write_annotated_video
    from videomae_action_detection.processing.inference.model_loading import DTYPES
    from videomae_action_detection.processing.inference.proposals_file import ProposalsFile
    from videomae_action_detection.processing.inference.video_detection import detect_actions
    from videomae_action_detection.processing.keyframe_actions import Timings

    torch.manual_seed(0)
    model = VideoMAEForActionDetection(VideoMAEActionDetectionConfig(**VARIANTS[name])).eval()
    model.to(device=args.device, dtype=DTYPES[args.dtype])
    processor = ava_video_processor(model.config)
    keyframes = args.keyframes if args.keyframes else (10 if name == "tiny" else 2)
    proposals = os.path.join(folder, "proposals.csv")
    with open(proposals, "w") as handle:
        for second in range(keyframes):
            handle.write(f"bench,{second:04d},0.10,0.20,0.45,0.95,1,0.99\n")
            handle.write(f"bench,{second:04d},0.55,0.10,0.90,0.80,1,0.95\n")
    timings = Timings()
    results = list(detect_actions(args.video, model, processor, ProposalsFile(proposals), video_id="bench",
                                  end=keyframes, batch_size=args.batch_size, short_side=args.short_side,
                                  progress=False, timings=timings))
    span = trimmed_copy(args.video, keyframes, folder)
    began = time.perf_counter()
    frames = write_annotated_video(span, os.path.join(folder, f"annotated_{name}.mp4"), results)
    drawing = time.perf_counter() - began
    inference = timings.decode + timings.person_detection + timings.model
    return {
        "variant": name,
        "keyframes": len(results),
        "decode_s": timings.decode,
        "model_s": timings.model,
        "drawing_s": drawing,
        "frames_drawn": frames,
        "kf_per_s_inference": len(results) / inference,
        "kf_per_s_with_video": len(results) / (inference + drawing),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(REPO / "tests" / "fixtures" / "videos" / "bikes.mp4"))
    parser.add_argument("--variants", nargs="+", default=["tiny", "base"], choices=sorted(VARIANTS))
    parser.add_argument("--keyframes", type=int, help="keyframes per variant (default: 10 tiny, 2 ViT-B)")
    parser.add_argument("--short_side", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.variants:
            rows.append(run_variant(name, args, folder))
    print(f"video {args.video}, short side {args.short_side}, {args.device} {args.dtype}, batch {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}")
    header = "| model | keyframes | decode s | model s | drawing s (frames) | keyframes/s inference | keyframes/s with video |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for row in rows:
        print(f"| {row['variant']} | {row['keyframes']} | {row['decode_s']:.2f} | {row['model_s']:.2f} | "
              f"{row['drawing_s']:.2f} ({row['frames_drawn']}) | {row['kf_per_s_inference']:.2f} | "
              f"{row['kf_per_s_with_video']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
