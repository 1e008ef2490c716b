"""``SyntheticShapes``: colour images of geometric shapes, made on the fly, with pixel masks.

    train_set = SyntheticShapes(10_000, seed=0)               # about a second, no files needed
    test_set = SyntheticShapes(2_000, seed=0, train=False)    # an independent draw
    image, label = train_set[0]                               # float32 (3, 32, 32), int
    train_set.masks[0]                                        # bool (32, 32): the shape's pixels

Each image is one shape (a class among circle, square, triangle, cross and ring) of random
position, size, rotation and colour over a background that is no plain colour either:

    background = smooth colour gradient  (two random colours blended along a random direction)
               + stripes                 (a faint coloured sine wave of random period, angle, phase)
    image      = background with the shape painted over it in one colour
               + Gaussian noise of standard deviation ``noise`` on every pixel, clipped to [0, 1]

So a network must learn the outline, not the colour: the shape's colour is drawn relative to the
background behind it (every channel at least 0.25 brighter or darker than the gradient at the
shape's centre), so that the shape is always visible but its colour says nothing about its class.

How a shape is drawn without a loop over pixels: every pixel centre (x, y) is moved into the
shape's own frame, centred on the shape, rotated by its angle and scaled by its radius r:

    u = ( (x - cx) cos a + (y - cy) sin a) / r
    v = (-(x - cx) sin a + (y - cy) cos a) / r

and each shape is an inequality in (u, v) evaluated on all pixels of many images at once, e.g. a
circle is u^2 + v^2 <= 1. Every shape fits inside the unit circle, and the centre is kept at
least r + 1 pixels from the border, so no shape is ever cut off.

The labels are balanced (class k for every K-th sample, then shuffled), and everything is drawn
from ``np.random.default_rng([seed, split])``: the same arguments give the same images.
"""

import numpy as np

from minidl.data.dataset import Dataset

__all__ = ["SyntheticShapes", "SHAPES", "FIRST_SHAPES", "OTHER_SHAPES", "BACKGROUNDS"]


def _circle(u, v):
    return u * u + v * v <= 1


def _square(u, v):
    # Half-side 1/sqrt(2): the corners touch the unit circle whatever the rotation.
    return np.maximum(np.abs(u), np.abs(v)) <= np.sqrt(0.5)


def _triangle(u, v):
    # Equilateral, corners on the unit circle: inside all three sides, each at distance 1/2 from
    # the centre along its outward normal (at 90, 210 and 330 degrees).
    inside = np.ones(u.shape, dtype=bool)
    for angle in np.deg2rad([90, 210, 330]):
        inside &= u * np.cos(angle) + v * np.sin(angle) <= 0.5
    return inside


def _cross(u, v):
    # Two bars of half-width 0.3 and half-length 0.95 (corner at radius sqrt(0.3^2 + 0.95^2) < 1).
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))


def _ring(u, v):
    r2 = u * u + v * v
    return (r2 >= 0.6**2) & (r2 <= 1)


def _star(u, v):
    # Five points on the unit circle, inner corners at radius 0.45: inside when the radius at this
    # angle is below the zig-zag between them (linear in the angle, close enough at these sizes).
    radius = np.sqrt(u * u + v * v)
    phase = np.mod(np.arctan2(v, u) + np.pi / 2, 2 * np.pi / 5) / (2 * np.pi / 5)  # 0 at a point
    edge = 1 - 0.55 * (1 - np.abs(2 * phase - 1))
    return radius <= edge


def _hexagon(u, v):
    # Regular, corners on the unit circle: inside all six sides, each at distance cos(30) = 0.866.
    inside = np.ones(u.shape, dtype=bool)
    for angle in np.deg2rad(np.arange(0, 360, 60) + 30):
        inside &= u * np.cos(angle) + v * np.sin(angle) <= np.sqrt(3) / 2
    return inside


def _diamond(u, v):
    # A rhombus, long axis 1 along u and short axis 0.55 along v.
    return np.abs(u) + np.abs(v) / 0.55 <= 1


def _ellipse(u, v):
    return u * u + (v / 0.5) ** 2 <= 1


def _semicircle(u, v):
    # The half of the unit disc with v >= -0.2, so its centre of mass stays near the centre.
    return (u * u + v * v <= 1) & (v >= -0.2)


SHAPES = {"circle": _circle, "square": _square, "triangle": _triangle, "cross": _cross,
          "ring": _ring, "star": _star, "hexagon": _hexagon, "diamond": _diamond, "ellipse": _ellipse,
          "semicircle": _semicircle}

# The five classes of the default draw, and five others for transfer experiments: a target task
# with new shapes in the same rendering ("similar" to a source trained on the first five).
FIRST_SHAPES = ("circle", "square", "triangle", "cross", "ring")
OTHER_SHAPES = ("star", "hexagon", "diamond", "ellipse", "semicircle")
BACKGROUNDS = ("textured", "plain", "checker")

CHUNK = 256   # images drawn at once: bounds the memory of the (chunk, 3, S, S) temporaries


