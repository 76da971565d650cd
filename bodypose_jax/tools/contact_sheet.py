r"""Writes a contact sheet of random samples of an NTU RGB+D-format root.

  python -m bodypose_jax.tools.contact_sheet --root=/data/ntu_rgbd \
      --out=docs/contact_sheet.png --num_samples=6 --seed=0 --panel_width=320

`--root` holds NTU's folders (`tfds_ntu/layout.py`): the real dataset or the
synthetic renderer's output. Each row is one random sample at one random
frame: its RGB frame, full depth and masked depth at the same height, each
with the ground-truth skeletons of every body in that frame. Tracked joints
are filled dots; inferred ones (Kinect tracking state 1) hollow rings with
dimmed bones; untracked ones are not drawn. A modality the root lacks (real
downloads often hold only some) is a grey panel that says so.
"""

from collections.abc import Callable, Sequence
import os

from absl import app
from absl import flags
from absl import logging
import cv2
import numpy as np

from bodypose_jax.deploy import drawing
from bodypose_jax.model import skeleton
from bodypose_jax.runtime import cli
from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu import video_io

FLAGS = flags.FLAGS

BACKGROUND = (32, 32, 32)  # Label strips and the gaps between panels.
MISSING = (110, 110, 110)  # A panel whose file is missing or unreadable.
GAP = 2  # Pixels between the panels of a row.
# Full depth shows the room: colour it out to Kinect v2's 8 m range. Masked
# depth holds only people, a few metres away.
FULL_DEPTH_RANGE_MM = (500.0, 8000.0)
# Kinect joint tracking state of a guessed joint (0 untracked, 2 tracked).
INFERRED = 1


def _define_flags():
  # Defined only when run as a program, so that tests can import the module
  # beside other commands.
  flags.DEFINE_string(
      "root", None, "NTU RGB+D-format root folder.", required=True
  )
  flags.DEFINE_string("out", None, "Output .png.", required=True)
  flags.DEFINE_integer("num_samples", 6, "Samples (rows) to show.", 1)
  flags.DEFINE_integer("seed", 0, "Seed of the sample and frame choice.")
  flags.DEFINE_integer(
      "panel_width", 320, "Width of the RGB panels; depth panels match.", 16
  )


def sample_names(root: str) -> list[str]:
  """Sorted names of the samples with a `.skeleton` file under `root`.

  Files whose name is not an NTU sample name are skipped with a warning.

  Raises:
    ValueError: naming the skeleton folder when it is missing or holds no
      well-named `.skeleton` file.
  """
  folder = os.path.join(root, layout.SKELETON_DIR)
  if not os.path.isdir(folder):
    raise ValueError(f"{folder}: no skeleton folder in this NTU root.")
  names = []
  for file in sorted(os.listdir(folder)):
    name, ext = os.path.splitext(file)
    if ext != ".skeleton":
      continue
    try:
      layout.parse_name(name)
    except ValueError as e:
      logging.warning("%s: skipped: %s", os.path.join(folder, file), e)
      continue
    names.append(name)
  if not names:
    raise ValueError(f"{folder}: no .skeleton file with an NTU sample name.")
  return names


def read_skeleton(path: str) -> list[list[skeleton_file.Body]]:
  """`skeleton_file.read_skeleton`, every failure a ValueError naming `path`."""
  try:
    return skeleton_file.read_skeleton(path)
  except UnicodeDecodeError:
    # The parser's own errors name the file; a binary file fails earlier.
    raise ValueError(f"{path}: not .skeleton text.") from None


def panel_sizes(panel_width: int) -> tuple[tuple[int, int], tuple[int, int]]:
  """(h, w) of the RGB panel and of each depth panel: one height, aspects
  of the cameras (16:9 and 512:424)."""
  rgb_h, rgb_w = layout.RGB_SIZE
  depth_h, depth_w = layout.DEPTH_SIZE
  h = max(1, round(panel_width * rgb_h / rgb_w))
  return (h, panel_width), (h, max(1, round(h * depth_w / depth_h)))


