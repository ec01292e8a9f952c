"""The bot's one typed settings object: defaults, then ``config.yml``, then ``BOT_*`` env.

``python -m bot --config FILE`` (or ``BOT_CONFIG=FILE``) picks the YAML file; without one
the embedded defaults run the demo shop offline. See README «Configuration».
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings_loader import ConfigError, build, env_overrides, merge, read_yaml

__all__ = ["ConfigError", "NluSettings", "Settings", "load_settings"]


@dataclass(slots=True)
class NluSettings:
    data: Path = Path("data/nlu.yml")
    model_dir: Path = Path("models/nlu")
    threshold: float = 0.45

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("nlu.threshold must be between 0 and 1")


@dataclass(slots=True)
class Settings:
    nlu: NluSettings = field(default_factory=NluSettings)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    if path is None and environ.get("BOT_CONFIG"):
        path = Path(environ["BOT_CONFIG"])
    data = read_yaml(path) if path else {}
    data = merge(data, env_overrides(environ))
    return build(Settings, data)
