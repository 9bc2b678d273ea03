"""The demo's before and after photos: one made-up scalp, seen from above, twice.

The "before" is a head with thinning hair on top; the "after" is the very same picture with the
pigment's dots added in the thinning area and nowhere else. Same skin, same hair, same light:
what changes between the two is only what the treatment changes.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

SIZE = (640, 480)
BACKGROUND = (226, 228, 230)
SKIN_TONES = [(232, 195, 168), (214, 168, 132), (176, 122, 88), (128, 86, 60), (92, 62, 44)]
HAIR = [(38, 30, 26), (52, 40, 32), (30, 28, 28), (70, 52, 38)]
# Follicles on a shaved scalp sit about this far apart (px at this picture's scale).
FOLLICLE_STEP = 4


@dataclass(frozen=True)
class ScalpPair:
    before: Image.Image
    after: Image.Image
    # Where the pigment went: (left, top, right, bottom). Nothing outside it differs.
    area: tuple[int, int, int, int]


def _in_ellipse(x: float, y: float, box: tuple[float, float, float, float]) -> float:
    """<1 inside the ellipse bounded by box, 1 on its edge, >1 outside."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2


def scalp_pair(seed: int) -> ScalpPair:
    """A top-down view of a head with thinning on top, before and after pigment (deterministic)."""
    rng = random.Random(seed)
    width, height = SIZE
    skin = rng.choice(SKIN_TONES)
    hair = rng.choice(HAIR)
    before = Image.new("RGB", SIZE, BACKGROUND)
    draw = ImageDraw.Draw(before)

    # Head from above (nose towards the bottom of the picture), ears on either side.
    head = (150.0, 40.0, 490.0, 450.0)
    ear = 22
    for x in (head[0] - ear + 8, head[2] - 8):
        draw.ellipse((x, 210, x + ear, 290), fill=tuple(int(c * 0.9) for c in skin))
    draw.ellipse((305, 432, 335, 462), fill=tuple(int(c * 0.95) for c in skin))  # the nose's tip
    draw.ellipse(head, fill=skin)
    # A little shade towards the edge, so it reads as a round head, not a disc.
    for step in range(8):
        inset = 4 + step * 5
        shade = tuple(max(0, int(c * (0.93 + step * 0.009))) for c in skin)
        draw.ellipse((head[0] + inset, head[1] + inset, head[2] - inset, head[3] - inset), fill=shade)
    draw.ellipse((head[0] + 44, head[1] + 44, head[2] - 44, head[3] - 44), fill=skin)
    before = before.filter(ImageFilter.GaussianBlur(2))
    draw = ImageDraw.Draw(before)

    # Thinning: a crown-and-front patch, off-centre a little, where hair grows sparse.
    cx = 320 + rng.randint(-15, 15)
    cy = 215 + rng.randint(-15, 15)
    rx, ry = rng.randint(95, 115), rng.randint(120, 140)
    thin = (cx - rx, cy - ry, cx + rx, cy + ry)
    for y in range(int(head[1]), int(head[3]), 3):
        for x in range(int(head[0]), int(head[2]), 3):
            if _in_ellipse(x, y, head) > 0.92:
                continue
            depth = _in_ellipse(x, y, thin)
            # Full hair outside the patch, fading to a few strands in its middle.
            keep = 0.85 if depth >= 1.3 else 0.05 + 0.8 * max(0.0, depth - 0.3)
            if rng.random() > keep:
                continue
            angle = math.atan2(y - 250, x - 320) + rng.uniform(-0.4, 0.4)
            length = rng.uniform(2.0, 4.0)
            end = (x + math.cos(angle) * length, y + math.sin(angle) * length)
            shade = rng.randint(-8, 8)
            draw.line((x, y, *end), fill=(hair[0] + shade, hair[1] + shade, hair[2] + shade), width=1)

    # After: the same picture; dots at follicle spacing (jittered) in the patch, inside the head.
    after = before.copy()
    draw = ImageDraw.Draw(after)
    # Pigment is a charcoal a little darker than the hair, so the dots show on every skin tone.
    pigment = tuple(int(c * 0.6) for c in hair)
    dot_rng = random.Random(seed * 7919 + 1)
    left, top, right, bottom = width, height, 0, 0
    for y in range(thin[1], thin[3], FOLLICLE_STEP):
        for x in range(thin[0], thin[2], FOLLICLE_STEP):
            px = x + dot_rng.randint(-2, 2)
            py = y + dot_rng.randint(-2, 2)
            depth = _in_ellipse(px, py, thin)
            if depth > 1.0 or _in_ellipse(px, py, head) > 0.85:
                continue
            # Feathered towards the patch's edge, where it meets the hair, as a technician blends it.
            if dot_rng.random() > min(1.0, (1.0 - depth) * 3):
                continue
            r = dot_rng.choice((0, 1, 1))
            draw.ellipse((px - r, py - r, px + r, py + r), fill=pigment)
            left, top, right, bottom = (
                min(left, px - r),
                min(top, py - r),
                max(right, px + r + 1),
                max(bottom, py + r + 1),
            )
    return ScalpPair(before=before, after=after, area=(left, top, right, bottom))


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()
