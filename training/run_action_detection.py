"""Finetune `VideoMAEForActionDetection` on AVA / AVA-Kinetics with the transformers `Trainer`, evaluate frame-mAP each
epoch, and save a Hub-ready folder (model, video processor, model card with the measured mAP).

    # no arguments: generate the toy AVA-format set (once, into a cache folder), train a small model on the CPU
    python -m videomae_action_detection.training.run_action_detection
    # the mmaction2 ViT-B recipe on AVA (8 GPUs x 8 clips; lr 1.25e-4 for a total batch of 64, scaled linearly)
    torchrun --nproc_per_node 8 -m videomae_action_detection.training.run_action_detection \
        --model_name_or_path <VideoMAE K400 checkpoint or detection folder> --data_dir /data/ava \
        --output_dir videomae-base-ava --dataloader_num_workers 8

Arguments (`arguments.py`): `ModelArguments`, `DataArguments` and `ActionDetectionTrainingArguments` (transformers'
`TrainingArguments` with mmaction2's recipe as defaults: AdamW, weight decay 0.05 with none on biases, norms and 1-D
parameters, layer-wise lr decay, 5 linear warm-up epochs from 0.1x then a cosine to 0 over the other 15 of 20
epochs, per iteration, gradient clipping at norm 40; evaluation and a checkpoint every epoch).

Data: each example is one annotated keyframe of the `ava` / `ava_kinetics` builder (`training/data/ava_dataset.py`).
Its clip is read in the DataLoader workers (`read_clip`, training sampling with random frame offsets for training;
in evaluation a batch's keyframes of one video are read together with `read_clips`: one open, one forward decode per
run of overlapping clips), then the video processor applies the training augmentation (random rescale, crop, flip) or the evaluation resize.
Training boxes are the person proposals (score >= 0.9, else the best one; mmaction2's rule) plus the ground truth,
which the model adds itself; evaluation scores every proposal of every keyframe exactly once.

This file is the command (`main`, `console_main`); the pieces it puts together are library modules beside it:
`model_setup.py` (model, processor), `toy_preset.py`, `clip_dataset.py` (dataset, collator), `trainer.py`,
`frame_map_evaluation.py` (`compute_metrics`) and `report.py` (summary, AP chart).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # Run as a file (`python training/run_action_detection.py`, `torchrun training/run_action_detection.py`): run the
    # installed module instead, whose relative imports resolve.
    import runpy

    runpy.run_module("videomae_action_detection.training.run_action_detection", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import torch
from transformers import set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..processing.formats.ava_files import read_label_map, write_detections_csv
from ..processing.inference.pipeline import add_pipeline_code
from .arguments import parse_arguments
from .evaluation.ava_protocols import get_protocol
from .clip_dataset import AVAClipDataset, collate_action_detection, load_examples
from .frame_map_evaluation import AVAFrameMapEvaluation
from .model_setup import build_model, build_processor, hub_base_model
from .optimization import scaled_learning_rate
from .recipe import VIT_BASE, DetectionRecipe, recipe_for_architecture
from .report import save_ap_chart, summary_table
from .toy_preset import TOY_TRAINING, apply_toy_preset
from .trainer import ActionDetectionTrainer, precision_description, uses_recipe_schedule

logger = logging.getLogger("videomae_action_detection.train")


def main(argv: list[str] | None = None) -> dict:
    """Train and evaluate; returns the final evaluation metrics."""
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    model_args, data_args, training_args, flags = parse_arguments(argv)
    recipe_schedule = uses_recipe_schedule(flags)
    log_level = training_args.get_process_log_level() if {"log_level", "log_level_replica"} & flags else None
    if log_level is None:
        log_level = logging.INFO if training_args.process_index == 0 else logging.WARNING
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=log_level)
    logger.setLevel(log_level)

    toy = data_args.data_dir is None
    if toy:
        from .data.toy_dataset import default_toy_dataset_dir, generate_toy_dataset

        data_args.data_dir = str(data_args.toy_data_dir or default_toy_dataset_dir(data_args.toy_seed))
        preset_lines = apply_toy_preset(flags, model_args, data_args, training_args)
        with training_args.main_process_first(desc="toy data set"):
            generate_toy_dataset(data_args.data_dir, seed=data_args.toy_seed)  # reuses a complete existing one
        logger.info(f"toy data set: {data_args.data_dir}")
        if preset_lines:
            logger.info("toy preset (the recipe defaults are for ViT-B on 8 GPUs); values used:\n"
                        + "\n".join(preset_lines))
    set_seed(training_args.seed)
    if training_args.dataloader_pin_memory and not torch.cuda.is_available():
        training_args.dataloader_pin_memory = False  # nothing to pin for on a CPU-only machine

    training_label_map = read_label_map(data_args.label_map) if data_args.label_map else None
    model = build_model(model_args, toy, training_label_map, data_args.label_map)
    config = model.config
    if not config.is_ava_vocabulary:
        logger.info(f"the model learns {config.num_labels} actions: " + ", ".join(
            f"{config.id2label[index]} ({action_id})" for index, action_id in enumerate(config.label_action_ids)))
    recipe: DetectionRecipe | None = recipe_for_architecture(config.hidden_size, config.num_hidden_layers,
                                                             config.num_attention_heads, config.intermediate_size)
    layer_decay = model_args.layer_decay
    if layer_decay is None:
        layer_decay = recipe.layer_decay if recipe is not None else VIT_BASE.layer_decay
    # Every process says where it runs (a warning, so that the other ranks print it too).
    (logger.warning if training_args.world_size > 1 else logger.info)(
        f"process {training_args.process_index} of {training_args.world_size} "
        f"({training_args.parallel_mode.value}, device {training_args.device})")
    logger.info(f"precision: {precision_description(training_args)}")
    total_batch = (training_args.per_device_train_batch_size * training_args.world_size
                   * training_args.gradient_accumulation_steps)
    if "learning_rate" not in flags and not (toy and "learning_rate" in TOY_TRAINING):
        training_args.learning_rate = scaled_learning_rate(training_args.base_learning_rate,
                                                           training_args.base_batch_size, total_batch)
        logger.info(f"learning rate {training_args.learning_rate:.4g} = {training_args.base_learning_rate:g} x "
                    f"total batch {total_batch} / {training_args.base_batch_size} (linear scaling)")
    else:
        logger.info(f"learning rate {training_args.learning_rate:.4g} for a total batch of {total_batch}")
    schedule = (f"warm-up {training_args.warmup_epochs} epochs from {training_args.warmup_start_factor}x, cosine to 0 "
                f"at {training_args.num_train_epochs} epochs" if recipe_schedule else
                f"the Trainer's {training_args.lr_scheduler_type} schedule ({training_args.lr_scheduler_kwargs or {}}, "
                f"warm-up steps {training_args.warmup_steps})")
    logger.info(f"optimizer {training_args.optim} over layer-wise lr decay {layer_decay} groups, weight decay "
                f"{training_args.weight_decay}, {schedule}, gradient clipping {training_args.max_grad_norm}, "
                f"stochastic depth {config.drop_path_rate}")

    processor = build_processor(model_args, data_args, model, toy)
    processor.id2label = {int(index): name for index, name in config.id2label.items()}  # the model's outputs
    processor.action_ids = config.action_ids
    train_examples, eval_examples = load_examples(data_args)
    common = dict(clip_len=config.num_frames, frame_interval=data_args.frame_interval,
                  label_action_ids=config.label_action_ids, seed=training_args.seed,
                  slow_clip_seconds=data_args.slow_clip_seconds)
    train_dataset = AVAClipDataset(train_examples, processor, train=True, **common)
    eval_dataset = AVAClipDataset(eval_examples, processor, train=False, **common)

    annotations = Path(data_args.data_dir) / "annotations"
    label_map_file = (data_args.label_map_file or data_args.label_map
                      or annotations / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")
    label_map = read_label_map(label_map_file)
    not_scored = sorted(set(label_map) - set(config.label_action_ids))
    if not_scored:
        raise ValueError(f"the evaluated classes of {label_map_file} include action ids {not_scored} that the model "
                         f"does not score (its actions: {config.label_action_ids}); pass --label_map_file with a "
                         "subset of them")
    excluded = annotations / "ava_val_excluded_timestamps_v2.2.csv"
    evaluation = AVAFrameMapEvaluation(eval_dataset, label_map, data_args.evaluation_protocol,
                                       str(excluded) if excluded.exists() else None,
                                       label_action_ids=config.label_action_ids)

    # Gathered in evaluation besides the logits: the labels (so that the loss is computed) and the example index.
    training_args.label_names = ["labels", "example_index"]
    results: list = []
    figures: list[tuple[str, str]] = []  # (file in the output folder, caption) linked from the model card

    def write_card(folder: Path):
        from .publishing.model_card import DATASETS, build_model_card, write_model_card

        name = Path(training_args.output_dir).name
        notes = (f"Trained with `training/run_action_detection.py` ({'toy data set' if toy else data_args.data_dir}, "
                 f"config `{data_args.dataset_config_name}`): {training_args.num_train_epochs:g} epochs, total batch "
                 f"{total_batch}, lr {training_args.learning_rate:.4g}, layer decay {layer_decay}, weight decay "
                 f"{training_args.weight_decay}, {training_args.warmup_epochs:g} warm-up epochs, clip "
                 f"{config.num_frames} x {data_args.frame_interval}.")
        card = build_model_card(name, config, repo_id=training_args.hub_model_id or name,
                                recipe=recipe if not toy else None, results=results, training_notes=notes,
                                datasets=() if toy else DATASETS, base_model=hub_base_model(model_args),
                                figures=figures)
        write_model_card(card, folder / "README.md")

    trainer = ActionDetectionTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collate_action_detection,
        compute_metrics=evaluation,
        processing_class=processor,
        layer_decay=layer_decay,
        card_builder=write_card,
        recipe_schedule=recipe_schedule,
    )

    if training_args.do_train or "do_eval" not in flags:  # --do_eval alone: evaluate the model as it is
        checkpoint = training_args.resume_from_checkpoint
        if checkpoint is None and os.path.isdir(training_args.output_dir) and not toy:
            checkpoint = get_last_checkpoint(training_args.output_dir)
            if checkpoint is not None:
                logger.info(f"resuming from {checkpoint}")
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_metrics("train", train_result.metrics)
        trainer.save_state()

    metrics = trainer.evaluate()
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    outcome = evaluation.last_outcome
    output_dir = Path(training_args.output_dir)
    dataset_name = "toy AVA-format set (training/data/toy_dataset.py)" if toy else f"AVA ({data_args.dataset_config_name})"
    from .publishing.model_card import EvaluationResult

    results.append(EvaluationResult(
        value=round(100 * metrics["eval_map"], 2),
        protocol=f"frame-mAP@0.5IoU, {get_protocol(data_args.evaluation_protocol).description}, over the "
                 f"{len(label_map)} classes of {Path(label_map_file).name}",
        measured_here=True,
        metric_config=data_args.evaluation_protocol,
        dataset_name=dataset_name,
        dataset_type="toy-ava" if toy else "ava",
        dataset_config=data_args.dataset_config_name,
        metric_name=f"frame-mAP@0.5IoU ({len(label_map)} classes)",
    ))
    if trainer.is_world_process_zero():
        detections_path = output_dir / "detections_val.csv"
        write_detections_csv(detections_path, evaluation.last_detections)
        chart = save_ap_chart(outcome, output_dir, dataset_name)
        if chart is not None:
            figures.append((chart.path.name, f"Per-class AP ({chart.title})"))
        trainer.save_model(str(output_dir))
        add_pipeline_code(output_dir)  # the "video-action-detection" pipeline as remote code
        write_card(output_dir)
    if training_args.push_to_hub:
        trainer.push_to_hub()

    wall = time.perf_counter() - started
    if trainer.is_world_process_zero():
        print("\n" + summary_table(outcome, data_args.evaluation_protocol))
        print(f"scored boxes: {int(metrics['eval_scored_boxes'])} of {int(metrics['eval_proposals'])} proposals on "
              f"{int(metrics['eval_scored_keyframes'])} keyframes")
        print(f"detections: {output_dir / 'detections_val.csv'}")
        if figures:
            print(f"per-class AP chart: {output_dir / figures[0][0]}")
        print(f"model, video processor and model card: {output_dir}")
        print(f"wall time: {wall:.0f} s ({wall / 60:.1f} min)")
    return metrics


def console_main(argv: list[str] | None = None) -> int:
    """`videomae-ava-train`: `main`, with the errors bad arguments or files cause (missing data folder, unreadable
    annotation or checkpoint, refused pickle) printed as one `error:` line and exit status 2, no traceback."""
    from ..processing.cli.conventions import EXIT_USAGE_OR_INPUT_ERROR, expected_errors

    try:
        main(argv)
    except expected_errors() as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USAGE_OR_INPUT_ERROR
    return 0


if __name__ == "__main__":
    main()
