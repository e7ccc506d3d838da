"""`ActionDetectionTrainer`: the transformers `Trainer` with mmaction2's optimizer and lr schedule, and the choice
between that schedule and the Trainer's own."""

from __future__ import annotations

from pathlib import Path

from transformers import Trainer, TrainingArguments

from .optimization import layer_decay_parameter_groups, warmup_cosine_schedule


def precision_description(training_args: TrainingArguments) -> str:
    """What `--bf16` / `--fp16` mean for this run, for the log: autocast around the forward (training and
    evaluation), with the weights, gradients and AdamW state kept in fp32."""
    if training_args.bf16 or training_args.fp16:
        name = "bf16" if training_args.bf16 else "fp16"
        return f"{name} autocast in training and evaluation; weights, gradients and optimizer state in fp32"
    return "fp32"



# Options that choose the Trainer's own lr schedule instead of the recipe's (warm-up epochs + cosine).
SCHEDULE_FLAGS = ("lr_scheduler_type", "lr_scheduler_kwargs", "warmup_steps")
RECIPE_SCHEDULE_FLAGS = ("warmup_epochs", "warmup_start_factor")


def uses_recipe_schedule(flags: set[str]) -> bool:
    """True unless the command line chose a Trainer schedule (`--lr_scheduler_type`, `--lr_scheduler_kwargs`,
    `--warmup_steps`); mixing those with the recipe's `--warmup_epochs` / `--warmup_start_factor` is an error."""
    chosen = sorted(flag for flag in SCHEDULE_FLAGS if flag in flags)
    recipe = sorted(flag for flag in RECIPE_SCHEDULE_FLAGS if flag in flags)
    if chosen and recipe:
        raise ValueError(f"--{recipe[0]} sets the recipe's schedule, --{chosen[0]} the Trainer's: give one of them "
                         "(with --lr_scheduler_type, set the warm-up with --warmup_steps, an int or a ratio < 1)")
    return not chosen


class ActionDetectionTrainer(Trainer):
    """`Trainer` with mmaction2's optimizer (AdamW over layer-wise lr decay groups, no weight decay on 1-D
    parameters and biases) and schedule (linear warm-up from `warmup_start_factor`, then cosine to 0, per step).

    The optimizer class and its settings come from `Trainer.get_optimizer_cls_and_kwargs` (`--optim`, `--optim_args`,
    betas, eps), always over the layer-decay groups. With `recipe_schedule=False` the schedule is the Trainer's own
    (`--lr_scheduler_type`, `--lr_scheduler_kwargs`, `--warmup_steps`)."""

    def __init__(self, *args, layer_decay: float = 0.75, card_builder=None, recipe_schedule: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.layer_decay = layer_decay
        self.card_builder = card_builder
        self.recipe_schedule = recipe_schedule

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            model = self.model if model is None else model
            groups = layer_decay_parameter_groups(model, self.args.learning_rate, self.args.weight_decay,
                                                  self.layer_decay)
            for group in groups:
                group.pop("param_names")  # names stay out of the optimizer's state dict
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            if "params" in optimizer_kwargs or "model" in optimizer_kwargs:
                raise ValueError(f"--optim {self.args.optim} builds its own parameter groups, which would drop the "
                                 "layer-wise lr decay; choose another optimizer")
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def warmup_steps(self, num_training_steps: int) -> int:
        """Warm-up steps: `warmup_epochs` of the `num_train_epochs` (or that fraction of `max_steps`)."""
        epochs = self.args.num_train_epochs
        return int(round(num_training_steps * min(self.args.warmup_epochs, epochs) / epochs)) if epochs > 0 else 0

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if not self.recipe_schedule:
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            optimizer = self.optimizer if optimizer is None else optimizer
            self.lr_scheduler = warmup_cosine_schedule(
                optimizer, self.warmup_steps(num_training_steps), num_training_steps, self.args.warmup_start_factor
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def compute_loss(self, model, inputs, *args, **kwargs):
        # `example_index` travels with the batch for the evaluation's gathering (a label name), not into the model.
        inputs = {name: value for name, value in inputs.items() if name != "example_index"}
        return super().compute_loss(model, inputs, *args, **kwargs)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        # Only the padded logits are gathered; boxes_mask is implied by the eval set's proposals.
        ignore_keys = ignore_keys or ["boxes_mask", "feature_map", "hidden_states"]
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    def create_model_card(self, *args, **kwargs):
        """Writes this project's card (model-index with the measured mAP) instead of the Trainer's draft."""
        if self.card_builder is not None and self.is_world_process_zero():
            self.card_builder(Path(self.args.output_dir))
