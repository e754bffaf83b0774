"""Text of attachments for indexing: PDF, DOCX, XLSX, PPTX, CSV, TXT and HTML.

Every extractor runs behind guards: a size limit, a character budget, and for the ZIP-based
Office formats a check of the declared uncompressed sizes and compression ratio *before*
opening them (zip bombs). Anything that cannot be read becomes a `Skipped` with a reason;
an attachment never fails the pipeline.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_TEXT_CHARS = 200_000  # text kept per attachment
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100  # uncompressed/compressed, per member and overall
MAX_ZIP_MEMBERS = 5_000
MAX_PDF_PAGES = 300
MAX_SHEET_CELLS = 200_000


@dataclass(frozen=True)
class Extracted:
    text: str
    kind: str


@dataclass(frozen=True)
class Skipped:
    reason: str
    kind: str


class _Budget(Exception):
    """The character budget is used up: stop reading, keep what we have."""


class _Collector:
    def __init__(self, limit: int = MAX_TEXT_CHARS) -> None:
        self.parts: list[str] = []
        self.left = limit

    def add(self, text: str | None) -> None:
        if not text:
            return
        text = text[: self.left]
        self.parts.append(text)
        self.left -= len(text)
        if self.left <= 0:
            raise _Budget

    def text(self) -> str:
        return "\n".join(self.parts)


_KINDS = {
    ".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx", ".xlsm": "xlsx", ".pptx": "pptx",
    ".csv": "csv", ".txt": "txt", ".text": "txt", ".md": "txt", ".log": "txt",
    ".html": "html", ".htm": "html",
}  # fmt: skip
_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "text/csv": "csv", "text/plain": "txt", "text/markdown": "txt", "text/html": "html",
}  # fmt: skip


def kind_of(filename: str, content_type: str) -> str | None:
    kind = _TYPES.get(content_type.split(";")[0].strip().lower())
    return kind or _KINDS.get(PurePosixPath(filename.lower()).suffix)


def extract(data: bytes, filename: str, content_type: str, *, max_bytes: int) -> Extracted | Skipped:
    kind = kind_of(filename, content_type)
    if kind is None:
        return Skipped(f"unsupported type {content_type or 'unknown'}", "other")
    if len(data) > max_bytes:
        return Skipped(f"larger than {max_bytes} bytes", kind)
    try:
        if kind in ("docx", "xlsx", "pptx"):
            problem = zip_problem(data)
            if problem:
                return Skipped(problem, kind)
        text = _EXTRACTORS[kind](data)
    except _EncryptedPdf:
        return Skipped("encrypted PDF", kind)
    except Exception as exc:  # noqa: BLE001  (corrupt files raise anything; record, never fail)
        return Skipped(f"unreadable {kind}: {type(exc).__name__}: {str(exc)[:200]}", kind)
    return Extracted(text, kind)


def zip_problem(data: bytes) -> str | None:
    """Why this Office file must not be opened (None when it looks sane); reads only the
    central directory, never the members."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return f"not a valid ZIP container: {exc}"
    if len(infos) > MAX_ZIP_MEMBERS:
        return f"zip bomb suspected: {len(infos)} members"
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        return f"zip bomb suspected: {total} bytes uncompressed"
    for info in infos:
        if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            return f"zip bomb suspected: {info.filename} expands {info.file_size // max(info.compress_size, 1)}x"
    if total > 1_000_000 and total > MAX_RATIO * max(len(data), 1):
        return f"zip bomb suspected: expands {total // max(len(data), 1)}x"
    return None


class _EncryptedPdf(Exception):
    pass


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        raise _EncryptedPdf
    out = _Collector()
    try:
        for i, page in enumerate(reader.pages):
            if i >= MAX_PDF_PAGES:
                break
            out.add(page.extract_text())
    except _Budget:
        pass
    return out.text()


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    out = _Collector()
    try:
        for para in document.paragraphs:
            out.add(para.text)
        for table in document.tables:
            for row in table.rows:
                out.add(" | ".join(cell.text for cell in row.cells))
    except _Budget:
        pass
    return out.text()


def _xlsx(data: bytes) -> str:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out = _Collector()
    cells = 0
    try:
        for sheet in book.worksheets:
            out.add(f"# {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                cells += len(row)
                if cells > MAX_SHEET_CELLS:
                    raise _Budget
                values = [str(v) for v in row if v is not None]
                if values:
                    out.add(" | ".join(values))
    except _Budget:
        pass
    finally:
        book.close()
    return out.text()


def _pptx(data: bytes) -> str:
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    out = _Collector()
    try:
        for slide in deck.slides:
            for shape in slide.shapes:
                if shape.has_text_frame:
                    out.add(shape.text_frame.text)
    except _Budget:
        pass
    return out.text()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _txt(data: bytes) -> str:
    return _decode(data[: MAX_TEXT_CHARS * 4])[:MAX_TEXT_CHARS]


def _csv(data: bytes) -> str:
    out = _Collector()
    try:
        for row in csv.reader(io.StringIO(_txt(data))):
            out.add(" | ".join(cell for cell in row if cell))
    except _Budget:
        pass
    return out.text()


def _html(data: bytes) -> str:
    from mailparse.html_text import html_to_text

    return html_to_text(_decode(data[: MAX_TEXT_CHARS * 8]))[:MAX_TEXT_CHARS]


_EXTRACTORS = {
    "pdf": _pdf, "docx": _docx, "xlsx": _xlsx, "pptx": _pptx, "csv": _csv, "txt": _txt,
    "html": _html,
}  # fmt: skip
