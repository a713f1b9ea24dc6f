"""Local files and uploaded bytes turned into Gemini input parts, within size and type limits."""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from .domain import Attachment, AttachmentKind
from .errors import AttachmentError
from .safe_open import location, open_once, read_at_most

# Inline data travels base64-encoded (x4/3) in one request, which Gemini caps at about 20 MB.
MAX_FILE_BYTES = 14 * 1024 * 1024
MAX_TOTAL_BYTES = 14 * 1024 * 1024
MAX_TEXT_BYTES = 1024 * 1024
MAX_FILES = 10

# The mime types the API lists for each kind (google/genai/_gaos/types/interactions/{image,document,audio}content.py).
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "image/gif"}
DOCUMENT_TYPES = {"application/pdf"}
AUDIO_TYPES = {
    "audio/wav", "audio/mp3", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac", "audio/mpeg",
    "audio/m4a", "audio/opus", "audio/webm",
}  # fmt: skip
# Names systems (Python's mimetypes, browsers, Slack) give the same formats; the API takes only its own.
ALIASES = {
    "audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav",
    "audio/x-aiff": "audio/aiff", "audio/x-flac": "audio/flac", "audio/x-aac": "audio/aac",
    "audio/x-m4a": "audio/m4a", "audio/mp4": "audio/m4a", "audio/x-mpeg": "audio/mpeg", "audio/x-mp3": "audio/mp3",
    "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png",
}  # fmt: skip
TEXT_SUFFIXES = {
    ".txt", ".md", ".markdown", ".csv", ".tsv", ".json", ".yaml", ".yml", ".toml", ".xml", ".html",
    ".py", ".js", ".ts", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".sql", ".sh", ".log", ".ini", ".rst",
}  # fmt: skip
SUPPORTED = "images (PNG, JPEG, WebP, HEIC, GIF), PDF, audio (WAV, MP3, AIFF, AAC, OGG, FLAC, M4A, Opus) and plain text"

_SNIFF = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
)


def _sniff(data: bytes) -> str | None:
    for magic, mime in _SNIFF:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _kind(name: str, mime: str | None, data: bytes) -> tuple[AttachmentKind, str]:
    mime = (mime or "").split(";")[0].strip().lower() or None
    if mime in (None, "application/octet-stream", "binary/octet-stream"):
        mime = _sniff(data) or mimetypes.guess_type(name)[0]
    mime = ALIASES.get(mime or "", mime)
    if mime in IMAGE_TYPES:
        return "image", mime
    if mime in DOCUMENT_TYPES:
        return "document", mime
    if mime in AUDIO_TYPES:
        return "audio", mime
    if (mime or "").startswith("text/") or Path(name).suffix.lower() in TEXT_SUFFIXES:
        if len(data) > MAX_TEXT_BYTES:
            raise AttachmentError(
                f"{name} is {len(data):,} bytes of text; the limit for text files is {MAX_TEXT_BYTES:,} bytes. "
                "Attach an excerpt instead."
            )
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise AttachmentError(
                f"{name} is not UTF-8 text. Convert it to UTF-8 or attach it as a PDF."
            ) from None
        return "text", "text/plain"
    raise AttachmentError(f"{name} has an unsupported type ({mime or 'unknown'}). Supported: {SUPPORTED}.")


def from_bytes(name: str, data: bytes, mime_type: str | None = None) -> Attachment:
    """An attachment from bytes we already hold (e.g. a file shared in Slack)."""
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentError(
            f"{name} is {len(data) / 1048576:.1f} MiB; the limit is {MAX_FILE_BYTES // 1048576} MiB per file."
        )
    if not data:
        raise AttachmentError(f"{name} is empty.")
    kind, mime = _kind(name, mime_type, data)
    return Attachment(name=name, mime_type=mime, data=data, kind=kind)


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _not_allowed(raw: str) -> AttachmentError:
    """The one answer over HTTP for a file that is missing or outside the roots: neither says which, nor where
    the roots are."""
    return AttachmentError(
        f"{raw} is not a file this server may read: it does not exist, or it is outside the folders the "
        "operator allowed (GEMINI_INTERACTIONS_FILE_ROOTS). Check the path."
    )


