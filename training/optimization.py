"""mmaction2's optimizer recipe for the VideoMAE detectors: layer-wise lr decay groups and the warm-up + cosine schedule.

- Parameter groups follow `LearningRateDecayOptimizerConstructor` (decay_type "layer_wise"): layer id 0 for the
  embeddings, `i + 1` for block `i`, `L + 1` for everything after the blocks (final LayerNorm, action head); a group's
  lr is `base_lr * decay ** (L + 1 - layer_id)`. No weight decay on 1-D parameters and biases.
- The schedule is mmengine's `LinearLR(start_factor=0.1, end=warm-up)` followed by
  `CosineAnnealingLR(eta_min=0, begin=warm-up, end=total)`, both per iteration. Their combined factor at step `t`
  (the lr of the `t`-th optimizer step, counting from 0) is

      t <  W:  s + (1 - s) * t / (W - 1)            (mmengine's LinearLR reaches 1 one step before W)
      t >= W:  (1 + cos(pi * (t - W) / (T - W))) / 2

  for W warm-up steps and T steps in all; it multiplies each group's own lr, so the layer ratios hold throughout.
"""

import math
import re
from functools import partial

import torch
from torch.optim.lr_scheduler import LambdaLR

_BLOCK = re.compile(r"^videomae\.encoder\.layer\.(\d+)\.")


def layer_id(parameter_name: str, num_layers: int) -> int:
    """mmaction2's `get_layer_id_for_vit` on our parameter names: embeddings 0, block i -> i + 1, the rest L + 1."""
    if parameter_name.startswith("videomae.embeddings."):
        return 0
    match = _BLOCK.match(parameter_name)
    if match:
        return int(match.group(1)) + 1
    return num_layers + 1


def takes_weight_decay(parameter_name: str, parameter: torch.Tensor) -> bool:
    """mmaction2: no weight decay for 1-D parameters (norms, biases) and anything named `.bias`."""
    return parameter.ndim > 1 and not parameter_name.endswith(".bias")


def layer_decay_parameter_groups(
    model: torch.nn.Module, learning_rate: float, weight_decay: float, layer_decay: float
) -> list[dict]:
    """Optimizer parameter groups with layer-wise lr decay.

    Args:
        model: a `VideoMAEForActionDetection` (parameter names `videomae.embeddings.*`, `videomae.encoder.layer.N.*`).
        learning_rate: the lr of the last layer id (final norm and head).
        weight_decay: applied to the groups of multi-dimensional weights.
        layer_decay: per-layer lr factor (0.75 for ViT-B, 0.8 for ViT-L in mmaction2's recipe).

    Returns:
        groups named `layer_{id}_{decay|no_decay}` with `params`, `lr`, `weight_decay`, `layer_id`, `lr_scale`,
        in layer order. Frozen parameters are left out.
    """
    num_layers = model.config.num_hidden_layers
    groups: dict[str, dict] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        layer = layer_id(name, num_layers)
        decays = takes_weight_decay(name, parameter)
        key = f"layer_{layer}_{'decay' if decays else 'no_decay'}"
        if key not in groups:
            scale = layer_decay ** (num_layers + 1 - layer)
            groups[key] = {
                "name": key,
                "params": [],
                "param_names": [],
                "lr": learning_rate * scale,
                "weight_decay": weight_decay if decays else 0.0,
                "layer_id": layer,
                "lr_scale": scale,
            }
        groups[key]["params"].append(parameter)
        groups[key]["param_names"].append(name)
    return sorted(groups.values(), key=lambda group: (group["layer_id"], group["name"]))


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, warmup_start_factor: float = 0.1) -> float:
    """The lr factor of optimizer step `step` (0-based) under mmengine's LinearLR + CosineAnnealingLR (see module doc)."""
    if step < warmup_steps:
        if warmup_steps <= 1:
            return 1.0
        return warmup_start_factor + (1.0 - warmup_start_factor) * step / (warmup_steps - 1)
    cosine_steps = max(total_steps - warmup_steps, 1)
    progress = min(step - warmup_steps, cosine_steps) / cosine_steps
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_schedule(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, warmup_start_factor: float = 0.1
) -> LambdaLR:
    """A LambdaLR applying `warmup_cosine_factor` to every group's initial lr."""
    return LambdaLR(
        optimizer,
        partial(warmup_cosine_factor, warmup_steps=warmup_steps, total_steps=total_steps, warmup_start_factor=warmup_start_factor),
    )


def scaled_learning_rate(base_learning_rate: float, base_batch_size: int, total_batch_size: int) -> float:
    """Linear lr scaling: mmaction2's lr is for a total batch of `base_batch_size` (64 = 8 GPUs x 8 clips)."""
    return base_learning_rate * total_batch_size / base_batch_size


__all__ = [
    "layer_id",
    "takes_weight_decay",
    "layer_decay_parameter_groups",
    "warmup_cosine_factor",
    "warmup_cosine_schedule",
    "scaled_learning_rate",
]
