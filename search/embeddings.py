"""Text → vectors, offline by default: chromadb's all-MiniLM-L6-v2 ONNX model from
`settings.embedding_model_dir`, or a remote model through litellm.

One embedder per process (building the ONNX session costs ~0.2 s). Texts are sorted by
length and batched, and each batch is padded only to its longest text: chromadb pads
every text to 256 tokens, which costs ~40 ms per text on 2 cores (PERFORMANCE.md).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from settings import Settings

MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 32
MAX_TOKENS = 256


class EmbeddingUnavailable(RuntimeError):
    """No embedding model is configured or it cannot be loaded: search falls back to keywords."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalEmbedder:
    """The ONNX MiniLM model with dynamic (longest-in-batch) padding."""

    def __init__(self, model_dir: Path, *, pad_to_longest: bool = True) -> None:
        from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

        folder = model_dir / MODEL_NAME
        if not (folder / "onnx" / "model.onnx").is_file():
            raise EmbeddingUnavailable(f"no {MODEL_NAME}/onnx/model.onnx under {model_dir}")
        self.name = f"local:{MODEL_NAME}"
        self._ef = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
        # An instance attribute, not the class one: nothing global changes, nothing downloads.
        self._ef.DOWNLOAD_PATH = str(folder)  # type: ignore[misc]
        tokenizer = self._ef.tokenizer  # the cached_property: built once, then adjusted
        if pad_to_longest:
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # no length: pad to longest
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # One batch at a time: on 2 cores parallel ONNX runs only contend for the same cores.
        self._lock = threading.Lock()
        self._session = self._build_session(folder / "onnx" / "model.onnx")

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            with self._lock:
                vectors = self._forward([texts[i] or " " for i in idx])
            for i, vec in zip(idx, vectors, strict=True):
                out[i] = [float(x) for x in vec]
        return out


    @staticmethod
    def _build_session(path: Path) -> Any:
        """Our own ONNX session: chromadb's lets idle threads spin, which on a busy 2-core
        machine (worker, API, PostgreSQL and Temporal side by side) costs more than it saves."""
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])

    def _forward(self, batch: list[str]) -> list[list[float]]:
        """chromadb's forward pass, but one `encode_batch` so padding stops at the longest."""
        import numpy as np

        encoded = self._ef.tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        onnx_input = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, onnx_input)[0]
        weights = np.expand_dims(mask, -1).astype(np.float32)
        pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
        return self._ef._normalize(pooled).astype(np.float32).tolist()  # type: ignore[no-any-return]


class RemoteEmbedder:
    """An embedding model behind an API, through litellm (retries off: Temporal retries)."""

    def __init__(self, settings: Settings) -> None:
        self.name = f"remote:{settings.embedding_remote_model}"
        self._settings = settings

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        import litellm

        s = self._settings
        resp = litellm.embedding(
            model=s.embedding_remote_model, input=texts, api_base=s.llm_api_base or None,
            api_key=s.llm_api_key.get_secret_value() if s.llm_api_key else None,
            timeout=s.llm_timeout_seconds, num_retries=0,
        )  # fmt: skip
        return [list(map(float, item["embedding"])) for item in resp.data]


_lock = threading.Lock()
_cache: dict[tuple[str, str], Embedder | EmbeddingUnavailable] = {}


def get_embedder(settings: Settings) -> Embedder:
    """The process's embedder for these settings; raises EmbeddingUnavailable (remembered)."""
    key = (settings.embedding_remote_model, str(settings.embedding_model_dir or ""))
    with _lock:
        found = _cache.get(key)
        if found is None:
            try:
                if settings.embedding_remote_model:
                    found = RemoteEmbedder(settings)
                elif settings.embedding_model_dir is None:
                    raise EmbeddingUnavailable("POSTFLOW_EMBEDDING_MODEL_DIR is not set")
                else:
                    found = LocalEmbedder(Path(settings.embedding_model_dir))
            except EmbeddingUnavailable as exc:
                found = exc
            except Exception as exc:  # noqa: BLE001  (a broken model must not break the pipeline)
                found = EmbeddingUnavailable(f"embedding model failed to load: {exc}")
            _cache[key] = found
    if isinstance(found, EmbeddingUnavailable):
        raise found
    return found