def _to_panel(
    xy: np.ndarray, source_hw: tuple[int, int], panel_hw: tuple[int, int]
) -> np.ndarray:
  """[J, 2] pixels of a camera image -> [J, 2] pixels of its panel."""
  scale = np.array([panel_hw[1] / source_hw[1], panel_hw[0] / source_hw[0]])
  # As cv2.resize maps pixels: their centres, not their corners, scale.
  return (xy + 0.5) * scale - 0.5


def _grey(panel_hw: tuple[int, int], text: str) -> np.ndarray:
  image = np.full((*panel_hw, 3), MISSING, np.uint8)
  drawing.put_text(image, text)
  return image


def panel(
    path: str,
    read: Callable[[str], np.ndarray],
    label: str,
    source_hw: tuple[int, int],
    columns: slice,
    bodies: Sequence[skeleton_file.Body],
    panel_hw: tuple[int, int],
    depth_range_mm: tuple[float, float] = drawing.DEPTH_RANGE_MM,
) -> np.ndarray:
  """One camera's panel: its frame with every body's skeleton, labelled.

  Args:
    path: the frame's file.
    read: path -> [H, W, 3] uint8 RGB or [H, W] uint16 depth in mm; raises
      ValueError naming the file when it cannot.
    label: the modality, e.g. "full depth".
    source_hw: (H, W) of the camera the joint columns are in.
    columns: the joints' pixel columns in that camera (`skeleton_file`).
    bodies: the frame's bodies.
    panel_hw: (h, w) of the panel.
    depth_range_mm: (near, far) of the depth colour map.

  Returns:
    [h, w, 3] uint8 RGB; grey, saying why, when `path` is missing or
    unreadable (logged).
  """
  if not os.path.exists(path):
    return _grey(panel_hw, f"no {label}")
  try:
    frame = read(path)
  except ValueError as e:
    logging.warning("%s", e)
    return _grey(panel_hw, f"{label} unreadable")
  # Joints are in the camera's nominal pixels, whatever size the file is.
  image = drawing.display_frame(frame, panel_hw, depth_range_mm)
  for body in bodies:
    state = body.joints[:, skeleton_file.TRACKING]
    # Confidence 1 for both tracked and inferred joints: rings as wide as
    # dots, so that their holes show even in small panels.
    image = drawing.draw_pose(
        image,
        _to_panel(body.joints[:, columns], source_hw, panel_hw),
        (state >= INFERRED).astype(float),
        skeleton.JOINT_NAMES,
        skeleton.BONES,
        min_confidence=1.0,
        inferred=state == INFERRED,
    )
  drawing.put_text(image, label)
  return image


def sample_panels(
    root: str,
    name: str,
    index: int,
    bodies: Sequence[skeleton_file.Body],
    panel_width: int,
) -> list[np.ndarray]:
  """RGB, full depth and masked depth panels of frame `index` (0-based).

  Returns:
    [h, panel_width, 3], then twice [h, w_depth, 3], uint8 RGB
    (`panel_sizes`).
  """
  rgb_hw, depth_hw = panel_sizes(panel_width)
  return [
      panel(
          layout.rgb_path(root, name),
          lambda path: video_io.read_rgb_frame(path, index),
          "rgb",
          layout.RGB_SIZE,
          skeleton_file.COLOR_XY,
          bodies,
          rgb_hw,
      ),
      panel(
          layout.depth_frame_path(root, name, index),
          video_io.read_depth_png,
          "full depth",
          layout.DEPTH_SIZE,
          skeleton_file.DEPTH_XY,
          bodies,
          depth_hw,
          FULL_DEPTH_RANGE_MM,
      ),
      panel(
          layout.depth_masked_frame_path(root, name, index),
          video_io.read_depth_png,
          "masked depth",
          layout.DEPTH_SIZE,
          skeleton_file.DEPTH_XY,
          bodies,
          depth_hw,
      ),
  ]


