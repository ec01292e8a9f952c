"""A small linear intent classifier (multinomial logistic regression) in numpy.

Training is full-batch gradient descent with Adam and L2 regularisation over binary
features from :mod:`nlu.features` (tf-idf weighted, L2-normalised rows); it takes well
under a second for a thousand examples. Prediction sums the weight rows of the active
features, so one utterance costs a few microseconds after featurisation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nlu.features import featurize

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TrainOptions:
    epochs: int = 300
    learning_rate: float = 0.05
    l2: float = 1e-4
    min_count: int = 1
    seed: int = 0


class IntentModel:
    """Vocabulary + weight matrix; :meth:`predict` gives intents ranked by probability."""

    def __init__(
        self,
        intents: list[str],
        vocabulary: dict[str, int],
        idf: FloatArray,
        weights: FloatArray,
        bias: FloatArray,
    ) -> None:
        self.intents = intents
        self.vocabulary = vocabulary
        self.idf = idf
        self.weights = weights
        self.bias = bias

    @classmethod
    def train(
        cls, texts: Sequence[str], labels: Sequence[str], options: TrainOptions | None = None
    ) -> IntentModel:
        if len(texts) != len(labels) or not texts:
            raise ValueError("need the same, non-zero number of texts and labels")
        opts = options or TrainOptions()
        intents = sorted(set(labels))
        featurized = [featurize(t) for t in texts]
        counts: dict[str, int] = {}
        for feats in featurized:
            for f in set(feats):
                counts[f] = counts.get(f, 0) + 1
        vocabulary = {
            f: i for i, f in enumerate(sorted(f for f, c in counts.items() if c >= opts.min_count))
        }
        df = np.zeros(len(vocabulary), dtype=np.float32)
        for f, i in vocabulary.items():
            df[i] = counts[f]
        idf = (np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).astype(np.float32)
        x = np.zeros((len(texts), len(vocabulary)), dtype=np.float32)
        for row, feats in enumerate(featurized):
            ids = [vocabulary[f] for f in set(feats) if f in vocabulary]
            x[row, ids] = idf[ids]
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
        y = np.zeros((len(texts), len(intents)), dtype=np.float32)
        index = {name: i for i, name in enumerate(intents)}
        y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
        weights, bias = _fit_softmax(x, y, opts)
        return cls(intents, vocabulary, idf, weights, bias)

    def vector(self, text: str) -> tuple[list[int], FloatArray]:
        ids = sorted({self.vocabulary[f] for f in featurize(text) if f in self.vocabulary})
        values = self.idf[ids]
        norm = float(np.linalg.norm(values)) if ids else 1.0
        return ids, values / max(norm, 1e-9)

    def predict(self, text: str) -> list[tuple[str, float]]:
        """All intents with probabilities, best first."""
        ids, values = self.vector(text)
        logits = self.bias + values @ self.weights[ids] if ids else self.bias.copy()
        probs = _softmax(logits[None, :])[0]
        order = np.argsort(-probs)
        return [(self.intents[i], float(probs[i])) for i in order]

    def save(self, folder: Path, meta: dict[str, object]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        features = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        np.savez_compressed(
            folder / "weights.npz", idf=self.idf, weights=self.weights, bias=self.bias
        )
        payload = {**meta, "intents": self.intents, "features": features}
        (folder / "model.json").write_text(json.dumps(payload, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> tuple[IntentModel, dict[str, object]]:
        payload = json.loads((folder / "model.json").read_text("utf-8"))
        with np.load(folder / "weights.npz") as arrays:
            idf, weights, bias = arrays["idf"], arrays["weights"], arrays["bias"]
        vocabulary = {f: i for i, f in enumerate(payload.pop("features"))}
        intents = list(payload.pop("intents"))
        if weights.shape != (len(vocabulary), len(intents)):
            raise ValueError(f"{folder}: weights do not match the vocabulary; retrain")
        return cls(intents, vocabulary, idf, weights, bias), payload


def _softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def _fit_softmax(x: FloatArray, y: FloatArray, opts: TrainOptions) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(opts.seed)
    n, d = x.shape
    k = y.shape[1]
    w = (rng.standard_normal((d, k)) * 0.01).astype(np.float32)
    b = np.zeros(k, dtype=np.float32)
    params = [w, b]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, opts.epochs + 1):
        probs = _softmax(x @ w + b)
        grad_logits = (probs - y) / n
        grads = [x.T @ grad_logits + opts.l2 * w, grad_logits.sum(axis=0)]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat = m[i] / (1 - beta1**step)
            v_hat = v[i] / (1 - beta2**step)
            p -= (opts.learning_rate * m_hat / (np.sqrt(v_hat) + eps)).astype(np.float32)
    return w, b
