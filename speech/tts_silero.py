"""Silero TTS (PyTorch): natural Russian voices, weights ``v4_ru.pt`` from the internet.

Neither torch nor the weights are on the offline machines: constructing the synthesizer
without them raises ``EngineUnavailable`` with what is missing (models/README.md says how to
get ``models/silero/v4_ru.pt``). torch is imported only when the model is loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from speech.audio import Audio
from speech.errors import EngineUnavailable
from speech.tts import SynthesisCache, Synthesizer, register_synthesizer

DEFAULT_MODEL_PATH = "models/silero/v4_ru.pt"
SPEAKERS = ("aidar", "baya", "kseniya", "xenia", "eugene", "random")
MODEL_RATES = (8000, 24000, 48000)

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def _model_rate(rate: int) -> int:
    """The lowest rate the model produces that is at least ``rate`` (else the highest)."""
    return next((r for r in MODEL_RATES if r >= rate), MODEL_RATES[-1])


@register_synthesizer
class SileroSynthesizer(Synthesizer):
    """Silero v4 Russian; ``voice`` is the speaker (xenia, baya, kseniya, aidar, eugene)."""

    name = "silero"

    def __init__(
        self,
        model_path: str | Path = DEFAULT_MODEL_PATH,
        *,
        voice: str = "xenia",
        rate: int = 16000,
        threads: int = 2,
        cache: SynthesisCache | None = None,
        cache_dir: str | Path | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise EngineUnavailable(
                f"no Silero model at {self.model_path} (download v4_ru.pt, see models/README.md)"
            )
        if importlib.util.find_spec("torch") is None:
            raise EngineUnavailable("Silero TTS needs PyTorch: pip install torch (CPU build)")
        if voice not in SPEAKERS:
            raise ValueError(f"unknown Silero speaker {voice!r}; one of {', '.join(SPEAKERS)}")
        super().__init__(
            voice=voice, rate=rate, cache=cache, cache_dir=cache_dir, executor=executor
        )
        self.threads = threads
        self.model_rate = _model_rate(rate)
        self._model: Any = None

    def _load_sync(self) -> None:
        if self._model is not None:
            return
        key = str(self.model_path.resolve())
        with _models_lock:
            model = _models.get(key)
            if model is None:
                torch: Any = importlib.import_module("torch")
                torch.set_num_threads(self.threads)
                importer = torch.package.PackageImporter(str(self.model_path))
                model = importer.load_pickle("tts_models", "model")
                model.to(torch.device("cpu"))
                _models[key] = model
        self._model = model

    def _synthesize_sync(self, text: str) -> Audio:
        waveform = self._model.apply_tts(
            text=text,
            speaker=self.voice,
            sample_rate=self.model_rate,
            put_accent=True,
            put_yo=True,
        )
        samples = np.asarray(waveform.detach().cpu().numpy(), dtype=np.float32)
        return Audio.from_float(samples, self.model_rate)
