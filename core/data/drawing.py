"""Turn a drawn or uploaded digit into the 28x28 image an MNIST model expects.

MNIST digits were size-normalised to fit a 20x20 box (aspect ratio kept, anti-aliased) and
placed in a 28x28 field so that their centre of mass sits on pixel (14, 14), white ink
(up to 255) on 0. :func:`prepare_image` does the same to any picture of one digit:

1. find the ink: alpha when the background is transparent, else luminance. A picture whose
   border (median) is nearer its brightest than its darkest level is dark-on-light and is
   inverted.
2. subtract the background: its level when the border is uniform (a canvas), a local
   estimate when it is not (a photo with uneven lighting: grey top-hat over a quarter of
   the picture). Drop faint noise (below 20% of the peak) and specks (pieces with under 5%
   of the ink of the largest piece); too little ink left is a :class:`BlankImageError`.
3. crop to the ink and resize it to fit 80x80 (LANCZOS). Strokes thinner than MNIST's median
   (2.8 px at 28x28) are widened to it by grey dilation: on synthetic drawn digits this
   lifted accuracy by 2-4 points (scripts/measure_drawn.py); thick strokes are left alone,
   as thinning them measured no gain. Reduce to fit 20x20 by area averaging (BOX), scale
   the peak to 255.
4. paste into 28x28 at the integer offset that puts the centre of mass on (14, 14), as in
   MNIST, but never so far that ink would be cut off.

:func:`prepare_canvas` takes streamlit-drawable-canvas's RGBA array, :func:`prepare_upload`
an uploaded file's bytes. Every problem with the input raises :class:`ImageInputError`
(or its subclass :class:`BlankImageError`) with a message meant for the user.

Huge uploads: the pixel count is read from the header before anything is decoded. JPEGs are
decoded at 1/2, 1/4 or 1/8 scale (``Image.draft``), so big photos cost little memory; any
other image whose decoded size exceeds ``max_pixels`` (default 25 megapixels, 100 MB as
RGBA) is refused, as is anything Pillow's decompression-bomb check rejects at open (over
~179 megapixels; a ``DecompressionBombWarning`` turned into an error is refused too).
Everything is then reduced to at most 1024 px a side before any array work.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from core.errors import DashboardError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "BlankImageError",
    "ImageInputError",
    "PreparedDigit",
    "prepare_canvas",
    "prepare_image",
    "prepare_upload",
]

SIDE = 28  # MNIST field
BOX = 20  # the digit's bounding box is scaled to fit BOX x BOX
MID = 4 * BOX  # intermediate size for stroke-width work
STROKE = 2.8  # median MNIST stroke width in 28x28 pixels (2 * area / perimeter above 127)
CENTER = 14.0  # MNIST puts the centre of mass on pixel (14, 14) (0-based row, col)
WORK_SIDE = 1024  # larger pictures are reduced to this longest side before any array work
DEFAULT_MAX_PIXELS = 25_000_000
MIN_INK_FRACTION = 0.001  # of the picture's area; 78 pixels of a 280x280 canvas
UNEVEN = 8.0  # a border spread (5th-95th percentile) above this means uneven lighting or paper
MIN_CONTRAST = 40.0  # the ink must stand out from the background by this much (0-255)
NOISE_LEVEL = 0.2  # ink below this fraction of the peak is noise
SPECK_FRACTION = 0.05  # pieces with less ink than this fraction of the largest piece are specks
FORMATS = "PNG, JPEG, GIF, BMP or WebP"
#: What prepare_upload opens (JPEG includes MPO); not EPS (Ghostscript) or other exotic decoders.
UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "DIB", "WEBP", "TIFF", "PPM", "ICO")


class ImageInputError(DashboardError, ValueError):
    """The picture cannot be used; the message says what is wrong and what to do."""


class BlankImageError(ImageInputError):
    """The picture has no digit in it (no ink, or only specks)."""


@dataclass(frozen=True)
class PreparedDigit:
    """A digit ready for the models.

    ``pixels``: (784,) uint8, white ink on 0, peak 255 (feed as ``pixels.reshape(1, 784)``);
    read-only; ``inverted``: a dark-on-light picture was inverted; ``ink_box``: (left, top,
    right, bottom) of the ink in the source picture's pixels (after EXIF rotation), right
    and bottom exclusive; ``notes``: remarks for the user, e.g. that a big photo was downscaled.
    """

    pixels: np.ndarray
    inverted: bool
    ink_box: tuple[int, int, int, int]
    notes: tuple[str, ...] = ()

    @property
    def image(self) -> np.ndarray:
        """The digit as a (28, 28) uint8 image."""
        return self.pixels.reshape(SIDE, SIDE)


# ----------------------------------------------------------------------- entry points


def prepare_canvas(
    rgba: np.ndarray | None, *, min_ink_fraction: float = MIN_INK_FRACTION, thicken: bool = True
) -> PreparedDigit:
    """Prepare streamlit-drawable-canvas's ``image_data``: (H, W, 4) RGBA, uint8 or float.

    White ink on black, or any ink on a transparent background, both work. Float arrays
    may be 0-1 or 0-255. Raises :class:`BlankImageError` for an empty canvas (or None). Options as
    for :func:`prepare_image`.
    """
    if rgba is None:  # the canvas component returns no image before the first stroke
        raise BlankImageError("No digit found: the canvas is empty. Draw a digit first.")
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ImageInputError(f"The canvas image has shape {arr.shape}; expected (height, width, 4) RGBA.")
    return prepare_image(arr, min_ink_fraction=min_ink_fraction, thicken=thicken)


def prepare_upload(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_ink_fraction: float = MIN_INK_FRACTION,
    thicken: bool = True,
) -> PreparedDigit:
    """Prepare an uploaded file's bytes (PNG, JPEG, GIF, BMP, WebP, TIFF...).

    Photos of dark ink on paper are inverted; transparent images use alpha as ink; colour
    becomes luminance; animated images use their first frame; EXIF rotation is applied.
    Big JPEGs are decoded at reduced scale; other images over ``max_pixels`` are refused.
    Pass ``uploaded_file.getvalue()``. Options as for :func:`prepare_image`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"prepare_upload expects the file's bytes, got {type(data).__name__}; pass uploaded_file.getvalue()."
        )
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels!r}.")
    if not data:
        raise ImageInputError(f"The file is empty (0 bytes). Upload a {FORMATS} picture of one digit.")
    try:
        im = Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(
            f"The image is too large to open safely ({exc}). Scale it down and upload it again."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageInputError(
            f"The file ({len(data):,} bytes) is not an image Pillow can read. Upload a {FORMATS} picture of one digit."
        ) from exc
    except Exception as exc:  # Pillow's format probes raise a variety of errors on damaged headers
        raise ImageInputError(f"The file could not be read as an image ({exc}). Upload a {FORMATS} picture.") from exc

    with im:
        fmt = im.format or "image"
        source_size = im.size
        notes: list[str] = []
        try:
            frames = getattr(im, "n_frames", 1)
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale, straight to luminance; a no-op for other formats
            im.draft("L" if im.mode in ("L", "RGB") else None, (WORK_SIDE, WORK_SIDE))
        except Exception as exc:  # damaged frame headers
            raise _undecodable(fmt, exc) from exc
        w, h = im.size
        if w * h > max_pixels:
            raise ImageInputError(
                f"The image is {source_size[0]}x{source_size[1]} pixels ({w * h / 1e6:.1f} megapixels to decode); "
                f"the limit is {max_pixels / 1e6:g} megapixels. Scale it down or crop it to the digit and upload it again."
            )
        try:
            im.load()
            orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
            oriented = ImageOps.exif_transpose(im)
        except Exception as exc:  # truncated or corrupt data: OSError, SyntaxError, ValueError, zlib errors...
            raise _undecodable(fmt, exc) from exc
    if frames > 1 and fmt != "MPO":  # an MPO's second image is a preview or depth map
        notes.append(f"first frame of an animated {fmt} used ({frames} frames)")
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        notes.append("turned upright as its EXIF orientation says")
    if orientation in (5, 6, 7, 8):  # a quarter turn: width and height swap
        source_size = source_size[::-1]
    return _prepare(oriented, source_size, notes, min_ink_fraction=min_ink_fraction, thicken=thicken)


def _undecodable(fmt: str, exc: Exception) -> ImageInputError:
    return ImageInputError(
        f"The {fmt} file could not be decoded ({type(exc).__name__}: {exc}). It may be truncated or damaged; "
        "save it again and upload it."
    )


def prepare_image(
    image: Image.Image | np.ndarray, *, min_ink_fraction: float = MIN_INK_FRACTION, thicken: bool = True
) -> PreparedDigit:
    """Prepare a Pillow image (any mode) or an array: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA.

    Integer arrays are 0-255; float arrays 0-1 or 0-255. ``min_ink_fraction``: less ink
    than this fraction of the picture's area is a blank picture (:class:`BlankImageError`).
    ``thicken``: widen strokes thinner than MNIST's typical 2.8 px (after scaling) to that
    width; measured to help thin pen strokes (see scripts/measure_drawn.py).
    """
    im = image if isinstance(image, Image.Image) else _array_to_image(np.asarray(image))
    return _prepare(im, im.size, [], min_ink_fraction=min_ink_fraction, thicken=thicken)


# --------------------------------------------------------------------------- pipeline


def _array_to_image(arr: np.ndarray) -> Image.Image:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or 0 in arr.shape:
        raise ImageInputError(f"The image array has shape {arr.shape}; expected (H, W), (H, W, 3) or (H, W, 4).")
    if arr.dtype != np.uint8:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ImageInputError(f"The image array has dtype {arr.dtype}; expected numbers 0-255.")
        values = arr.astype(np.float64)
        if not np.isfinite(values).all():
            raise ImageInputError("The image array contains NaN or infinite values; pass pixel values 0-255.")
        if np.issubdtype(arr.dtype, np.floating) and values.max() <= 1.0:
            values *= 255.0
        arr = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr))  # L, RGB or RGBA by shape


