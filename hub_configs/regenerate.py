"""Regenerate `hub_configs/<model>/` (config.json, README.md model card) for every mmaction2 recipe.

    python hub_configs/regenerate.py [--namespace ORG] [--output_dir hub_configs]

The files come from `videomae_action_detection.training.publishing.hub_configs.write_hub_config` (architecture and recipe from
`training/recipe.py`, AVA names from `modeling/ava_labels.py`); edit those, not the generated files.
"""

import argparse
import sys
from pathlib import Path

from videomae_action_detection.training.publishing.hub_configs import DEFAULT_NAMESPACE, write_hub_config
from videomae_action_detection.training.recipe import RECIPES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, help="Hub namespace named in the cards' code sample")
    parser.add_argument("--output_dir", default=str(Path(__file__).resolve().parent), help="where the model folders go")
    args = parser.parse_args(argv)
    for recipe in RECIPES.values():
        for path in write_hub_config(recipe, Path(args.output_dir) / recipe.model_name, namespace=args.namespace):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
