"""The toy preset of the training command: a small model and the settings that train it from scratch on the toy
AVA-format set (`training/data/toy_dataset.py`) in minutes on a CPU, each with the reason it differs from the ViT-B
recipe (printed in the training log)."""

from __future__ import annotations

# The toy preset: what it changes from the ViT-B recipe, and why (printed in the log).
TOY_MODEL_CONFIG = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    num_frames=8,
    image_size=(144, 160),
    drop_path_rate=0.0,
    head_dropout=0.2,
)
TOY_TRAINING = {
    "learning_rate": (3e-3, "a small model trained from scratch takes a larger lr than finetuning a pre-trained ViT-B"),
    "layer_decay": (1.0, "no pre-trained layers to protect: every layer learns at the full lr"),
    "num_train_epochs": (20.0, "20 epochs of the toy set (1500 steps) train it in minutes on 2 CPU cores"),
    "warmup_epochs": (1.0, "a short warm-up suits the short schedule"),
    "per_device_train_batch_size": (8, "small batches: more steps on a small set"),
    "per_device_eval_batch_size": (8, "toy clips share one size, so they batch"),
    "frame_interval": (8, "8 frames 8 apart: the same 64-frame (2.1 s) window as the recipe's 16 x 4, at half the cost"),
    "dataloader_num_workers": (2, "decode clips beside the training process"),
}
TOY_PROCESSOR = dict(size={"shortest_edge": 144}, crop_size={"height": 144, "width": 160}, scale_range=[144, 160])


def apply_toy_preset(flags: set[str], model_args, data_args, training_args) -> list[str]:
    """Set the toy preset's values where the user gave none; returns the log lines saying what and why."""
    lines = []
    for name, (value, why) in TOY_TRAINING.items():
        if name in flags:
            continue
        for arguments in (training_args, data_args, model_args):
            if hasattr(arguments, name):
                setattr(arguments, name, value)
                lines.append(f"  {name} = {value}: {why}")
                break
    return lines
