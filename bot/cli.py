"""The command line: ``python -m bot <command>``. Run with ``--help`` for the list."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from nlu.training_data import TrainingDataError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--config", type=Path, help="YAML settings file (default: $BOT_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("train", help="train the intent model from data/nlu.yml")

    nlu = commands.add_parser("nlu", help="understand text: parse, evaluate, bench")
    nlu_commands = nlu.add_subparsers(dest="nlu_command", required=True, metavar="NLU_COMMAND")
    nlu_commands.add_parser("parse", help="one utterance per stdin line ➜ one JSON per line")
    evaluate = nlu_commands.add_parser("evaluate", help="k-fold cross-validation report")
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.add_argument("--out", type=Path, help="folder for report.json and confusion.png")
    bench = nlu_commands.add_parser("bench", help="parse latency p50/p99 and training time")
    bench.add_argument("--out", type=Path, default=Path("bench/nlu.json"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)
    try:
        settings = load_settings(args.config)
        return dispatch(args, settings)
    except (ConfigError, TrainingDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from bot import nlu_commands

    if args.command == "train":
        return nlu_commands.cmd_train(settings)
    if args.command == "nlu":
        if args.nlu_command == "parse":
            return nlu_commands.cmd_parse(settings)
        if args.nlu_command == "evaluate":
            return nlu_commands.cmd_evaluate(settings, args.folds, args.out)
        if args.nlu_command == "bench":
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
            return nlu_commands.cmd_bench(settings, args.out)
    raise AssertionError(f"unhandled command {args.command}")
