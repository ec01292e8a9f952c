"""Engines chosen by name from the configuration: the dialogue policy and the NLU.

``dialog.engine``: ``embedded`` (:class:`~dialogs.policy.DialogPolicy`, the default) or
``rasa`` (:class:`~bot.rasa.policy.RasaPolicy`); ``nlu.engine``: ``embedded``
(:class:`~nlu.engine.NluEngine`) or ``rasa`` (:class:`~bot.rasa.nlu.RasaNluEngine`). Every
front end builds its call's policy with :func:`build_policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from bot.action_runner import Policy
from bot.rasa.nlu import RasaNluEngine
from bot.rasa.policy import RasaPolicy
from bot.rasa.settings import ENGINES, RasaSettings
from dialogs.config import DialogSettings
from dialogs.context import CallContext
from dialogs.policy import DialogPolicy
from dialogs.ports import ShopPorts
from dialogs.responses import Responses
from nlu.engine import NluEngine

PolicyFactory = Callable[
    [CallContext, ShopPorts, Responses, DialogSettings, RasaSettings, str], Policy
]


def _embedded_policy(
    context: CallContext,
    ports: ShopPorts,
    responses: Responses,
    dialog: DialogSettings,
    rasa: RasaSettings,
    route: str,
) -> Policy:
    return DialogPolicy(context, ports, responses, dialog)


def _rasa_policy(
    context: CallContext,
    ports: ShopPorts,
    responses: Responses,
    dialog: DialogSettings,
    rasa: RasaSettings,
    route: str,
) -> Policy:
    return RasaPolicy(context, responses, dialog, rasa, route=route)


POLICIES: dict[str, PolicyFactory] = {"embedded": _embedded_policy, "rasa": _rasa_policy}


def build_policy(
    context: CallContext,
    ports: ShopPorts,
    responses: Responses,
    dialog: DialogSettings,
    rasa: RasaSettings | None = None,
    *,
    route: str = "",
) -> Policy:
    """The policy of one call, by ``dialog.engine``."""
    factory = POLICIES.get(getattr(dialog, "engine", "embedded"))
    if factory is None:
        raise ValueError(f"dialog.engine must be one of {', '.join(ENGINES)}")
    return factory(context, ports, responses, dialog, rasa or RasaSettings(), route)


def load_nlu(
    engine: str,
    data_path: Path,
    model_dir: Path,
    rasa: RasaSettings,
    *,
    threshold: float,
    articles: Iterable[str] = (),
) -> NluEngine:
    """The NLU engine by ``nlu.engine`` (blocking: loads or trains the embedded model)."""
    if engine == "rasa":
        return RasaNluEngine.open(
            data_path, model_dir, rasa, threshold=threshold, articles=articles
        )
    if engine != "embedded":
        raise ValueError(f"nlu.engine must be one of {', '.join(ENGINES)}")
    return NluEngine.load(data_path, model_dir, threshold=threshold, articles=articles)
