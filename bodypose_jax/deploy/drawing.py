"""Draws frames and skeletons for people to look at (demo, contact sheet).

Images are uint8 RGB; depth is uint16 millimetres, coloured with TURBO.
"""

from collections.abc import Sequence

import cv2
import numpy as np

# The depth range shown, in mm: Kinect v2 measures from 0.5 m to 4.5 m.
DEPTH_RANGE_MM = (500.0, 4500.0)
# RGB colours by side; NTU's streams are mirrored, so a joint named left lies
# on the image's left for a person facing the camera.
LEFT_COLOUR = (40, 170, 255)
RIGHT_COLOUR = (255, 70, 70)
CENTRE_COLOUR = (255, 220, 40)
# cv2 drawing takes integer points; this many fraction bits keep sub-pixel
# positions, so slowly moving joints do not jitter by whole pixels.
_SHIFT = 4


def colourise_depth(
    depth: np.ndarray, range_mm: tuple[float, float] = DEPTH_RANGE_MM
) -> np.ndarray:
  """Depth in mm [H, W] -> [H, W, 3] uint8 RGB; near warm, no depth black.

  Depths outside `range_mm` (near, far) take the end colours.
  """
  lo, hi = range_mm
  clipped = np.clip(depth.astype(np.float32), lo, hi)
  level = ((hi - clipped) * (255.0 / (hi - lo))).astype(np.uint8)
  rgb = cv2.cvtColor(
      cv2.applyColorMap(level, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB
  )
  rgb[depth == 0] = 0
  return rgb


def display_frame(
    frame: np.ndarray,
    display_hw: tuple[int, int],
    depth_range_mm: tuple[float, float] = DEPTH_RANGE_MM,
):
  """The camera frame as drawn: [h, w, 3] uint8 RGB of `display_hw`.

  Args:
    frame: [H, W, 3] uint8 RGB, or [H, W] uint16 depth in mm.
    display_hw: (h, w) to draw at.
    depth_range_mm: (near, far) of the depth colour map.
  """
  size = (display_hw[1], display_hw[0])
  if frame.ndim == 2:
    # Resize before colouring: nearest keeps body edges free of fake depths.
    return colourise_depth(
        cv2.resize(frame, size, interpolation=cv2.INTER_NEAREST),
        depth_range_mm,
    )
  return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def joint_colours(names: Sequence[str]) -> list[tuple[int, int, int]]:
  """RGB per joint from its name: left, right, or centre (neither)."""
  colours = []
  for name in names:
    if "left" in name:
      colours.append(LEFT_COLOUR)
    elif "right" in name:
      colours.append(RIGHT_COLOUR)
    else:
      colours.append(CENTRE_COLOUR)
  return colours


def _fixed(point) -> tuple[int, int]:
  # Clip so that wild untrained outputs cannot overflow cv2's int32 maths.
  x, y = np.clip(np.asarray(point) * (1 << _SHIFT), -(1 << 24), 1 << 24)
  return int(round(x)), int(round(y))


def _dim(colour: tuple[int, int, int]) -> tuple[int, int, int]:
  return tuple(c // 2 for c in colour)


def draw_pose(
    image: np.ndarray,
    points: np.ndarray,
    confidences: np.ndarray,
    names: Sequence[str],
    bones: Sequence[Sequence[int]],
    min_confidence: float,
    inferred: np.ndarray | None = None,
) -> np.ndarray:
  """Draws a skeleton onto a copy of `image`.

  A bone takes the colour of its side (a centre-to-side bone, e.g. a
  shoulder, counts as that side). Joint radius grows with confidence.

  Args:
    image: [h, w, 3] uint8 RGB.
    points: [J, 2] (x, y) in `image` pixels.
    confidences: [J] in 0..1.
    names: J joint names (sidecar `joints`).
    bones: pairs of 0-based joint indices (sidecar `bones`).
    min_confidence: joints below it, and bones touching them, are hidden.
    inferred: optional [J] bool, joints whose position was guessed (Kinect
      tracking state 1): drawn as hollow rings, their bones dimmed, so that
      they do not pass for measured ones.

  Returns:
    [h, w, 3] uint8 RGB.
  """
  out = image.copy()
  colours = joint_colours(names)
  visible = np.asarray(confidences) >= min_confidence
  if inferred is None:
    inferred = np.zeros(len(visible), bool)
  size = max(image.shape[:2])
  thickness = max(1, round(size / 240))
  radius = max(2.0, size / 100)
  for a, b in bones:
    if visible[a] and visible[b]:
      colour = colours[b] if colours[a] == CENTRE_COLOUR else colours[a]
      if inferred[a] or inferred[b]:
        colour = _dim(colour)
      cv2.line(
          out,
          _fixed(points[a]),
          _fixed(points[b]),
          colour,
          thickness,
          cv2.LINE_AA,
          _SHIFT,
      )
  for j in np.flatnonzero(visible):
    r = radius * (0.5 + 0.5 * float(np.clip(confidences[j], 0, 1)))
    r_fixed = max(1, round(r * (1 << _SHIFT)))
    centre = _fixed(points[j])
    if inferred[j]:
      # A ring (a third of the radius wide) in the joint's colour, outlined
      # outside only: the centre shows the image through.
      ring = max(1, round(r / 3))
      cv2.circle(out, centre, r_fixed, colours[j], ring, cv2.LINE_AA, _SHIFT)
      outer = r_fixed + (ring << _SHIFT) // 2
      cv2.circle(out, centre, outer, (0, 0, 0), 1, cv2.LINE_AA, _SHIFT)
      continue
    cv2.circle(out, centre, r_fixed, colours[j], -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(out, centre, r_fixed, (0, 0, 0), 1, cv2.LINE_AA, _SHIFT)
  return out


def put_text(image: np.ndarray, text: str, scale: float | None = None):
  """Writes `text` top left in white on a dark outline, in place.

  Args:
    image: [h, w, 3] uint8 RGB.
    text: one line.
    scale: default the width / 960; the baseline sits 40 * scale pixels (at
      least 14) from the top, and the font has scale max(0.4, scale).
  """
  if scale is None:
    scale = image.shape[1] / 960
  x, y = max(4, image.shape[1] // 80), max(14, round(40 * scale))

  def write(dx: int, dy: int, colour: tuple[int, int, int]):
    cv2.putText(
        image,
        text,
        (x + dx, y + dy),
        cv2.FONT_HERSHEY_SIMPLEX,
        max(0.4, scale),
        colour,
        1,
        cv2.LINE_AA,
    )

  # The outline is the text shifted by a pixel each way: a thicker stroke
  # would not do, as Hershey letters advance further the thicker they are.
  for dx in (-1, 0, 1):
    for dy in (-1, 0, 1):
      write(dx, dy, (0, 0, 0))
  write(0, 0, (255, 255, 255))


ROI_COLOUR = (255, 210, 0)


def draw_box(image: np.ndarray, box) -> np.ndarray:
  """A copy of `image` with the ROI's rectangle (x0, y0, x1, y1) drawn."""
  out = image.copy()
  x0, y0, x1, y1 = (int(round(v * (1 << _SHIFT))) for v in box)
  cv2.rectangle(out, (x0, y0), (x1, y1), ROI_COLOUR, 1, cv2.LINE_AA, _SHIFT)
  return out
