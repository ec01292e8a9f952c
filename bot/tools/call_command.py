"""``python -m bot call``: a simulated phone call through the real voice session."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from bot.tools.simulated_call import Turn


class TurnAction(argparse.Action):
    """Keeps --say/--wav/--dtmf/--silence/--barge in the order they were given."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from bot.tools.simulated_call import Turn

        turns: list[Turn] = getattr(namespace, "turns", None) or []
        kind = self.dest
        value = str(values) if values is not None else ""
        if kind == "barge":
            turns.append(Turn("barge", value, barge_after_s=0.6))
        else:
            turns.append(Turn(kind, value))
        namespace.turns = turns


def add_call_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    call = commands.add_parser(
        "call",
        help="simulate a phone call: synthesized caller turns through the voice session",
        description="Turns run in the order given. The caller's voice is Festival.",
    )
    call.add_argument("--caller", default="+79607775577")
    call.add_argument("--called", default="78123098635")
    call.add_argument("--say", action=TurnAction, metavar="TEXT", help="say this")
    call.add_argument("--wav", action=TurnAction, metavar="FILE", help="play this WAV")
    call.add_argument("--dtmf", action=TurnAction, metavar="KEYS", help="press keys, e.g. 12#")
    call.add_argument(
        "--silence", action=TurnAction, nargs=0, help="say nothing until the bot re-prompts"
    )
    call.add_argument(
        "--barge", action=TurnAction, metavar="TEXT", help="talk over the bot's next prompt"
    )
    call.add_argument("--fast", action="store_true", help="faster than real time")
    call.add_argument("--out", type=Path, help="folder for bot.wav, call.wav, transcript.json")
    call.set_defaults(turns=[])


async def cmd_call(settings: Settings, args: argparse.Namespace) -> int:
    from bot.shop_setup import open_shop
    from bot.tools.simulated_call import SimulatedCaller, write_call
    from bot.voice import VoiceServices
    from speech.tts import create_synthesizer

    turns: list[Turn] = args.turns
    if not turns:
        print("error: give the caller's turns: --say TEXT, --dtmf KEYS, --wav FILE, --silence")
        return 2
    shop = await open_shop(settings)
    try:
        started = time.perf_counter()
        services = await VoiceServices.start(settings, settings.voice, shop)
        print(f"voice services ready in {time.perf_counter() - started:.1f} s")
        voice = create_synthesizer("festival", rate=16000)
        caller = SimulatedCaller(
            services, voice, turns, caller=args.caller, called=args.called, fast=args.fast
        )
        result = await caller.run()
    finally:
        await shop.close()
    for turn in result.log.turns:
        if turn.source == "speech":
            # in --fast mode audio time runs ahead of the clock: no meaningful gap
            gap = f"{turn.gap_s:.2f}" if turn.gap_s is not None and not args.fast else "—"
            print(
                f"  caller: «{turn.text}» ➜ {turn.intent}; eop {turn.eop_wait_s:.2f} s, "
                f"asr {turn.asr_s:.2f} s, nlu+policy {turn.nlu_policy_s * 1000:.1f} ms, "
                f"tts {turn.tts_s:.2f} s, gap {gap} s"
            )
        else:
            print(f"  caller: [{turn.source}{' ' + turn.text if turn.text else ''}]")
    for event in result.log.events:
        if event["type"] in ("say", "set_caller_name", "order", "transfer", "hangup"):
            print(f"  bot {event}")
    folder = args.out or Path("var/calls") / result.log.call_id
    for path in write_call(result, folder):
        print(f"wrote {path}")
    return 0