def _prepare(
    im: Image.Image, source_size: tuple[int, int], notes: list[str], *, min_ink_fraction: float, thicken: bool
) -> PreparedDigit:
    if not 0 <= min_ink_fraction < 1:
        raise ValueError(f"min_ink_fraction must be in [0, 1), got {min_ink_fraction!r}.")
    if im.width == 0 or im.height == 0:
        raise ImageInputError(f"The image is {im.width}x{im.height} pixels; there is nothing to read.")
    if im.mode in ("1", "P", "PA"):  # palette and bilevel images cannot be resized smoothly
        im = im.convert("RGBA" if im.has_transparency_data else "L")
    if max(im.size) > WORK_SIDE:
        im = im.copy()
        im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    if im.size != source_size:
        notes.append(f"downscaled from {source_size[0]}x{source_size[1]}")
    ink, inverted = _ink_map(im)
    if inverted:
        notes.append("dark ink on a light background was inverted")
    ink = _clean(ink, min_ink_fraction=min_ink_fraction)
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pixels = _to_mnist(ink[top:bottom, left:right], thicken=thicken)
    pixels.flags.writeable = False
    sx, sy = source_size[0] / ink.shape[1], source_size[1] / ink.shape[0]
    box = (int(left * sx), int(top * sy), int(np.ceil(right * sx)), int(np.ceil(bottom * sy)))
    return PreparedDigit(pixels=pixels, inverted=inverted, ink_box=box, notes=tuple(notes))