class SyntheticShapes(Dataset):
    """Images of coloured shapes over textured backgrounds, labelled by shape, with masks.

    Args:
        num_samples: how many images.
        image_size: their height and width S in pixels (at least 16).
        seed: fixes every random choice.
        train: the training draw (True) or an independent test draw (False) for the same seed.
        classes: the shapes to draw, a sequence of names from ``SHAPES``; label k is classes[k].
        noise: standard deviation of the Gaussian pixel noise (0 for none).
        radius: (min, max) radius of the shapes as a fraction of ``image_size``, max < 1/2.
        background: ``"textured"`` (gradient and stripes, the default), ``"plain"`` (one colour) or
            ``"checker"`` (a checkerboard of two colours, squares of 3 to 8 pixels).
        outline: draw only the outline of each shape (its edges, image_size / 16 pixels wide), not its area.
    Attributes:
        images: float32 (N, 3, S, S) in [0, 1].
        targets: int64 (N,), the index of the shape in ``classes``.
        masks: bool (N, S, S), True on the shape's pixels.
        classes: list of the shape names.
    ``ds[i]`` is ``(images[i], int(targets[i]))``.
    """

    def __init__(self, num_samples, image_size=32, seed=0, train=True,
                 classes=FIRST_SHAPES, noise=0.05, radius=(0.2, 0.45), background="textured", outline=False):
        if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer) or num_samples < 1:
            raise ValueError(f"SyntheticShapes: num_samples must be a positive int, got {num_samples!r}")
        if isinstance(image_size, bool) or not isinstance(image_size, int | np.integer) or image_size < 16:
            raise ValueError(
                f"SyntheticShapes: image_size must be an int >= 16 (smaller shapes cannot be told "
                f"apart), got {image_size!r}"
            )
        classes = list(classes)
        unknown = [name for name in classes if name not in SHAPES]
        if not classes or unknown or len(set(classes)) != len(classes):
            raise ValueError(
                f"SyntheticShapes: classes must be distinct names among {list(SHAPES)}, got {classes}"
            )
        if not noise >= 0:
            raise ValueError(f"SyntheticShapes: noise must be >= 0, got {noise}")
        low, high = radius
        if not 0 < low <= high < 0.5:
            raise ValueError(
                f"SyntheticShapes: radius must be (min, max) with 0 < min <= max < 0.5 (a fraction "
                f"of image_size), got {radius}"
            )
        if background not in BACKGROUNDS:
            raise ValueError(f"SyntheticShapes: background must be one of {list(BACKGROUNDS)}, got {background!r}")
        self.classes = classes
        self.image_size = int(image_size)
        self.background, self.outline = background, bool(outline)
        rng = np.random.default_rng([seed, 0 if train else 1])
        params = _draw_parameters(rng, int(num_samples), self.image_size, len(classes), radius, background)
        self.targets = params["label"]
        self.images = np.empty((num_samples, 3, image_size, image_size), dtype=np.float32)
        self.masks = np.empty((num_samples, image_size, image_size), dtype=bool)
        for start in range(0, num_samples, CHUNK):
            part = {key: value[start:start + CHUNK] for key, value in params.items()}
            images, masks = _render(part, self.image_size, classes, noise, rng, self.outline)
            self.images[start:start + CHUNK], self.masks[start:start + CHUNK] = images, masks

    def __getitem__(self, index):
        return self.images[index], int(self.targets[index])

    def __len__(self):
        return len(self.images)

    def __repr__(self):
        style = "" if self.background == "textured" and not self.outline else (
            f", background={self.background!r}" + (", outline=True" if self.outline else ""))
        return (f"SyntheticShapes({len(self)} images of size {self.image_size}x{self.image_size}, "
                f"classes={self.classes}{style})")


def _draw_parameters(rng, n, size, num_classes, radius, background="textured"):
    """Every random choice but the pixel noise, one array of n values (or n rows) per name.

    The textured background's draws come first and in the same order for every background, so
    the default images never change; a plain background drops the gradient and the stripes, a
    checkerboard draws its square size last.
    """
    label = rng.permutation(np.arange(n) % num_classes)
    r = rng.uniform(radius[0], radius[1], n) * size
    # Pixel centres lie at 0.5, 1.5, ..., size - 0.5: a centre in [r + 1, size - 1 - r] keeps
    # the whole shape at least half a pixel inside the image.
    cx = rng.uniform(r + 1, size - 1 - r)
    cy = rng.uniform(r + 1, size - 1 - r)
    angle = rng.uniform(0, 2 * np.pi, n)
    colour_from = rng.uniform(0.15, 0.85, (n, 3))
    colour_to = np.clip(colour_from + rng.uniform(-0.25, 0.25, (n, 3)), 0, 1)
    gradient_angle = rng.uniform(0, 2 * np.pi, n)
    stripe_periods = rng.uniform(2, 6, n)      # stripes across the image
    stripe_angle = rng.uniform(0, 2 * np.pi, n)
    stripe_phase = rng.uniform(0, 2 * np.pi, n)
    stripe_colour = rng.uniform(-0.08, 0.08, (n, 3))
    if background == "plain":
        colour_to, stripe_colour = colour_from.copy(), np.zeros_like(stripe_colour)
    # The shape's colour: each channel 0.25 to 0.5 away from the background at the centre, up or
    # down at random, but always down from a bright channel and up from a dark one (0.5 at most
    # fits one way or the other in [0, 1]).
    t = _gradient_position(cx, cy, np.cos(gradient_angle), np.sin(gradient_angle), size)
    if background == "checker":
        t = np.full(n, 0.5)  # the shape's colour is set against the mean of the two squares' colours
    behind = np.clip(colour_from + (colour_to - colour_from) * t[:, np.newaxis], 0, 1)
    step = rng.uniform(0.25, 0.5, (n, 3)) * rng.choice([-1.0, 1.0], (n, 3))
    step = np.where((behind + step > 1) | (behind + step < 0), -step, step)
    checker_period = rng.uniform(3, 8, n) if background == "checker" else np.zeros(n)
    return {"label": label, "r": r, "cx": cx, "cy": cy, "angle": angle, "checker_period": checker_period,
            "colour_from": colour_from, "colour_to": colour_to, "gradient_angle": gradient_angle,
            "stripe_periods": stripe_periods, "stripe_angle": stripe_angle,
            "stripe_phase": stripe_phase, "stripe_colour": stripe_colour,
            "shape_colour": behind + step}


