"""Turns attacker-controlled attachment names into names safe to store and offer for download.

Owns sanitising (no path parts, control or bidi characters, leading dots, over-long names) and
the "attachment-{n}{ext}" fallback. Pure: no I/O (deliberately not `mimetypes`, which reads
system files).
"""

import re
import unicodedata

MAX_FILENAME_BYTES = 255

# A small fixed table instead of `mimetypes`: the result must not depend on the host's mime.types.
_EXTENSIONS: dict[str, str] = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "text/xml": ".xml",
    "text/rfc822-headers": ".txt",
    "text/enriched": ".txt",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "message/feedback-report": ".txt",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/svg+xml": ".svg",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "application/x-gzip": ".gz",
    "application/json": ".json",
    "application/xml": ".xml",
    "application/ics": ".ics",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/ms-tnef": ".dat",
    "application/octet-stream": ".bin",
}

# Windows-reserved punctuation: harmless on POSIX, but these names end up on users' desktops.
_RESERVED = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")


def extension_for(content_type: str) -> str:
    """Return the conventional extension (with dot) for a content type, or "" when unknown."""
    return _EXTENSIONS.get(content_type.lower(), "")


def fallback_filename(index: int, content_type: str) -> str:
    """Return the name used when a part has no usable name: attachment-{index}{ext}."""
    return f"attachment-{index}{extension_for(content_type)}"


def _keep_char(char: str) -> bool:
    # Cc: control characters (NUL, CR, LF, ESC...). Cf: format characters such as U+202E
    # RIGHT-TO-LEFT OVERRIDE, used to disguise "invoice\u202efdp.exe" as "invoiceexe.pdf".
    # Cs: lone surrogates left over from undecodable bytes; they cannot be encoded as UTF-8.
    return unicodedata.category(char) not in ("Cc", "Cf", "Cs")


def _truncate(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    # Keep a short extension so the type stays recognisable; a long "extension" is just text.
    if not dot or not stem or len(ext.encode("utf-8")) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_FILENAME_BYTES - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return cut.rstrip(" .") + suffix


def safe_filename(name: str | None, index: int, content_type: str) -> str:
    """Sanitise a decoded filename; use attachment-{index}{ext} when nothing usable remains.

    Args:
        name: the filename as decoded from RFC 2231/2047 parameters, or None when absent.
        index: 1-based position of the attachment in the message, used only by the fallback.
        content_type: lower-case maintype/subtype, used only for the fallback's extension.
    """
    if not name:
        return fallback_filename(index, content_type)
    cleaned = unicodedata.normalize("NFC", name)
    # Keep only the last path component, as RFC 6266 asks of recipients: "../../etc/passwd"
    # becomes "passwd" and "C:\\x\\y.exe" becomes "y.exe".
    cleaned = re.split(r"[/\\]", cleaned)[-1]
    cleaned = "".join(c for c in cleaned if _keep_char(c))
    cleaned = _RESERVED.sub("_", cleaned)
    cleaned = _SPACES.sub(" ", cleaned)
    # Leading dots make hidden files (or "." / ".."); trailing dots and spaces are dropped by
    # Windows, so "evil.exe." would silently become an executable there.
    cleaned = cleaned.strip().lstrip(".").rstrip(". ").strip()
    cleaned = _truncate(cleaned)
    if not cleaned or cleaned in (".", ".."):
        return fallback_filename(index, content_type)
    return cleaned
