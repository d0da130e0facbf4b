"""Synthetic hand-drawn digits, rendered with Pillow like strokes on the dashboard's canvas.

Each digit 0-9 has a few stroke templates (polylines and arcs in a unit box, x right,
y down). :func:`draw_digit` renders one as white ink on a black (or transparent) 280x280
RGBA canvas at a chosen size, position, stroke width, slant and rotation;
:func:`drawn_set` makes a varied, reproducible set of them with their true labels;
:func:`photo_of` turns a drawing into a photo-like picture of dark ink on shaded paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
_SUPER = 2  # draw at 2x and downsample: anti-aliased edges like the browser canvas

Stroke = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, t0: float, t1: float, n: int = 28) -> Stroke:
    """Points on an elliptic arc from angle ``t0`` to ``t1`` degrees (0 = right, 90 = down)."""
    t = np.radians(np.linspace(t0, t1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def _line(*pts: tuple[float, float]) -> Stroke:
    return list(pts)


# digit -> styles -> strokes. Widths are given by NOMINAL_WIDTH (a "1" is a narrow digit).
TEMPLATES: dict[int, list[list[Stroke]]] = {
    0: [
        [arc(0.5, 0.5, 0.5, 0.5, -90, 275)],
        [arc(0.5, 0.5, 0.5, 0.5, -70, 300)],  # overlapping start and end, like a quick loop
    ],
    1: [
        [_line((0.5, 0.0), (0.5, 1.0))],
        [_line((0.1, 0.22), (0.55, 0.0), (0.5, 1.0))],  # with a flag
        [_line((0.1, 0.2), (0.55, 0.0), (0.55, 1.0)), _line((0.15, 1.0), (0.95, 1.0))],  # flag and base
    ],
    2: [
        [arc(0.5, 0.3, 0.48, 0.3, 190, 395) + _line((0.0, 1.0), (1.0, 1.0))],
        [arc(0.5, 0.3, 0.45, 0.3, 170, 360) + _line((0.05, 1.0), (1.0, 0.97))],  # straight diagonal
    ],
    3: [
        [arc(0.5, 0.26, 0.45, 0.26, 200, 450) + arc(0.5, 0.74, 0.5, 0.26, 270, 520)],
        [_line((0.05, 0.0), (0.95, 0.0), (0.45, 0.42)) + arc(0.5, 0.7, 0.48, 0.3, 270, 520)],  # flat-top 3
    ],
    4: [
        [_line((0.7, 0.0), (0.0, 0.68), (1.0, 0.68)), _line((0.72, 0.3), (0.72, 1.0))],
        [_line((0.08, 0.0), (0.05, 0.6), (1.0, 0.6)), _line((0.75, 0.0), (0.75, 1.0))],  # open top
    ],
    5: [
        [_line((0.95, 0.0), (0.15, 0.0), (0.1, 0.45)) + arc(0.5, 0.68, 0.45, 0.32, 215, 510)],
        [_line((0.15, 0.0), (0.1, 0.45)) + arc(0.5, 0.68, 0.45, 0.32, 215, 510), _line((0.15, 0.0), (0.95, 0.0))],
    ],
    6: [
        [_line((0.8, 0.0)) + arc(0.95, 0.7, 0.85, 0.7, 235, 180) + arc(0.5, 0.72, 0.42, 0.28, 180, 540)],
        [_line((0.7, 0.0), (0.1, 0.65)) + arc(0.5, 0.72, 0.4, 0.28, 170, 530)],  # straight stem
    ],
    7: [
        [_line((0.0, 0.0), (1.0, 0.0), (0.35, 1.0))],
        [_line((0.0, 0.0), (1.0, 0.0), (0.35, 1.0)), _line((0.3, 0.52), (0.85, 0.52))],  # crossed
        [_line((0.0, 0.1), (0.05, 0.0), (1.0, 0.0), (0.55, 0.5), (0.45, 1.0))],
    ],
    8: [
        [arc(0.5, 0.25, 0.38, 0.25, 0, 360), arc(0.5, 0.73, 0.46, 0.27, 0, 360)],
        [arc(0.5, 0.25, 0.4, 0.25, 90, 450), arc(0.5, 0.74, 0.45, 0.26, -90, 270)],  # drawn from the waist
    ],
    9: [
        [arc(0.5, 0.28, 0.45, 0.28, 0, 360) + _line((0.93, 0.28), (0.85, 1.0))],
        [arc(0.5, 0.28, 0.45, 0.28, 10, 370) + arc(0.05, 0.3, 0.9, 0.7, 0, 80)],  # curved tail
    ],
}
NOMINAL_WIDTH = {0: 0.7, 1: 0.3, 2: 0.7, 3: 0.62, 4: 0.72, 5: 0.65, 6: 0.62, 7: 0.65, 8: 0.62, 9: 0.62}


@dataclass(frozen=True)
class Drawn:
    """One synthetic drawing: its true ``label``, the (280, 280, 4) uint8 ``rgba`` canvas and how it was made."""

    label: int
    rgba: np.ndarray
    style: int
    height: float
    center: tuple[float, float]
    stroke: int
    slant: float
    rotation: float


def draw_digit(
    digit: int,
    *,
    style: int = 0,
    height: float = 200,
    center: tuple[float, float] = (140, 140),
    stroke: int = 18,
    slant: float = 0.0,
    rotation: float = 0.0,
    aspect: float = 1.0,
    jitter: float = 0.0,
    transparent: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Render ``digit`` as white strokes of ``stroke`` px on a 280x280 RGBA canvas; returns (280, 280, 4) uint8.

    ``height`` is the digit's height in px, ``center`` its (x, y) centre, ``slant`` a shear
    (0.2 leans right), ``rotation`` degrees clockwise, ``aspect`` multiplies the width,
    ``jitter`` moves every point by up to that fraction of the height. ``transparent``
    leaves the background at alpha 0 instead of opaque black.
    """
    rng = np.random.default_rng(seed)
    strokes = TEMPLATES[digit][style % len(TEMPLATES[digit])]
    width = height * NOMINAL_WIDTH[digit] * aspect
    theta = np.radians(rotation)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    size = CANVAS * _SUPER
    background = (0, 0, 0, 0) if transparent else (0, 0, 0, 255)
    img = Image.new("RGBA", (size, size), background)
    pen = ImageDraw.Draw(img)
    ink = (255, 255, 255, 255)
    r = stroke * _SUPER / 2
    for s in strokes:
        p = np.asarray(s, dtype=np.float64)
        p = p + rng.uniform(-jitter, jitter, p.shape) if jitter else p
        x = (p[:, 0] - 0.5) * width + slant * (0.5 - p[:, 1]) * height
        y = (p[:, 1] - 0.5) * height
        xy = (rot @ np.vstack([x, y])).T + np.asarray(center)
        pts = [tuple(v) for v in xy * _SUPER]
        pen.line(pts, fill=ink, width=max(1, round(2 * r)), joint="curve")
        for cx, cy in (pts[0], pts[-1]):  # round caps, as canvas brushes have
            pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=ink)
    return np.asarray(img.resize((CANVAS, CANVAS), Image.Resampling.BOX))