def labelled_row(
    panels: Sequence[np.ndarray], text: str, scale: float | None = None
) -> np.ndarray:
  """Panels of one height side by side, GAP apart, under a strip of `text`.

  Args:
    panels: [h, w_i, 3] uint8 RGB.
    text: one line.
    scale: of the text (`drawing.put_text`), at least 0.4; default the panel
      height / 360.

  Returns:
    [strip + h, sum of widths + GAP * (len(panels) - 1), 3] uint8 RGB, where
    the strip is 56 * scale pixels high (at least 22).
  """
  h = panels[0].shape[0]
  gap = np.full((h, GAP, 3), BACKGROUND, np.uint8)
  row = np.concatenate([part for p in panels for part in (gap, p)][1:], axis=1)
  scale = max(0.4, h / 360 if scale is None else scale)
  strip = np.full((round(56 * scale), row.shape[1], 3), BACKGROUND, np.uint8)
  drawing.put_text(strip, text, scale)
  return np.concatenate([strip, row])


def contact_sheet(
    root: str, num_samples: int = 6, seed: int = 0, panel_width: int = 320
) -> np.ndarray:
  """Rows of random samples at random frames (`labelled_row`).

  Args:
    root: NTU RGB+D-format root folder.
    num_samples: rows; all samples when the root holds fewer.
    seed: of np.random.default_rng, which picks the samples (shown in name
      order), then each one's frame.
    panel_width: width of the RGB panels (`panel_sizes`).

  Returns:
    [rows * (strip + h), panel_width + 2 * (GAP + w_depth), 3] uint8 RGB.

  Raises:
    ValueError: naming the folder or file, when the root holds no usable
      skeleton file or a chosen skeleton file is unreadable.
  """
  if num_samples < 1:
    raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
  names = sample_names(root)
  rng = np.random.default_rng(seed)
  count = min(num_samples, len(names))
  picked = sorted(rng.choice(len(names), count, replace=False))
  rows = []
  for i, k in enumerate(picked, 1):
    name = names[k]
    frames = read_skeleton(layout.skeleton_path(root, name))
    index = int(rng.integers(len(frames))) if frames else 0
    bodies = frames[index] if frames else []
    # 1-based, as NTU numbers its depth files (Depth-00000001.png is frame 1).
    where = f"frame {index + 1} of {len(frames)}, {len(bodies)} "
    where += "body" if len(bodies) == 1 else "bodies"
    logging.info("Sample %d/%d: %s %s.", i, count, name, where)
    panels = sample_panels(root, name, index, bodies, panel_width)
    rows.append(labelled_row(panels, f"{name}  {where}"))
  return np.concatenate(rows)


def check_png(out: str):
  """Raises ValueError naming `out` unless it is a .png path."""
  if os.path.splitext(out)[1].lower() != ".png":
    raise ValueError(f"{out}: the contact sheet is written as .png.")


def write_png(out: str, sheet: np.ndarray):
  """Writes [H, W, 3] uint8 RGB `sheet` to the PNG `out`, creating its folder.

  Raises:
    ValueError: naming `out`, when cv2 cannot write it.
  """
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  if not cv2.imwrite(out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
    raise ValueError(f"{out}: cv2 cannot write the PNG.")


def run(
    root: str,
    out: str,
    num_samples: int = 6,
    seed: int = 0,
    panel_width: int = 320,
) -> tuple[int, int]:
  """Writes `contact_sheet(...)` to the PNG `out`, creating its folder.

  Returns:
    (height, width) of the sheet.
  """
  check_png(out)
  sheet = contact_sheet(root, num_samples, seed, panel_width)
  write_png(out, sheet)
  return sheet.shape[:2]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  h, w = run(
      FLAGS.root, FLAGS.out, FLAGS.num_samples, FLAGS.seed, FLAGS.panel_width
  )
  print(f"Wrote {FLAGS.out} ({w}x{h}).")


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
