"""Real PNG (or JPEG) images drawn with Pillow, sized like the image models size them.

The colour comes from a hash of the prompt that started the image thread; each refinement keeps the colour
and draws a different mark, so a test can tell "the same picture, refined" from "a new picture".
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

# Pixel sizes at image_size "1K" (the model's documented 1K grid); other sizes scale these.
SIZES_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (384, 3072),
    "8:1": (3072, 384),
}
SCALES: dict[str, float] = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
MARKS = ("circle", "square", "triangle", "diamond")


@dataclass(frozen=True)
class ImageSeed:
    """What an image thread carries from turn to turn."""

    colour: tuple[int, int, int]
    generation: int  # 0 for the first image, +1 per refinement
    root_prompt: str

    def refined(self) -> ImageSeed:
        return ImageSeed(self.colour, self.generation + 1, self.root_prompt)

    @property
    def mark(self) -> str:
        return MARKS[self.generation % len(MARKS)]


def seed_for(prompt: str) -> ImageSeed:
    digest = hashlib.sha256(prompt.encode()).digest()
    colour = (64 + digest[0] % 160, 64 + digest[1] % 160, 64 + digest[2] % 160)
    return ImageSeed(colour, 0, prompt)


def image_dimensions(aspect_ratio: str | None, image_size: str | None) -> tuple[int, int]:
    width, height = SIZES_1K.get(aspect_ratio or "1:1", SIZES_1K["1:1"])
    scale = SCALES.get(image_size or "1K", 1.0)
    return round(width * scale), round(height * scale)


def render_image(seed: ImageSeed, caption: str, size: tuple[int, int], mime_type: str = "image/png") -> bytes:
    width, height = size
    image = Image.new("RGB", size, seed.colour)
    draw = ImageDraw.Draw(image)
    ink = tuple(255 - c for c in seed.colour)
    side = min(width, height) // 2
    cx, cy = width // 2, height // 2
    box = (cx - side // 2, cy - side // 2, cx + side // 2, cy + side // 2)
    match seed.mark:
        case "circle":
            draw.ellipse(box, fill=ink)
        case "square":
            draw.rectangle(box, fill=ink)
        case "triangle":
            draw.polygon([(cx, box[1]), (box[2], box[3]), (box[0], box[3])], fill=ink)
        case _:
            draw.polygon([(cx, box[1]), (box[2], cy), (cx, box[3]), (box[0], cy)], fill=ink)
    font = _font(max(10, min(width, height) // 24))
    label = f"{caption[:60]}  (v{seed.generation + 1})"
    draw.text((max(4, width // 40), max(4, height // 40)), label, fill=ink, font=font)
    return _encode(image, mime_type)


def render_chart(title: str, values: list[float], size: tuple[int, int] = (1024, 576)) -> bytes:
    """A bar chart, the kind of visualisation a research report embeds."""
    width, height = size
    image = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    font = _font(22)
    draw.text((24, 16), title[:70], fill=(30, 30, 30), font=font)
    top, bottom, left = 70, height - 40, 60
    draw.line((left, bottom, width - 20, bottom), fill=(30, 30, 30), width=2)
    slot = (width - left - 40) / max(1, len(values))
    peak = max(values) if values and max(values) > 0 else 1.0
    for i, value in enumerate(values):
        x0 = left + 10 + i * slot
        bar_top = bottom - (bottom - top) * (value / peak)
        draw.rectangle((x0, bar_top, x0 + slot * 0.7, bottom), fill=(66, 133, 244))
    return _encode(image, "image/png")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _encode(image: Image.Image, mime_type: str) -> bytes:
    buffer = io.BytesIO()
    if mime_type == "image/jpeg":
        image.save(buffer, format="JPEG", quality=85)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