def _missing(raw: str, roots: Sequence[Path] | None) -> AttachmentError:
    return (
        _not_allowed(raw) if roots is not None else AttachmentError(f"{raw} does not exist. Check the path.")
    )


def _too_large(raw: str, size: int) -> AttachmentError:
    return AttachmentError(
        f"{raw} is {size / 1048576:.1f} MiB; the limit is {MAX_FILE_BYTES // 1048576} MiB per file."
    )


def load_file(path: str | Path, *, roots: Sequence[Path] | None) -> Attachment:
    """Read a local file. ``roots=None`` allows any file; otherwise it must lie inside one of ``roots``.

    The file is opened once, by its resolved path, without following a final symlink and without blocking (a
    FIFO or a device opens at once, and is refused). What is checked is the open descriptor: a regular file,
    whose real path is inside the roots; then at most the limit plus one byte is read from it. Swapping a
    folder on the way for a symlink, or the file for a FIFO, between the check and the read changes nothing.
    """
    raw = str(path).strip()
    if not raw:
        raise AttachmentError("An attachment path is empty.")
    if "\x00" in raw:
        raise AttachmentError(
            "An attachment path contains a NUL byte (\\x00), which no file name can hold. Check the path."
        )
    try:
        candidate = Path(raw).expanduser()
    except RuntimeError:  # "~name" for a user this machine does not have, or no home directory at all
        raise AttachmentError(
            f"{raw} starts with '~', but that home directory is unknown here. Give the full path of the file."
        ) from None
    resolved_roots = None
    if roots is not None:
        if not roots:
            raise AttachmentError(
                "Attaching files is disabled on this server. The operator can allow folders with "
                "GEMINI_INTERACTIONS_FILE_ROOTS (':'-separated absolute paths)."
            )
        if not candidate.is_absolute():
            raise AttachmentError(f"{raw} is not an absolute path; give the full path of the file.")
        resolved_roots = [Path(r).resolve() for r in roots]
    try:
        resolved = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(raw, roots) from None
    except (OSError, RuntimeError) as exc:  # a loop of symlinks, a name too long, a folder we may not enter
        if roots is not None:
            raise _not_allowed(raw) from None
        raise AttachmentError(f"{raw} cannot be read ({exc.__class__.__name__}).") from None
    if resolved_roots is not None and not _inside(resolved, resolved_roots):
        raise _not_allowed(raw)  # early, and cheap; the descriptor is what decides
    data = _read_once(resolved, raw, resolved_roots)
    return from_bytes(resolved.name, data)


def _read_once(resolved: Path, raw: str, roots: Sequence[Path] | None) -> bytes:
    try:
        fd = open_once(resolved)
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(raw, roots) from None
    except OSError as exc:  # ELOOP: a symlink appeared where the resolved path had none
        if roots is not None:
            raise _not_allowed(raw) from None
        raise AttachmentError(f"{raw} cannot be read ({exc.strerror or exc.__class__.__name__}).") from None
    try:
        if roots is not None:
            where = location(fd, resolved)
            if where is None or not _inside(where, roots):
                raise _not_allowed(raw)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AttachmentError(f"{raw} is not a regular file.")
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(raw, info.st_size)
        data = read_at_most(fd, MAX_FILE_BYTES + 1)  # the size said is a claim; the bytes read are the fact
    except OSError as exc:
        raise AttachmentError(f"{raw} cannot be read ({exc.strerror or exc.__class__.__name__}).") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(raw, len(data))
    return data


def load_files(paths: Sequence[str], *, roots: Sequence[Path] | None) -> list[Attachment]:
    if len(paths) > MAX_FILES:
        raise AttachmentError(f"{len(paths)} attachments given; at most {MAX_FILES} per message.")
    loaded = [load_file(p, roots=roots) for p in paths]
    total = sum(len(a.data) for a in loaded)
    if total > MAX_TOTAL_BYTES:
        raise AttachmentError(
            f"The attachments add up to {total / 1048576:.1f} MiB; the limit is "
            f"{MAX_TOTAL_BYTES // 1048576} MiB per message."
        )
    return loaded
