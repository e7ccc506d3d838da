"""Training-step throughput (clips/s) of VideoMAEForActionDetection: forward with the loss, backward, gradient
clipping and an AdamW step over the layer-decay groups, as the training script runs them.

    python benchmarks/bench_train_step.py                          # toy preset, tests' tiny config, ViT-B; CPU
    python benchmarks/bench_train_step.py --configs base --device cuda --batch_size 8 --steps 10

Inputs are random clips with 3 proposals and 2 ground-truth boxes per clip (speed does not depend on the values):
the toy preset at its 8 x 144 x 160 input, the tests' tiny config at 4 x 96 x 96, ViT-B and ViT-L at the recipe's
16 x 256 x 256 training crop. `--data` also times reading + processing one toy clip (decode with PyAV, training
augmentation), the work of a DataLoader worker.
"""

import argparse
import time

import torch

CONFIGS = {
    # name: (config fields, (frames, height, width), default batch size)
    "toy": (dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, num_frames=8,
                 image_size=(144, 160), drop_path_rate=0.0, head_dropout=0.2), (8, 144, 160), 8),
    "tiny": (dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, num_frames=4,
                  image_size=(96, 96), drop_path_rate=0.0), (4, 96, 96), 4),
    "base": (dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
             (16, 256, 256), 1),
    "large": (dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
              (16, 256, 256), 1),
}


def bench_config(name: str, batch_size: int | None, steps: int, warmup: int, device: str) -> dict:
    from videomae_action_detection.modeling import VideoMAEActionDetectionConfig, VideoMAEForActionDetection
    from videomae_action_detection.training.optimization import layer_decay_parameter_groups

    fields, (frames, height, width), default_batch = CONFIGS[name]
    batch_size = batch_size or default_batch
    torch.manual_seed(0)
    model = VideoMAEForActionDetection(VideoMAEActionDetectionConfig(**fields)).to(device).train()
    groups = layer_decay_parameter_groups(model, 1e-4, 0.05, 0.75)
    for group in groups:
        group.pop("param_names")
    optimizer = torch.optim.AdamW(groups, lr=1e-4)
    pixel_values = torch.randn(batch_size, frames, 3, height, width, device=device)
    scale = torch.tensor([width, height, width, height], dtype=torch.float32, device=device)
    boxes = torch.tensor([[0.1, 0.1, 0.3, 0.6], [0.5, 0.2, 0.7, 0.9], [0.05, 0.5, 0.4, 0.95]], device=device) * scale
    gt_boxes = boxes[:2] + 1.0
    labels = torch.zeros(2, 80, device=device)
    labels[0, 11] = labels[1, 13] = labels[1, 16] = 1
    inputs = dict(pixel_values=pixel_values, boxes=boxes.expand(batch_size, 3, 4), gt_boxes=gt_boxes.expand(batch_size, 2, 4),
                  labels=labels.expand(batch_size, 2, 80))

    def step():
        loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 40.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - started) / steps
    parameters = sum(p.numel() for p in model.parameters())
    return dict(config=name, input=f"{frames}x{height}x{width}", batch=batch_size, params=parameters,
                step_s=seconds, clips_per_s=batch_size / seconds)


def bench_data(repeats: int = 20) -> dict:
    """Seconds to read and process one toy training clip (what a DataLoader worker does per clip), 1 thread."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from videomae_action_detection.processing import ava_video_processor, read_clip
    from videomae_action_detection.training.toy_preset import TOY_PROCESSOR
    from videomae_action_detection.training.data.toy_dataset import generate_toy_dataset

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        root = generate_toy_dataset(Path(folder) / "toy", seed=0, train_videos=2, val_videos=1)
        video = sorted((root / "videos").glob("*.mp4"))[0]
        processor = ava_video_processor(**TOY_PROCESSOR)
        generator = np.random.default_rng(0)
        boxes = np.array([[0.1, 0.1, 0.3, 0.6], [0.5, 0.2, 0.7, 0.9]])
        started = time.perf_counter()
        for _ in range(repeats):
            clip, _ = read_clip(video, 902, timestamp_start=900, video_start=900, clip_len=8, frame_interval=8,
                                train=True, generator=generator)
            processor(clip, boxes=[boxes], gt_boxes=[boxes], do_train_augmentation=True, generator=generator,
                      return_tensors=None)
        return dict(seconds_per_clip=(time.perf_counter() - started) / repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["toy", "tiny", "base"], choices=sorted(CONFIGS))
    parser.add_argument("--batch_size", type=int, default=None, help="default: 8 toy, 4 tiny, 1 ViT-B / ViT-L")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 10, 2 for ViT-B / ViT-L)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--data", action="store_true", help="also time reading + processing one toy clip")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}")
    print(f"{'config':<7} {'input':>12} {'batch':>5} {'params':>11} {'s/step':>8} {'clips/s':>8}")
    for name in args.configs:
        steps = args.steps or (2 if name in ("base", "large") else 10)
        row = bench_config(name, args.batch_size, steps, args.warmup, args.device)
        print(f"{row['config']:<7} {row['input']:>12} {row['batch']:>5} {row['params']:>11,} {row['step_s']:>8.3f} "
              f"{row['clips_per_s']:>8.2f}", flush=True)
    if args.data:
        print(f"toy clip read + training transform: {1000 * bench_data()['seconds_per_clip']:.1f} ms per clip (1 thread)")


if __name__ == "__main__":
    main()
