"""The command line: ``python -m bot <command>``. Run with ``--help`` for the list."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from connectors.shop.catalog_import import CatalogError
from dialogs.responses import ResponsesError
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
    commands.add_parser("serve", help="run every enabled PBX endpoint (the voice bot server)")
    from bot.tools.dial import add_dial_parser

    add_dial_parser(commands)

    console = commands.add_parser("console", help="play a call by typing (text console)")
    console.add_argument("--caller", default="+79607775577", help="the caller's number")
    console.add_argument("--called", default="78123098635", help="the dialled number")
    console.add_argument("--json", action="store_true", help="one JSON event per line")

    catalog = commands.add_parser("catalog", help="the product catalog")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    do_import = catalog_commands.add_parser("import", help="replace the catalog from .xlsx")
    do_import.add_argument("file", type=Path)

    from bot.tools.call_command import add_call_parser

    add_call_parser(commands)

    bench_cmd = commands.add_parser("bench", help="benchmarks: voice")
    bench_commands = bench_cmd.add_subparsers(dest="bench_command", required=True)
    voice_bench = bench_commands.add_parser("voice", help="turn gap, ASR RTF, 8 calls, memory")
    voice_bench.add_argument("--out", type=Path, default=Path("bench/voice.json"))
    voice_bench.add_argument("--calls", type=int, default=4, help="single calls in a row")
    voice_bench.add_argument("--concurrency", type=int, default=8)
    voice_bench.add_argument("--phrases", type=int, default=30, help="per kind, for accuracy")
    wire_bench = bench_commands.add_parser(
        "wire", help="turn gaps on the wire (FastAGI+AudioSocket), false cut-offs, capacity"
    )
    wire_bench.add_argument("--out", type=Path, default=Path("bench/wire.json"))
    wire_bench.add_argument("--levels", default="1,8,20", help="simultaneous calls to measure")
    wire_bench.add_argument("--capacity", default="30,40,50", help="then these, while p95 ≤ 1.2 s")
    from bot.tools.bench_sip import add_sip_bench_parser

    add_sip_bench_parser(bench_commands)  # sip [--levels 1,20] [--singles 6]
    from bot.tools.recognition_cli import add_recognition_parser

    add_recognition_parser(bench_commands)  # recognition [--per-style 12] [--calls N]
    from bot.tools.bench_faults import add_faults_parser

    add_faults_parser(bench_commands)  # faults [--minutes N] [--calls 50] [--fuzz-cases 1000]

    from bot.web.cli import add_admin_parser

    add_admin_parser(commands)  # admin create-user NAME --role …, set-password, list-users

    from bot.shop_commands import add_shop_parsers

    add_shop_parsers(commands)  # outbox [--force], db upgrade|current, orders replay
    from bot.rasa.cli import add_rasa_parsers

    add_rasa_parsers(commands)  # rasa-actions [--host --port], rasa-project OUT
    from bot.missed.sms_cli import add_sms_parser

    add_sms_parser(commands)  # sms send --to … --text …, sms status

    bench = nlu_commands.add_parser("bench", help="parse latency p50/p99 and training time")
    bench.add_argument("--out", type=Path, default=Path("bench/nlu.json"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.command == "console" and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # the console prints its own events
    try:
        settings = load_settings(args.config)
        return dispatch(args, settings)
    except (ConfigError, TrainingDataError, ResponsesError, CatalogError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        print(f"error: shop database: {type(exc).__name__}: {cause}", file=sys.stderr)
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
    if args.command in ("rasa-actions", "rasa-project"):
        from bot.rasa.cli import cmd_rasa

        return cmd_rasa(settings, args)
    if args.command == "serve":
        from bot.server import serve

        return asyncio.run(serve(settings))
    if args.command == "dial":
        from bot.tools.dial import cmd_dial

        return asyncio.run(cmd_dial(args))
    if args.command == "console":
        from bot.console import ConsoleOptions, run_console

        options = ConsoleOptions(args.caller, args.called, args.json)
        return asyncio.run(run_console(settings, options))
    if args.command == "catalog":
        from bot.shop_commands import cmd_catalog_import

        return asyncio.run(cmd_catalog_import(settings, args.file))
    if args.command == "sms":
        from bot.missed.sms_cli import cmd_sms

        return cmd_sms(settings, args)
    if args.command == "admin":
        from bot.web.cli import cmd_admin

        return cmd_admin(settings, args)
    if args.command == "call":
        from bot.tools.call_command import cmd_call

        return asyncio.run(cmd_call(settings, args))
    if args.command == "bench" and args.bench_command == "faults":
        from bot.tools.bench_faults import cmd_faults

        return cmd_faults(args)
    if args.command == "bench" and args.bench_command == "recognition":
        from bot.tools.recognition_cli import cmd_recognition

        return cmd_recognition(settings, args)
    if args.command == "bench" and args.bench_command == "sip":
        from bot.tools.bench_sip import cmd_sip_bench

        return cmd_sip_bench(args)
    if args.command == "bench" and args.bench_command == "wire":
        from bot.tools.bench_wire import run_wire_bench

        def counts(text: str) -> tuple[int, ...]:
            return tuple(int(n) for n in text.split(",") if n.strip())

        wire = asyncio.run(
            run_wire_bench(args.out, levels=counts(args.levels), capacity=counts(args.capacity))
        )
        for calls, level in wire["levels"].items():
            print(
                f"{calls:>3} calls: wire gap p50 {level['wire_gap_p50_s']} s, "
                f"p95 {level['wire_gap_p95_s']} s, audio gaps {level['bot_audio_gaps_over_45ms']}"
            )
        print(
            f"false cut-offs: {wire['cutoffs_early']['false_cutoff_rate']:.0%} early end of turn, "
            f"{wire['cutoffs_fixed']['false_cutoff_rate']:.0%} fixed windows "
            f"(harmful: {len(wire['cutoffs_early']['harmful'])} and "
            f"{len(wire['cutoffs_fixed']['harmful'])}); "
            f"capacity at p95 ≤ 1.2 s: {wire['max_calls_p95_1_2s']} calls; wrote {args.out}"
        )
        return 0
    if args.command == "bench" and args.bench_command == "voice":
        from bot.tools.bench_voice import run_voice_bench

        result = asyncio.run(
            run_voice_bench(
                settings,
                args.out,
                calls=args.calls,
                concurrency=args.concurrency,
                phrases=args.phrases,
            )
        )
        print(json.dumps({k: result[k] for k in ("single", "concurrent", "memory_mb")}, indent=1))
        print(
            f"accuracy: {result['accuracy']['article_exact']:.0%} articles, "
            f"{result['accuracy']['quantity_exact']:.0%} quantities; wrote {args.out}"
        )
        return 0
    from bot.shop_commands import dispatch_shop

    handled = dispatch_shop(args, settings)
    if handled is not None:
        return handled
    raise AssertionError(f"unhandled command {args.command}")
