"""Thumbnails as data URIs, made from the original images (never from the ``.bin`` files); an image that is
gone since the run is a grey box with its name, never a failure."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Callable, Dict, Optional

THUMB_PX = 128  # longest side
JPEG_QUALITY = 80


def thumbnail_uri(path: Path, size: int = THUMB_PX) -> Optional[str]:
    """A JPEG data URI of ``path`` scaled to fit ``size`` x ``size``; None when it cannot be read as an image."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster for large photos
            rgb = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    rgb.thumbnail((size, size))
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class Thumbnails:
    """Each image's thumbnail, made once; ``locate`` maps an image name to its original file."""

    def __init__(self, locate: Callable[[str], Optional[Path]], size: int = THUMB_PX) -> None:
        self.locate = locate
        self.size = size
        self._made: Dict[str, Optional[str]] = {}
        self.missing = 0

    def uri(self, image: str) -> Optional[str]:
        if image not in self._made:
            path = self.locate(image)
            self._made[image] = thumbnail_uri(path, self.size) if path is not None else None
            if self._made[image] is None:
                self.missing += 1
        return self._made[image]

    def tag(self, image: str) -> str:
        """An ``<img>`` of the thumbnail, or a grey box naming the image when it cannot be had."""
        uri = self.uri(image)
        name = html.escape(image)
        if uri is None:
            return (f'<div class="thumb gone" title="{name}: the original image is gone or unreadable">'
                    f'<span>{name}<br>(image gone)</span></div>')
        return f'<img class="thumb" src="{uri}" alt="{name}" title="{name}">'