def drawn_set(n_per_digit: int = 12, *, seed: int = 0, transparent: bool = False, sloppy: bool = False) -> list[Drawn]:
    """``n_per_digit`` varied drawings of each digit: sizes 70-260 px, centred or off-centre
    (some touching an edge), strokes 8-30 px, slants, small rotations and jitter.

    ``sloppy`` draws faster and looser: rotations up to 15 degrees, stronger slants,
    squashed or stretched widths and shakier strokes.
    """
    rng = np.random.default_rng(seed)
    rot_max, slant_lo, slant_hi, aspect_dev, jitter = (
        (15, -0.2, 0.45, 0.3, 0.035) if sloppy else (8, -0.1, 0.3, 0.15, 0.02)
    )
    out = []
    for digit in range(10):
        for i in range(n_per_digit):
            style = i % len(TEMPLATES[digit])
            height = float(rng.uniform(70, 260))
            stroke = int(rng.choice([8, 12, 16, 20, 25, 30]))
            stroke = min(stroke, max(8, int(height / 5)))  # nobody draws a 70 px digit with a 30 px pen
            half_w = height * NOMINAL_WIDTH[digit] / 2 + stroke / 2
            half_h = height / 2 + stroke / 2
            placement = i % 3  # 0: anywhere inside, 1: centred, 2: touching an edge
            if placement == 1:
                center = (140.0, 140.0)
            else:
                cx = rng.uniform(min(half_w, 140), max(CANVAS - half_w, 140))
                cy = rng.uniform(min(half_h, 140), max(CANVAS - half_h, 140))
                if placement == 2:
                    side = int(rng.integers(4))
                    if side == 0:
                        cx = half_w - stroke / 2
                    elif side == 1:
                        cx = CANVAS - half_w + stroke / 2
                    elif side == 2:
                        cy = half_h - stroke / 2
                    else:
                        cy = CANVAS - half_h + stroke / 2
                center = (float(cx), float(cy))
            slant = float(rng.uniform(slant_lo, slant_hi))
            rotation = float(rng.uniform(-rot_max, rot_max))
            aspect = float(rng.uniform(1 - aspect_dev, 1 + aspect_dev))
            rgba = draw_digit(
                digit,
                style=style,
                height=height,
                center=center,
                stroke=stroke,
                slant=slant,
                rotation=rotation,
                aspect=aspect,
                jitter=jitter,
                transparent=transparent,
                seed=int(rng.integers(1 << 30)),
            )
            out.append(Drawn(digit, rgba, style, height, center, stroke, slant, rotation))
    return out


def photo_of(
    rgba: np.ndarray, *, ink=(30, 40, 90), paper=(235, 225, 200), shade: float = 0.4, seed: int = 0
) -> Image.Image:
    """A photo of a drawing: the ink of ``rgba`` (280, 280, 4) in colour ``ink`` on off-white
    paper, with sensor noise and a shadow darkening the page by up to ``shade`` towards the
    bottom right. Returns an RGB image."""
    a = rgba[..., 0:1].astype(np.float64) / 255
    h, w = a.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    light = (1 - shade * (x / w) ** 1.5 * (0.5 + y / h) / 1.5)[..., None]
    img = (a * np.array(ink) + (1 - a) * np.array(paper)) * light
    img += np.random.default_rng(seed).normal(0, 4, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))  # RGB
