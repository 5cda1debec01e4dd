"""Image decoding with one-line errors and orientation/colour normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import DataError

#: Images whose longer side exceeds this many pixels are downscaled on load (memory guard).
MAX_SIDE = 2048


def load_rgb(path: str | Path, max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode an image file to an RGB array.

    EXIF orientation is applied; grayscale, palette, RGBA and CMYK images are converted to
    RGB; an image whose longer side is above ``max_side`` pixels is downscaled (aspect kept)
    while decoding, so a huge photo cannot exhaust memory.

    Parameters
    ----------
    path : str or Path
        Image file (any format Pillow reads).
    max_side : int
        Longest allowed side in pixels.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8

    Raises
    ------
    DataError
        If the file is missing, not an image, or truncated/corrupt.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            if max(im.size) > max_side:
                im.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale
            im = ImageOps.exif_transpose(im)
            if max(im.size) > max_side:
                im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            if im.mode != "RGB":
                if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    im = im.convert("RGBA")
                    background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                    im = Image.alpha_composite(background, im)
                im = im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file (cannot identify format)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: corrupt or truncated image ({err})") from None
