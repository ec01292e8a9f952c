"""The Rasa commands: ``python -m bot rasa-actions`` and ``python -m bot rasa-project``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings


def add_rasa_parsers(commands: Any) -> None:
    actions = commands.add_parser(
        "rasa-actions", help="our shop as Rasa custom actions (a rasa-sdk action server)"
    )
    actions.add_argument("--host", help="default: rasa.actions_host (127.0.0.1)")
    actions.add_argument("--port", type=int, help="default: rasa.actions_port (5055)")
    project = commands.add_parser(
        "rasa-project", help="lay out the starter Rasa assistant for `rasa train`"
    )
    project.add_argument("out", type=Path, help="folder to write the project to")
    project.add_argument("--actions-url", default="", help="the action server's /webhook URL")


def cmd_rasa(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "rasa-project":
        from bot.rasa.project import TRAIN_ARGS, ProjectError, assemble

        try:
            assemble(args.out, actions_url=args.actions_url)
        except ProjectError as exc:
            print(f"ошибка: {exc}", file=sys.stderr)
            return 2
        train = " ".join(TRAIN_ARGS)
        out = args.out.resolve()
        rasa = Path(".venv-rasa/bin/rasa").resolve()
        print(f"wrote the starter Rasa assistant to {out}; train it with")
        print(f"  cd {out} && RASA_TELEMETRY_ENABLED=false {rasa} {train}")
        print(f"  or: docker run --rm -v {out}:/app rasa/rasa:3.6.21 {train}")
        print("then: rasa run --enable-api -m models/starter.tar.gz (README «Use with Rasa»)")
        return 0
    from bot.rasa.action_server import ActionServerError, run_action_server

    host = args.host or settings.rasa.actions_host
    port = settings.rasa.actions_port if args.port is None else args.port
    try:
        asyncio.run(run_action_server(settings, host, port))
    except ActionServerError as exc:
        print(f"ошибка: {exc.message_ru}", file=sys.stderr)
        return 2
    return 0
