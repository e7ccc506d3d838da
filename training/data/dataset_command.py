"""`videomae-ava-dataset`: prepare an AVA / AVA-Kinetics config (cached), report missing videos, and optionally
export it, transcode its videos or push it to the Hub.

    python -m videomae_action_detection.training.data.dataset_command /data/ava --config ava --export ava-parquet
"""

from __future__ import annotations

import os

import datasets

from .ava_dataset import MISSING_VIDEO_POLICIES, AVAKinetics, AVAKineticsConfig
from .ava_media import CHECKS, MEDIA_KINDS
from .dataset_export import export_ava_dataset, push_ava_dataset
from .transcode import DEFAULT_CRF, DEFAULT_GOP, DEFAULT_SHORT_SIDE, DEFAULT_TUNE, TUNES


def build_parser():
    import argparse

    from ...processing.cli.conventions import HelpFormatter, add_log_level

    parser = argparse.ArgumentParser(
        prog="videomae-ava-dataset",
        description="Prepare the AVA v2.2 / AVA-Kinetics keyframes as a datasets DatasetDict (cached), report missing "
        "videos, and optionally export parquet + dataset card for the Hub.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("data_dir", help="folder with annotations/ and videos/ or rawframes/")
    parser.add_argument("--config", default="ava", choices=[config.name for config in AVAKinetics.BUILDER_CONFIGS],
                        help="which builder config to prepare")
    parser.add_argument("--cache_dir", default=None, help="datasets cache folder (None: the datasets default)")
    parser.add_argument("--missing_videos", default="error", choices=MISSING_VIDEO_POLICIES,
                        help="what to do with keyframes whose video is missing or unreadable")
    parser.add_argument("--missing_list", default=None, help="write every missing / unreadable video to this file "
                        "(tab-separated: split, name, keyframes, reason)")
    parser.add_argument("--video_start", type=float, default=None, help="second at which AVA movie files start "
                        "(0 full movies, 900 15-minute cuts; None: detect)")
    parser.add_argument("--media", default="auto", choices=MEDIA_KINDS, help="videos, frame folders, or detect")
    parser.add_argument("--check_videos", default="open", choices=CHECKS, help="how much of each video to check")
    parser.add_argument("--label_map_file", default=AVAKineticsConfig.label_map_file,
                        help="label map .pbtxt under annotations/")
    parser.add_argument("--keep_empty_keyframes", action="store_true", help="keep keyframes with no person box")
    parser.add_argument("--num_proc", type=int, default=None, help="processes for preparing (None: one)")
    parser.add_argument("--force", action="store_true", help="prepare again even if cached")
    parser.add_argument("--export", default=None, help="write parquet + README.md dataset card to this folder")
    parser.add_argument("--relative_paths", action="store_true", help="export video_path / frame_dir relative to "
                        "data_dir")
    parser.add_argument("--transcode", default=None, metavar="DIR",
                        help="also write the training-ready video store here (training/data/transcode.py: short side "
                        "--transcode_short_side, 30 fps, GOP --transcode_gop, no B-frames) with its manifest; "
                        "resumable (finished videos are skipped)")
    parser.add_argument("--transcode_short_side", type=int, default=DEFAULT_SHORT_SIDE, help="short side of the store")
    parser.add_argument("--transcode_gop", type=int, default=DEFAULT_GOP,
                        help=f"keyframe interval of the store (default {DEFAULT_GOP}: intra-only, a clip read decodes "
                        "only its own frames)")
    parser.add_argument("--transcode_crf", type=int, default=DEFAULT_CRF, help="libx264 crf of the store")
    parser.add_argument("--transcode_tune", default=DEFAULT_TUNE, choices=TUNES,
                        help=f"libx264 tune of the store (default {DEFAULT_TUNE}; fastdecode: faster decoding, more bytes)")
    parser.add_argument("--transcode_workers", type=int, default=os.cpu_count() or 1,
                        help="parallel transcoding processes")
    parser.add_argument("--push_to_hub", default=None, metavar="REPO",
                        help="publish the prepared config to this Hub data set repo (parquet + card, paths relative "
                        "to data_dir; token from HF_TOKEN / huggingface-cli login)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (video probing and the datasets "
                        "library's; they only show on a terminal anyway)")
    add_log_level(parser)
    return parser


def main(argv=None) -> int:
    """Command line: prepare a config (cached), print its splits and any missing videos, optionally export it."""
    from ...processing.cli.conventions import run_command

    return run_command(_run, build_parser().parse_args(argv))


def _run(args) -> int:
    from ...processing.cli.conventions import atomic_output, check_output_file

    if args.quiet:
        from ...processing.cli.progress import set_quiet

        set_quiet()
        datasets.disable_progress_bars()
    if args.missing_list:  # outputs first: a bad path fails before the (long) preparation
        check_output_file(args.missing_list, "--missing_list")
    if args.export and os.path.exists(args.export) and not os.path.isdir(args.export):
        raise NotADirectoryError(f"--export {args.export}: exists and is not a folder")
    builder = AVAKinetics(
        config_name=args.config,
        data_dir=os.path.abspath(args.data_dir),
        cache_dir=args.cache_dir,
        missing_videos=args.missing_videos,
        video_start=args.video_start,
        media=args.media,
        check_videos=args.check_videos,
        label_map_file=args.label_map_file,
        keep_empty_keyframes=args.keep_empty_keyframes,
    )
    builder.download_and_prepare(download_mode="force_redownload" if args.force else None, num_proc=args.num_proc)
    dataset = builder.as_dataset()
    report = getattr(builder, "missing_videos_report", None)
    if report is None:
        print("(loaded from the cache; pass --force to check the videos again)")
    elif args.missing_list:
        with atomic_output(args.missing_list) as temporary, open(temporary, "w", encoding="utf-8") as handle:
            for split, problems in report.items():
                for item in problems:
                    handle.write(f"{split}\t{item.name}\t{item.keyframes}\t{item.reason}\n")
    for split, data in dataset.items():
        missing = report.get(split, []) if report else []
        note = f", {len(missing)} missing videos ({sum(item.keyframes for item in missing)} keyframes left out)" if missing else ""
        print(f"{split}: {len(data)} keyframes{note}")
    print(f"cache: {builder.cache_dir}")
    if args.export:
        export_ava_dataset(dataset, args.export, args.config, relative_to=args.data_dir if args.relative_paths else None)
        print(f"exported to {args.export}")
    if args.transcode:
        from .transcode import transcode_videos

        videos = sorted({path for data in dataset.values() for path in data["video_path"] if path})
        manifest = transcode_videos(args.data_dir, videos, args.transcode, short_side=args.transcode_short_side,
                                    gop=args.transcode_gop, crf=args.transcode_crf, tune=args.transcode_tune,
                                    workers=args.transcode_workers)
        print(f"transcoded store: {args.transcode} ({len(manifest['videos'])} videos; load it with "
              f"load_ava_dataset(..., transcoded_dir={args.transcode!r}))")
    if args.push_to_hub:
        try:
            url = push_ava_dataset(dataset, args.push_to_hub, args.config, args.data_dir)
        except OSError as error:
            raise OSError(f"--push_to_hub {args.push_to_hub}: {error}") from error
        except ValueError as error:
            raise ValueError(f"--push_to_hub {args.push_to_hub}: {error}") from error
        print(f"pushed {args.config} to {args.push_to_hub}: {url}")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
