"""Local files and uploaded bytes turned into Gemini input parts, within size and type limits."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path

from .domain import Attachment, AttachmentKind
from .errors import AttachmentError

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


def load_file(path: str | Path, *, roots: Sequence[Path] | None) -> Attachment:
    """Read a local file. ``roots=None`` allows any file; otherwise it must resolve inside one of ``roots``.

    The path is resolved (symlinks and ``..``) before the check, so neither can escape a root.
    """
    raw = str(path).strip()
    if not raw:
        raise AttachmentError("An attachment path is empty.")
    candidate = Path(raw).expanduser()
    if roots is not None:
        if not roots:
            raise AttachmentError(
                "Attaching files is disabled on this server. The operator can allow folders with "
                "GEMINI_INTERACTIONS_FILE_ROOTS (':'-separated absolute paths)."
            )
        if not candidate.is_absolute():
            raise AttachmentError(f"{raw} is not an absolute path; give the full path of the file.")
    try:
        resolved = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise AttachmentError(f"{raw} does not exist. Check the path.") from None
    except (OSError, RuntimeError) as exc:
        raise AttachmentError(f"{raw} cannot be read ({exc.__class__.__name__}).") from None
    if roots is not None:
        resolved_roots = [Path(r).resolve() for r in roots]
        if not _inside(resolved, resolved_roots):
            allowed = ", ".join(str(r) for r in resolved_roots)
            raise AttachmentError(f"{raw} is outside the folders this server may read ({allowed}).")
    if not resolved.is_file():
        raise AttachmentError(f"{raw} is not a regular file.")
    size = resolved.stat().st_size
    if size > MAX_FILE_BYTES:
        raise AttachmentError(
            f"{raw} is {size / 1048576:.1f} MiB; the limit is {MAX_FILE_BYTES // 1048576} MiB per file."
        )
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise AttachmentError(f"{raw} cannot be read ({exc.strerror or exc.__class__.__name__}).") from None
    return from_bytes(resolved.name, data)


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
