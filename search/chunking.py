"""Splitting text into overlapping chunks that fit the embedding model (256 word pieces)."""

from __future__ import annotations

import re

# ~4 characters per word piece: 800 characters stay under 256 tokens for ordinary prose.
CHUNK_CHARS = 800
OVERLAP_CHARS = 120
MAX_CHUNKS = 200  # per document: a 10 MB attachment must not become 12 000 vectors
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK = re.compile(r"\n\s*\n+")


def normalize(text: str) -> str:
    text = _SPACE.sub(" ", text.replace("\x00", ""))
    return _BLANK.sub("\n\n", text).strip()


def chunk_text(text: str, *, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Chunks of at most `size` characters, cut at paragraph, sentence or word boundaries."""
    text = normalize(text)
    if not text:
        return []
    chunks: list[str] = []
    start = 0
    while start < len(text) and len(chunks) < MAX_CHUNKS:
        end = min(len(text), start + size)
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind("\n\n"), window.rfind(". "), window.rfind("\n"))
            if cut < size // 2:
                cut = window.rfind(" ")
            if cut > size // 4:
                end = start + cut + 1
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        # Restart on a word boundary so overlaps never begin mid-word.
        space = text.find(" ", start, end)
        if space != -1:
            start = space + 1
    return chunks