def _gradient_position(x, y, cos, sin, size):
    """Where (x, y) lies along the gradient of direction (cos, sin): t = 0.5 at the image's centre,
    changing by 1 over ``size`` pixels; the background there is colour_from + (colour_to -
    colour_from) * t."""
    return 0.5 + ((x - size / 2) * cos + (y - size / 2) * sin) / size


def _erode(masks, width):
    """Masks (n, S, S) shrunk by ``width`` pixels: a pixel stays only if its 4 neighbours do, ``width`` times.

    ``mask & ~_erode(mask, w)`` is the band of the shape's edges, inner edges (a ring's hole)
    included, so an outline keeps every shape distinct.
    """
    inside = masks.copy()
    for _ in range(width):
        shrunk = inside.copy()
        shrunk[:, 1:, :] &= inside[:, :-1, :]
        shrunk[:, :-1, :] &= inside[:, 1:, :]
        shrunk[:, :, 1:] &= inside[:, :, :-1]
        shrunk[:, :, :-1] &= inside[:, :, 1:]
        inside = shrunk
    return inside


def _per_image(values):
    """float32 (n, ...) -> (n, 1, 1, ...): one value per image, to broadcast over its pixels."""
    values = np.asarray(values, dtype=np.float32)
    return values.reshape(values.shape[:1] + (1, 1) + values.shape[1:])


def _render(p, size, classes, noise, rng, outline=False):
    """Images float32 (n, 3, S, S) and masks bool (n, S, S) of the parameters ``p`` of n images."""
    n = len(p["label"])
    coords = np.arange(size, dtype=np.float32) + 0.5    # pixel centres
    x = coords[np.newaxis, np.newaxis, :]                # (1, 1, S): varies along the columns
    y = coords[np.newaxis, :, np.newaxis]                # (1, S, 1): varies along the rows

    # The shape's own frame (see the module docstring), then one inequality per class.
    dx, dy = x - _per_image(p["cx"]), y - _per_image(p["cy"])
    cos, sin, r = _per_image(np.cos(p["angle"])), _per_image(np.sin(p["angle"])), _per_image(p["r"])
    u = (dx * cos + dy * sin) / r
    v = (dy * cos - dx * sin) / r
    masks = np.zeros((n, size, size), dtype=bool)
    for k, name in enumerate(classes):
        chosen = p["label"] == k
        masks[chosen] = SHAPES[name](u[chosen], v[chosen])

    if outline:
        masks &= ~_erode(masks, max(1, round(size / 16)))

    # Background (n, 3, S, S): gradient + stripes; per-image colours (n, 3) -> (n, 3, 1, 1).
    def colour(name):
        return _per_image(p[name]).transpose(0, 3, 1, 2)
    t = _gradient_position(x, y, _per_image(np.cos(p["gradient_angle"])),
                           _per_image(np.sin(p["gradient_angle"])), size)
    background = colour("colour_from") + (colour("colour_to") - colour("colour_from")) * t[:, np.newaxis]
    along = x * _per_image(np.cos(p["stripe_angle"])) + y * _per_image(np.sin(p["stripe_angle"]))
    wave = np.sin(along * _per_image(2 * np.pi * p["stripe_periods"] / size) + _per_image(p["stripe_phase"]))
    background += colour("stripe_colour") * wave[:, np.newaxis]
    checker = p["checker_period"] > 0
    if checker.any():  # squares of the two colours instead of the blend between them
        period = _per_image(np.where(checker, p["checker_period"], 1))
        odd = (np.floor(x / period) + np.floor(y / period)) % 2 == 1
        squares = np.where(odd[:, np.newaxis], colour("colour_to"), colour("colour_from"))
        background = np.where(checker[:, np.newaxis, np.newaxis, np.newaxis], squares, background)

    images = np.where(masks[:, np.newaxis], colour("shape_colour"), background)
    if noise > 0:
        images += np.float32(noise) * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(images, 0, 1, out=images), masks
