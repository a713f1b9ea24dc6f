"""Generated images on disk, and small previews of them."""

from __future__ import annotations

import io
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .domain import GeneratedImage
from .private_files import private_dir, write_private

PREVIEW_MAX_SIDE = 384
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


@dataclass(frozen=True, slots=True)
class SavedImage:
    path: Path  # absolute, under the images dir
    mime_type: str
    bytes: int
    width: int
    height: int


def _dimensions(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return img.size


def safe_stem(text: str, limit: int = 80) -> str:
    """``text`` made safe as a file name: letters, digits, ``-`` and ``_`` only (so never a path), cut to ``limit``."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:limit]


def save(image: GeneratedImage, directory: Path, stem: str) -> SavedImage:
    """Write the image under ``directory`` with a name we choose (never one taken from input)."""
    private_dir(directory)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_stem(stem) or 'image'}-{secrets.token_hex(3)}"
    path = directory / f"{name}{_EXTENSIONS.get(image.mime_type, '.bin')}"
    write_private(path, image.data)
    try:
        width, height = _dimensions(image.data)
    except Exception:  # an image Pillow cannot read still gets saved
        width = height = 0
    return SavedImage(
        path=path.resolve(), mime_type=image.mime_type, bytes=len(image.data), width=width, height=height
    )


def as_png(image: GeneratedImage) -> bytes:
    """The image as PNG bytes: as it is when Gemini sent a PNG, else converted with Pillow."""
    if image.mime_type == "image/png":
        return image.data
    from PIL import Image

    with Image.open(io.BytesIO(image.data)) as img:
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()


def preview(data: bytes, max_side: int = PREVIEW_MAX_SIDE) -> tuple[bytes, str]:
    """A small JPEG (or PNG when transparent) for inline display; the full file stays on disk."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.thumbnail((max_side, max_side))
        out = io.BytesIO()
        if img.mode in ("RGBA", "LA", "P"):
            img.save(out, format="PNG", optimize=True)
            return out.getvalue(), "image/png"
        img.convert("RGB").save(out, format="JPEG", quality=80)
        return out.getvalue(), "image/jpeg"
