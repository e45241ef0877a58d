"""Opening photos: the only module that reads image files.

Every photo goes through :func:`load_photo`, which sniffs the real format (a PNG named
``.jpg`` is common), refuses decompression bombs before decoding, applies the EXIF
orientation (surviving broken EXIF), converts any mode to 8-bit RGB and caps the working
resolution so that memory stays bounded whatever the photo's size.  Anything that goes
wrong becomes one :class:`ImageError` whose message a user understands.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Photos claiming more pixels than this are refused before decoding (decompression bombs).
DEFAULT_MAX_PIXELS = 150_000_000
#: Photos are decoded and worked on at no more than this many pixels (faces stay far above
#: the encoder's 150 px chip); boxes are still reported in the original photo's pixels.
WORK_PIXELS = 16_000_000


class ImageError(Exception):
    """A photo that cannot be used, with a reason fit to show a user."""


@dataclass
class Photo:
    """An upright RGB photo ready for face detection.

    ``pixels`` is ``uint8[h, w, 3]`` at working resolution; ``scale`` converts its
    coordinates to the original (EXIF-rotated) photo's pixels: ``original = work * scale``.
    """

    pixels: np.ndarray
    scale: float
    width: int
    height: int
    #: Detection copies made while decoding, by longest side and resampling filter: what
    #: :func:`shrink` returns.
    shrunk: dict[tuple[int, str], tuple[np.ndarray, float]] = field(default_factory=dict)


def load_photo(
    path: str | os.PathLike,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    detect_side: int = 0,
    resample: str = "bilinear",
) -> Photo:
    """Open any photo Pillow can read, as an upright RGB array (see module docstring).

    With ``detect_side``, also the copy ``shrink(pixels, detect_side, resample)`` would
    make, made from the decoded image itself: the same pixels without copying them back
    into Pillow.
    """
    try:
        with _pixel_limit(max_pixels), Image.open(path) as img:
            return _prepare(img, max_pixels, detect_side, resample)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except IsADirectoryError:
        raise ImageError("is a directory, not a photo") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except UnidentifiedImageError:
        raise ImageError(_unidentified_reason(path)) from None
    except Image.DecompressionBombError:
        raise _too_many_pixels(f"over {2 * max_pixels:,}", max_pixels) from None
    except OSError as e:
        if e.errno is not None:  # the file system's answer (a symlink loop, an I/O error...)
            raise ImageError(e.strerror or str(e)) from None
        raise ImageError(f"corrupt or truncated image ({e})") from None
    except (SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"corrupt or truncated image ({e})") from None
    except MemoryError:
        raise ImageError("not enough memory to decode this image") from None


def is_image(path: str | os.PathLike) -> bool:
    """True if Pillow recognises the file's content as an image (extension ignored)."""
    try:
        with warnings.catch_warnings(), Image.open(path):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return True
    except Image.DecompressionBombError:
        return True  # an image all the same: load_photo will refuse it with a reason
    except Exception:
        return False


@contextmanager
def _pixel_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's decompression-bomb guard at the user's limit instead of its fixed one.

    Pillow checks the header's size on open, before decoding: it warns above its limit
    (ignored here: :func:`_prepare` refuses those with the photo's size in the message) and
    raises above twice the limit.  The global is restored after the open.
    """
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _too_many_pixels(size: str, max_pixels: int) -> ImageError:
    return ImageError(
        f"too many pixels ({size}; the limit is {max_pixels:,}, raise it with --max-pixels)"
    )


def shrink(
    pixels: np.ndarray, longest_side: int, resample: str = "bilinear"
) -> tuple[np.ndarray, float]:
    """A copy no larger than ``longest_side`` px, and the factor back to ``pixels``' coordinates.

    HOG detection costs grow with pixels: without upsampling it finds faces down to about
    80 px in the copy, so a 1280 px copy of a 4000 px crowd shot loses faces under ~250 px
    (README, Performance, gives the measured trade-off against face_recognition's CLI).
    ``resample="lanczos"`` makes the copy face_recognition's CLI makes (``thumbnail``).
    """
    h, w = pixels.shape[:2]
    if longest_side <= 0 or max(h, w) <= longest_side:
        return pixels, 1.0
    return _resized(Image.fromarray(pixels), longest_side, resample)


def _shrunk_size(w: int, h: int, longest_side: int) -> tuple[int, int]:
    factor = max(h, w) / longest_side
    return max(1, round(w / factor)), max(1, round(h / factor))


def _resized(img: Image.Image, longest_side: int, resample: str) -> tuple[np.ndarray, float]:
    if resample == "lanczos":  # the CLI's own call, its size rounding included
        small = img.copy()
        small.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
    else:
        size = _shrunk_size(img.width, img.height, longest_side)
        small = img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(small), img.width / small.width


def _prepare(
    img: Image.Image, max_pixels: int, detect_side: int = 0, resample: str = "bilinear"
) -> Photo:
    width, height = img.size
    if width * height > max_pixels:
        raise _too_many_pixels(f"{width}x{height}", max_pixels)
    draft_scale = _draft(img)
    img.load()
    img = _to_rgb(_upright(img))
    original = (round(img.width * draft_scale), round(img.height * draft_scale))
    img, reduce_scale = _reduce(img)
    photo = Photo(np.asarray(img), reduce_scale * draft_scale, *original)
    if 0 < detect_side < max(img.size):
        photo.shrunk[detect_side, resample] = _resized(img, detect_side, resample)
    return photo


def _draft(img: Image.Image) -> float:
    """Let a big JPEG decode at 1/2, 1/4 or 1/8 size (cheap in time and memory)."""
    if img.format != "JPEG" or img.width * img.height <= WORK_PIXELS:
        return 1.0
    w, h = img.size
    factor = (w * h / WORK_PIXELS) ** 0.5
    img.draft("RGB", (int(w / factor), int(h / factor)))
    return w / img.size[0]


def _upright(img: Image.Image) -> Image.Image:
    """Apply EXIF orientation; a photo with broken EXIF is used as stored."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if img.getexif().get(0x0112, 1) == 1:  # the Orientation tag
                return img  # upright already: exif_transpose would copy every pixel
            return ImageOps.exif_transpose(img)
    except Exception:
        return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: alpha over white, 16/32-bit grey scaled, CMYK converted."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img if img.mode == "RGB" else img.convert("RGB")


def _reduce(img: Image.Image) -> tuple[Image.Image, float]:
    """Cap the working resolution at WORK_PIXELS (non-JPEG formats cannot draft)."""
    pixels = img.width * img.height
    if pixels <= WORK_PIXELS:
        return img, 1.0
    factor = int(np.ceil((pixels / WORK_PIXELS) ** 0.5))
    reduced = img.reduce(factor)
    return reduced, img.width / reduced.width


def _unidentified_reason(path: str | os.PathLike | io.BytesIO) -> str:
    try:
        size = path.getbuffer().nbytes if isinstance(path, io.BytesIO) else os.path.getsize(path)
    except OSError:
        size = -1
    if size == 0:
        return "empty file"
    return "not an image (unknown format)"
