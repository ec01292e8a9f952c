"""The starter Rasa assistant laid out for ``rasa train`` (``python -m bot rasa-project``).

``data/rasa/`` holds what is Rasa's alone (``config.yml``, ``domain.yml``, ``rules.yml``,
``endpoints.yml``, ``credentials.yml``); the NLU data and the phrases are the bot's own
``data/nlu.yml`` and ``data/responses.yml``, copied unchanged (``responses.yml`` is a domain
file in Rasa's format)::

    OUT/config.yml  OUT/endpoints.yml  OUT/credentials.yml
    OUT/domain/domain.yml  OUT/domain/responses.yml
    OUT/data/nlu.yml  OUT/data/rules.yml

Then ``rasa train --domain domain`` in ``OUT`` (a Python 3.10 venv, or the ``rasa/rasa:3.6.21``
image with ``OUT`` mounted at ``/app``).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

STARTER = Path("data/rasa")
MODEL_NAME = "starter"
TRAIN_ARGS = (
    "train", "--domain", "domain", "--data", "data", "--config", "config.yml",
    "--out", "models", "--fixed-model-name", MODEL_NAME,
)  # fmt: skip


class ProjectError(Exception):
    pass


def layout(
    starter: Path = STARTER,
    nlu: Path = Path("data/nlu.yml"),
    responses: Path = Path("data/responses.yml"),
) -> dict[str, Path]:
    """Where each file of the assembled project comes from (its path in the project ➜ ours)."""
    return {
        "config.yml": starter / "config.yml",
        "domain/domain.yml": starter / "domain.yml",
        "domain/responses.yml": responses,
        "data/nlu.yml": nlu,
        "data/rules.yml": starter / "rules.yml",
        "endpoints.yml": starter / "endpoints.yml",
        "credentials.yml": starter / "credentials.yml",
    }


def training_digest(files: dict[str, Path]) -> str:
    """SHA-256 of what training reads (a trained model of the same digest can be reused)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        if name in ("endpoints.yml", "credentials.yml"):
            continue
        digest.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return digest.hexdigest()


def assemble(out: Path, files: dict[str, Path] | None = None, actions_url: str = "") -> str:
    """Copy the project into ``out`` (files unchanged; ``actions_url`` replaces the action
    server's URL in ``endpoints.yml``); return the training digest."""
    files = files or layout()
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise ProjectError(f"нет файлов стартового проекта Rasa: {', '.join(missing)}")
    for name, source in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    if actions_url:
        endpoints = f'action_endpoint:\n  url: "{actions_url}"\n'
        (out / "endpoints.yml").write_text(endpoints, encoding="utf-8")
    digest = training_digest(files)
    (out / "inputs.sha256").write_text(digest + "\n", encoding="utf-8")
    return digest


def model_path(out: Path) -> Path:
    return out / "models" / f"{MODEL_NAME}.tar.gz"
