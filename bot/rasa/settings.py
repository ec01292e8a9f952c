"""The ``rasa:`` section of the bot's configuration (README «Use with Rasa»).

Used when ``nlu.engine: rasa`` (Rasa parses, our Russian number handling normalises) or
``dialog.engine: rasa`` (a Rasa assistant leads the dialogue; the bot is its telephone and
voice channel), and by the action server (``python -m bot rasa-actions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEY_MODES = ("expect", "intent", "text")
SEND_MODES = ("text", "parse")
ENGINES = ("embedded", "rasa")


def _menu_keys() -> dict[str, str]:
    return {"1": "make_order", "2": "order_status", "0": "ask_operator"}


@dataclass(slots=True)
class RasaSettings:
    url: str = "http://127.0.0.1:5005"  # `rasa run --enable-api` (Docker image or 3.10 venv)
    token: str = ""  # Rasa's --auth-token, sent as ?token=…
    timeout_s: float = 4.0  # one dialogue turn (Rasa and its custom actions)
    nlu_timeout_s: float = 1.0  # one POST /model/parse
    # nlu.engine rasa: when Rasa does not answer, parse with the embedded model (and count
    # it: bot_nlu_fallbacks_total); false: the call goes to a person
    nlu_fallback: bool = True
    # dialog.engine rasa: what the bot sends besides the caller's words
    send: str = "text"  # text: Rasa's NLU decides; parse: our intent and entities as /intent{…}
    start_intent: str = "call_start"  # sent as /call_start{…} when the call starts
    keys: str = "expect"  # expect: by what the assistant expects; intent: /keypad{"digits"}; text
    keys_intent: str = "keypad"
    menu_keys: dict[str, str] = field(default_factory=_menu_keys)  # keys at a menu ➜ intents
    silence_intent: str = ""  # "" : the bot repeats its last prompt itself; else /<intent>
    hangup_intent: str = "caller_hung_up"  # "" : Rasa is not told
    # the action server (python -m bot rasa-actions)
    actions_host: str = "127.0.0.1"
    actions_port: int = 5055

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("rasa.url must start with http:// or https://")
        self.url = self.url.rstrip("/")
        if self.timeout_s <= 0 or self.nlu_timeout_s <= 0:
            raise ValueError("rasa.timeout_s and rasa.nlu_timeout_s must be positive")
        if self.keys not in KEY_MODES:
            raise ValueError(f"rasa.keys must be one of {', '.join(KEY_MODES)}")
        if self.send not in SEND_MODES:
            raise ValueError(f"rasa.send must be one of {', '.join(SEND_MODES)}")
        if not self.start_intent:
            raise ValueError("rasa.start_intent must name an intent")
        if not 0 < self.actions_port < 65536:
            raise ValueError("rasa.actions_port must be a TCP port")


def check_engine(section: str, name: str) -> None:
    """``nlu.engine`` / ``dialog.engine`` must name a known engine."""
    if name not in ENGINES:
        raise ValueError(f"{section}.engine must be one of {', '.join(ENGINES)}, not {name!r}")
