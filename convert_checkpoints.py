"""Convert mmaction2 VideoMAE checkpoints into complete transformers / Hub folders.

Detection (the AVA detectors of `configs/detection/videomae`):

    python convert_checkpoints.py --variant base \
        --checkpoint vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb_20230314-3dafab75.pth \
        --output_dir videomae-base-ava-kinetics [--push_to_hub ORG/videomae-base-ava-kinetics]

writes `config.json`, `model.safetensors`, `video_preprocessor_config.json`, the remote-code files (with `auto_map`,
so that `AutoModel` / `AutoVideoProcessor.from_pretrained(D, trust_remote_code=True)` work without this package) and
the model card `README.md`,
reloads the folder and runs one forward as a self-check, prints a summary, and optionally pushes the folder.

Recognition (the Kinetics-400 fine-tuned backbones the detection recipe starts from,
`vit-{base,large}-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-*.pth`): the same command writes a standard
transformers `VideoMAEForVideoClassification` folder (mean pooling, `fc_norm`, the 400-way classifier, LayerNorm eps
1e-6) from which `VideoMAEForActionDetection.from_pretrained(D)` starts exactly as mmaction2's detector does: the
backbone loaded, `fc_norm` and the classifier ignored, the final LayerNorm freshly initialised (ones / zeros).
Note: transformers' `VideoMAEForVideoClassification.fc_norm` is an `nn.LayerNorm` with the default eps 1e-5 (it does
not read `config.layer_norm_eps`), mmaction2's is 1e-6, so the folder's Kinetics logits differ slightly from
mmaction2's (the pooled features are normalised by sqrt(var + 1e-5) instead of sqrt(var + 1e-6)); the detector never
uses `fc_norm`.

Which kind a checkpoint is, and its architecture, come from its keys and tensor shapes (plus the config text mmaction2
stores in `meta`); `--variant base|large` additionally requires the architecture of that mmaction2 recipe
(`training/recipe.py`). The card carries the mAP mmaction2 reports only when the checkpoint is the released file:
OpenMMLab names released files `..._<date>-<first 8 hex digits of the sha256>.pth`, and the converter checks the hash.

Checkpoints are untrusted: they are read with `processing/formats/untrusted_pickle.load_checkpoint` (no arbitrary code runs; a
pickle that tries is refused). On any error (a checkpoint of another architecture, a truncated file, a refused
pickle, a key that cannot be mapped, a failed self-check) nothing is written to the output folder: the folder is
assembled in a temporary sibling and moved into place only when complete and checked.
"""

import argparse
import sys
from pathlib import Path

from videomae_action_detection.modeling import VideoMAEActionDetectionConfig
from videomae_action_detection.processing.formats.untrusted_pickle import UntrustedPickleError
from videomae_action_detection.training.publishing.conversion import PushError, convert
from videomae_action_detection.training.publishing.mmaction2_checkpoint import ConversionError
from videomae_action_detection.training.recipe import RECIPES


def _read_label_map(path: str | Path) -> dict[int, str]:
    """One class name per line, in classifier order (e.g. mmaction2's `label_map_k400.txt`)."""
    names = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise ValueError(f"--label_map {path}: no class names")
    return dict(enumerate(names))


def main(argv=None) -> int:
    from videomae_action_detection.processing.cli.conventions import (
        EXIT_USAGE_OR_INPUT_ERROR, HelpFormatter, add_log_level, configure_logging, expected_errors,
    )

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an mmaction2 VideoMAE detection or recognition checkpoint (.pth)")
    parser.add_argument("--output_dir", required=True, help="folder to write (must be absent or empty, unless --overwrite)")
    parser.add_argument("--variant", choices=sorted(RECIPES), help="require the architecture of this mmaction2 recipe")
    parser.add_argument("--config", help="a detection config.json to use instead of inferring the architecture")
    parser.add_argument("--label_map", help="recognition only: class names, one per line, in classifier order")
    parser.add_argument("--push_to_hub", metavar="REPO_ID", help="upload the folder to this Hub repo (created if needed)")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing non-empty --output_dir")
    parser.add_argument("--max_shard_size", default="1GB", help="safetensors shard size")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (they only show on a terminal anyway)")
    add_log_level(parser)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)

    try:
        config = VideoMAEActionDetectionConfig.from_json_file(args.config) if args.config else None
        label_map = _read_label_map(args.label_map) if args.label_map else None
        result = convert(
            args.checkpoint,
            args.output_dir,
            variant=args.variant,
            config=config,
            label_map=label_map,
            repo_id=args.push_to_hub,
            push=args.push_to_hub is not None,
            private=args.private,
            overwrite=args.overwrite,
            max_shard_size=args.max_shard_size,
            progress=not (args.no_progress or args.quiet),
        )
    except PushError as error:
        print(error.result.summary(), f"error: {error}", sep="\n", file=sys.stderr)
        return EXIT_USAGE_OR_INPUT_ERROR
    except (ConversionError, UntrustedPickleError, *expected_errors()) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USAGE_OR_INPUT_ERROR
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
