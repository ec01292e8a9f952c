"""Speech synthesis: the ``Synthesizer`` interface, ``SynthesisCache`` and the registry.

Engines live one per module (``tts_festival``, ``tts_espeak``, ``tts_silero``) and fill
``_synthesize_sync(text) -> Audio`` at their own rate; the base class resamples to the
requested output ``rate``, runs the engine in the shared bounded worker pool, and caches
results by (engine, voice, rate, text) in memory and optionally as WAV files on disk, so fixed
prompts are synthesized once (``warm``) and concurrent requests for one text run the engine
once. Synthesized audio is trimmed of its leading silence (10 ms kept) and most of its
trailing silence (80 ms kept): the caller hears the answer that much sooner. Engines are
chosen by name via ``create_synthesizer(name, **options)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, ClassVar

from speech.audio import Audio
from speech.engine import Engine
from speech.registry import Registry

CacheKey = tuple[str, str, int, str]


class SynthesisCache:
    """Synthesized audio by (engine, voice, rate, text): an LRU in memory plus optional WAVs.

    Thread-safe. With ``cache_dir`` every new entry is also written as
    ``<cache_dir>/<engine>/<sha256 of the key>.wav`` and read back after a restart.
    """

    def __init__(self, cache_dir: str | Path | None = None, max_items: int = 2048) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_items = max_items
        self._items: OrderedDict[CacheKey, Audio] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(engine: str, voice: str, rate: int, text: str) -> CacheKey:
        return (engine, voice, rate, text)

    def path_for(self, key: CacheKey) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode("utf-8")).hexdigest()
        return self.cache_dir / key[0] / f"{digest[:40]}.wav"

    def get_memory(self, key: CacheKey) -> Audio | None:
        with self._lock:
            audio = self._items.get(key)
            if audio is not None:
                self._items.move_to_end(key)
            return audio

    def get(self, key: CacheKey) -> Audio | None:
        """From memory, else from disk (blocking file read; then kept in memory)."""
        audio = self.get_memory(key)
        if audio is not None:
            return audio
        path = self.path_for(key)
        if path is None or not path.is_file():
            return None
        try:
            audio = Audio.read_wav(path).trimmed()  # files of older versions kept the silence
        except (OSError, ValueError):
            return None  # a broken cache file is as good as none: synthesize again
        if audio.rate != key[2]:
            return None
        return self._remember(key, audio)

    def put(self, key: CacheKey, audio: Audio) -> Audio:
        """Store (memory, and disk when configured); returns the instance kept."""
        path = self.path_for(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
            audio.write_wav(tmp)
            tmp.replace(path)
        return self._remember(key, audio)

    def _remember(self, key: CacheKey, audio: Audio) -> Audio:
        with self._lock:
            existing = self._items.get(key)
            if existing is not None:
                return existing
            self._items[key] = audio
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return audio

    def __contains__(self, key: CacheKey) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        """Forget the in-memory entries (files on disk stay)."""
        with self._lock:
            self._items.clear()


def normalise_text(text: str) -> str:
    """Whitespace collapsed: the cache key and what the engine receives."""
    return " ".join(text.split())


class Synthesizer(Engine, ABC):
    """A text-to-speech engine: ``await synthesize(text)`` -> ``Audio`` at ``rate``.

    ``preprocess`` (set by the bot: the number verbalizer) rewrites every text before it is
    cached and spoken, so callers hand over the text as written («2 штуки»).
    """

    kind: ClassVar[str] = "synthesis"

    def __init__(
        self,
        *,
        voice: str,
        rate: int = 16000,
        cache: SynthesisCache | None = None,
        cache_dir: str | Path | None = None,
        executor: Executor | None = None,
        call_timeout_s: float | None = None,
    ) -> None:
        super().__init__(executor=executor, call_timeout_s=call_timeout_s)
        self.voice = voice
        self.rate = rate
        self.cache = cache if cache is not None else SynthesisCache(cache_dir)
        self.preprocess: Callable[[str], str] | None = None
        self._inflight: dict[CacheKey, asyncio.Task[Audio]] = {}
        self._count_lock = threading.Lock()
        self.engine_calls = 0  # how often the engine really ran (cache misses)

    def spoken(self, text: str) -> str:
        """What the engine will say for ``text``: preprocessed, whitespace collapsed."""
        if self.preprocess is not None:
            text = self.preprocess(text)
        return normalise_text(text)

    def cache_key(self, text: str) -> CacheKey:
        return self.cache.key(self.name, self.voice, self.rate, self.spoken(text))

    async def synthesize(self, text: str) -> Audio:
        """Speech for ``text`` at ``self.rate``; cached, one engine run per distinct text, and
        bounded by ``call_timeout_s`` (:class:`~speech.errors.EngineTimeout`)."""
        return await self.within_limit(self._synthesize_cached(text))

    async def _synthesize_cached(self, text: str) -> Audio:
        key = self.cache_key(text)
        if not key[3]:
            return Audio(b"", self.rate)
        hit = self.cache.get_memory(key)
        if hit is not None:
            return hit
        task = self._inflight.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self.run_in_pool(self._produce, key))
            self._inflight[key] = task
            task.add_done_callback(lambda _done: self._forget(key, _done))
        return await asyncio.shield(task)

    def _forget(self, key: CacheKey, task: asyncio.Task[Audio]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    def synthesize_sync(self, text: str) -> Audio:
        """Blocking variant for scripts and benchmarks (never call it on the event loop)."""
        key = self.cache_key(text)
        if not key[3]:
            return Audio(b"", self.rate)
        return self._produce(key)

    async def warm(self, texts: Iterable[str]) -> None:
        """Synthesize fixed prompts ahead of time (the pool bounds how many run at once)."""
        await asyncio.gather(*(self._synthesize_cached(t) for t in dict.fromkeys(texts)))

    def _produce(self, key: CacheKey) -> Audio:
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        self._load_sync()
        with self._count_lock:
            self.engine_calls += 1
        audio = self._synthesize_sync(key[3]).resample(self.rate).trimmed()
        return self.cache.put(key, audio)

    @abstractmethod
    def _synthesize_sync(self, text: str) -> Audio:
        """Speak ``text`` (whitespace-normalised, not empty) at the engine's own rate."""

    def close(self) -> None:
        """Release processes or models; engines that hold some override this."""


_REGISTRY: Registry[Synthesizer] = Registry("synthesizer")
SYNTHESIZERS = _REGISTRY.engines
register_synthesizer = _REGISTRY.register


def create_synthesizer(name: str, **options: Any) -> Synthesizer:
    """Build the engine registered as ``name`` with its options (from config)."""
    return _REGISTRY.create(name, **options)
