"""``python -m bot bench recognition``: the command line (the benchmark loads only when run)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bot.config import Settings

SETS = ("human", "festival")


def add_recognition_parser(bench_commands: argparse._SubParsersAction[Any]) -> None:
    parser = bench_commands.add_parser(
        "recognition",
        help="articles and quantities by a human and a synthetic voice: single shot and calls",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/recognition.json"))
    parser.add_argument("--per-style", type=int, default=12, help="articles of each style")
    parser.add_argument("--quantities", type=int, default=30)
    parser.add_argument("--calls", type=int, default=None, help="calls per voice and caller")
    parser.add_argument("--sets", default=",".join(SETS), help="human,festival")
    parser.add_argument(
        "--no-nbest", action="store_true", help="skip the beam and n-best single shots"
    )


def cmd_recognition(settings: Settings, args: argparse.Namespace) -> int:
    from bot.tools.bench_recognition import BenchOptions, run_recognition_bench
    from bot.tools.bench_recognition_report import print_table

    options = BenchOptions(
        per_style=args.per_style,
        quantities=args.quantities,
        calls=args.calls,
        sets=tuple(s for s in args.sets.split(",") if s),
        nbest=not args.no_nbest,
    )
    report = asyncio.run(run_recognition_bench(settings, args.out, options))
    print_table(report)
    print(f"written {args.out} and {args.out.with_suffix('.png')}")
    return 0