def _border(a: np.ndarray) -> np.ndarray:
    b = max(1, min(a.shape) // 50)
    return np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[:, :b].ravel(), a[:, -b:].ravel()])


def _ink_map(im: Image.Image) -> tuple[np.ndarray, bool]:
    """Ink as a float32 (H, W) array, 0 = background, and whether the picture was inverted."""
    mode = im.mode
    try:
        if mode in ("I", "F") or mode.startswith("I;16"):
            grey = np.asarray(im, dtype=np.float32)
            top = 65535.0 if mode.startswith("I;16") else max(float(grey.max(initial=0)), 255.0)
            grey = grey * np.float32(255.0 / top)
            alpha = None
        elif im.has_transparency_data:
            rgba = im.convert("RGBA")
            alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32)
            grey = np.asarray(rgba.convert("L"), dtype=np.float32)
        else:
            grey = np.asarray(im.getchannel("L") if mode == "LAB" else im.convert("L"), dtype=np.float32)
            alpha = None
    except (ValueError, OSError) as exc:
        raise ImageInputError(
            f"Images in colour mode {mode!r} are not supported ({exc}). Save it as an RGB PNG or JPEG."
        ) from exc

    if alpha is not None and np.median(_border(alpha)) < 128:
        return alpha, False  # ink on a transparent background: alpha is the ink, whatever its colour
    border = _border(grey)
    background = float(np.median(border))
    inverted = background - float(grey.min()) > float(grey.max()) - background
    if inverted:
        grey, border, background = 255.0 - grey, 255.0 - border, 255.0 - background
    lo, hi = np.percentile(border, [5, 95])
    if hi - lo > UNEVEN:  # a photo: subtract the local background (rolling-ball style top-hat)
        return ndimage.white_tophat(grey, size=max(3, min(grey.shape) // 4)), inverted
    return np.clip(grey - np.float32(background), 0, None), inverted


def _clean(ink: np.ndarray, *, min_ink_fraction: float) -> np.ndarray:
    """Zero the noise and the specks; raise :class:`BlankImageError` if too little ink is left."""
    peak = float(ink.max(initial=0))
    if peak < MIN_CONTRAST:
        raise BlankImageError(
            "No digit found: the picture is blank or its strokes are too faint. Draw a digit first "
            "(or upload a clear picture of one)."
        )
    ink = np.where(ink >= NOISE_LEVEL * peak, ink, np.float32(0))
    labels, n = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    mass = ndimage.sum_labels(ink, labels, index=np.arange(1, n + 1))
    keep = np.concatenate([[False], mass >= SPECK_FRACTION * mass.max()])
    ink = np.where(keep[labels], ink, np.float32(0))
    if np.count_nonzero(ink) < min_ink_fraction * ink.size:
        raise BlankImageError(
            f"No digit found: only {np.count_nonzero(ink)} pixels of ink. Draw a digit first "
            "(or upload a picture of one)."
        )
    return ink


def _fit(a: np.ndarray, side: int, resample: Image.Resampling) -> np.ndarray:
    """Resize (h, w) float ink to fit a ``side`` x ``side`` box, aspect ratio kept."""
    h, w = a.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.clip(np.asarray(Image.fromarray(a.astype(np.float32)).resize(size, resample)), 0, None)


def _stroke_width(a: np.ndarray) -> float:
    """Typical stroke width in pixels: 2 * area / perimeter of the ink above half its peak."""
    mask = a > 0.5 * a.max()
    perimeter = np.count_nonzero(mask & ~ndimage.binary_erosion(mask))
    return 2.0 * np.count_nonzero(mask) / max(perimeter, 1)


def _thicken(a: np.ndarray, width: float) -> np.ndarray:
    """Grey-dilate ink (h, w) with a disk so its strokes are about ``width`` px wide; bbox grows."""
    radius = (width - _stroke_width(a)) / 2
    if radius < 0.5:
        return a
    k = int(np.ceil(radius))
    y, x = np.mgrid[-k : k + 1, -k : k + 1]
    return ndimage.grey_dilation(np.pad(a, k), footprint=x * x + y * y <= radius * radius + 0.25)


def _to_mnist(crop: np.ndarray, *, thicken: bool) -> np.ndarray:
    """Scale the cropped ink (h, w) to fit 20x20, centre it by mass in 28x28; (784,) uint8.

    The crop is first resized to fit 80x80 (LANCZOS), where thin strokes are optionally
    thickened to MNIST's typical width, then reduced 4:1-ish by area averaging (BOX).
    """
    mid = _fit(crop, MID, Image.Resampling.LANCZOS)
    if thicken:
        mid = _thicken(mid, STROKE * MID / BOX)
    small = _fit(mid, BOX, Image.Resampling.BOX)
    small = small * (255.0 / small.max())
    r, c = ndimage.center_of_mass(small)
    top = int(np.clip(round(CENTER - r), 0, SIDE - small.shape[0]))
    left = int(np.clip(round(CENTER - c), 0, SIDE - small.shape[1]))
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).ravel()
