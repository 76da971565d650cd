r"""Writes a contact sheet of random examples of a built tfds_ntu dataset.

  python -m bodypose_jax.tools.stored_sheet --dataset=tfds_ntu/synthetic_rgb \
      --split=xview_train --data_dir=DIR --out=docs/stored_sheet.png \
      --num_examples=4 --seed=0 --panel_width=320

`contact_sheet.py` shows the raw NTU files; this shows what the builder
stored from them, as the trainer reads it. Each row is one random example
at one random frame: the stored frame with the stored `joints_2d` of the
main actor and of the second actor (two-person actions), so that one can
check that they land on the people. Tracked joints are filled dots, inferred
ones hollow rings with dimmed bones, untracked ones are not drawn, as in
`contact_sheet`. Depth configs are coloured by `drawing`; 'rgbd' configs get
a second panel, the warped colour blended half and half with the coloured
masked depth, where a misalignment shows as doubled edges. The dataset must
be built (`tfds build tfds_ntu --config=...`).
"""

import os

from absl import app
from absl import flags
from absl import logging
import cv2
import numpy as np
import tensorflow_datasets as tfds

from bodypose_jax.data import input_pipeline
from bodypose_jax.deploy import drawing
from bodypose_jax.model import skeleton
from bodypose_jax.runtime import cli
from bodypose_jax.tools import contact_sheet
import tfds_ntu  # pylint: disable=unused-import  (registers the builder)

FLAGS = flags.FLAGS

# The label of the stored frame's panel, by the config's modality.
FRAME_LABELS = {
    "rgb": "rgb",
    "depth_masked": "masked depth",
    "depth": "full depth",
    "rgbd": "colour in depth geometry",
}
BLEND_LABEL = "colour + depth, 50/50"
# Features holding encoded images, one per frame: decoded only at the frame
# shown.
_IMAGES = ("frames", "depth")
# An actor's per-frame features that are drawn.
_JOINTS = ("joints_2d", "tracking_state")


def _define_flags():
  # Defined only when run as a program, so that tests can import the module
  # beside other commands.
  flags.DEFINE_string(
      "dataset",
      None,
      "TFDS name/config, e.g. tfds_ntu/synthetic_rgb.",
      required=True,
  )
  flags.DEFINE_string("split", None, "Split, e.g. xview_train.", required=True)
  flags.DEFINE_string("data_dir", None, "TFDS data_dir (None: TFDS's).")
  flags.DEFINE_string("out", None, "Output .png.", required=True)
  flags.DEFINE_integer("num_examples", 4, "Examples (rows) to show.", 1)
  flags.DEFINE_integer("seed", 0, "Seed of the example and frame choice.")
  flags.DEFINE_integer("panel_width", 320, "Width of each panel.", 16)


def check_built(builder: tfds.core.DatasetBuilder):
  """Raises FileNotFoundError, with the command that builds it, unless
  `builder`'s dataset is built in its data_dir."""
  if builder.is_prepared():
    return
  config = builder.builder_config.name
  raise FileNotFoundError(
      f"Dataset {builder.name}/{config} is not built in "
      f"{builder.data_dir_root} (looked for {builder.data_dir}). Build it "
      "from the repository root with:\n  "
      + input_pipeline.build_command(config, os.fspath(builder.data_dir_root))
  )


def read_example(
    builder: tfds.core.DatasetBuilder, split: str, index: int
) -> dict:
  """Example `index` (0-based, in stored order) of `split`, as numpy.

  Returns:
    The feature dict; `frames` (and `depth` for 'rgbd') stay [T] encoded
    images (`frame_at` decodes one).
  """
  skip = {
      key: tfds.decode.SkipDecoding()
      for key in _IMAGES
      if key in builder.info.features
  }
  ds = builder.as_dataset(split=f"{split}[{index}:{index + 1}]", decoders=skip)
  return next(iter(tfds.as_numpy(ds)))


def frame_at(builder: tfds.core.DatasetBuilder, example: dict, t: int) -> dict:
  """Frame `t` of a `read_example` example: what `frame_panels` draws.

  Returns:
    {"frames": [h, w, 3] uint8 or [h, w, 1] uint16 mm, "joints_2d": [25, 2],
    "tracking_state": [25], "second_actor": {"joints_2d", "tracking_state"}
    likewise}, and "depth": [h, w, 1] uint16 mm for 'rgbd'.
  """
  frame = {key: example[key][t] for key in _JOINTS}
  frame["second_actor"] = {
      key: example["second_actor"][key][t] for key in _JOINTS
  }
  for key in _IMAGES:
    if key in example:
      image = builder.info.features[key].feature
      frame[key] = image.decode_example(example[key][t]).numpy()
  return frame


def _to_panel(xy: np.ndarray, stored_hw, panel_hw) -> np.ndarray:
  """[J, 2] stored-frame pixels (centres at +0.5, as the builder stores
  them) -> [J, 2] panel pixels (centres at integers, as cv2 draws)."""
  scale = np.array([panel_hw[1] / stored_hw[1], panel_hw[0] / stored_hw[0]])
  return xy * scale - 0.5


def draw_actors(
    image: np.ndarray, frame: dict, stored_hw: tuple[int, int]
) -> np.ndarray:
  """Draws the main and second actor of `frame` (`frame_at`) onto a copy of
  `image`, a [h, w, 3] uint8 RGB panel of the [H, W] `stored_hw` frame."""
  for actor in (frame, frame["second_actor"]):
    state = actor["tracking_state"]
    # As `contact_sheet.panel`: rings as wide as dots, so holes show.
    image = drawing.draw_pose(
        image,
        _to_panel(actor["joints_2d"], stored_hw, image.shape[:2]),
        (state >= contact_sheet.INFERRED).astype(float),
        skeleton.JOINT_NAMES,
        skeleton.BONES,
        min_confidence=1.0,
        inferred=state == contact_sheet.INFERRED,
    )
  return image


def frame_panels(
    frame: dict, modality: str, panel_width: int
) -> list[np.ndarray]:
  """The stored frame, and for 'rgbd' its blend with the depth, labelled
  and with both actors drawn.

  Args:
    frame: one frame of an example (`frame_at`).
    modality: the builder config's, a key of FRAME_LABELS.
    panel_width: w of each panel.

  Returns:
    One [h, panel_width, 3] uint8 RGB panel, two for 'rgbd'; h keeps the
    stored frame's aspect.
  """
  stored = frame["frames"]
  stored_hw = stored.shape[:2]
  panel_hw = (
      max(1, round(panel_width * stored_hw[0] / stored_hw[1])),
      panel_width,
  )
  depth_range = drawing.DEPTH_RANGE_MM
  if modality == "depth":
    depth_range = contact_sheet.FULL_DEPTH_RANGE_MM
  # display_frame takes depth as [H, W].
  shown = stored[..., 0] if stored.shape[-1] == 1 else stored
  image = drawing.display_frame(shown, panel_hw, depth_range)
  images = [(FRAME_LABELS[modality], image)]
  if modality == "rgbd":
    depth = drawing.display_frame(frame["depth"][..., 0], panel_hw)
    blend = cv2.addWeighted(image, 0.5, depth, 0.5, 0.0)
    images.append((BLEND_LABEL, blend))
  panels = []
  for label, image in images:
    image = draw_actors(image, frame, stored_hw)
    drawing.put_text(image, label)
    panels.append(image)
  return panels


def stored_sheet(
    builder: tfds.core.DatasetBuilder,
    split: str,
    num_examples: int = 4,
    seed: int = 0,
    panel_width: int = 320,
) -> np.ndarray:
  """Rows of random examples of `split` at random frames.

  Args:
    builder: a tfds_ntu builder whose dataset is built.
    split: e.g. "xview_train".
    num_examples: rows; all examples when the split holds fewer.
    seed: of np.random.default_rng, which picks the examples (shown in
      stored order), then each one's frame.
    panel_width: w of each panel (`frame_panels`).

  Returns:
    [rows * (strip + h), panel_width (twice plus a gap for 'rgbd'), 3]
    uint8 RGB, rows as `contact_sheet.labelled_row`.

  Raises:
    FileNotFoundError: the dataset is not built (`check_built`).
    ValueError: `split` is not one of its splits, or num_examples < 1.
  """
  if num_examples < 1:
    raise ValueError(f"num_examples must be >= 1, got {num_examples}.")
  check_built(builder)
  splits = builder.info.splits
  if split not in splits:
    raise ValueError(
        f"{split!r}: no such split in {builder.data_dir}; it has "
        f"{sorted(splits)}."
    )
  modality = builder.builder_config.modality
  rng = np.random.default_rng(seed)
  total = splits[split].num_examples
  picked = sorted(rng.choice(total, min(num_examples, total), replace=False))
  rows = []
  for i, index in enumerate(picked, 1):
    example = read_example(builder, split, int(index))
    t = int(rng.integers(len(example["frames"])))
    label = _label(example, split, int(index), t)
    logging.info("Example %d/%d: %s.", i, len(picked), label)
    panels = frame_panels(frame_at(builder, example, t), modality, panel_width)
    rows.append(
        contact_sheet.labelled_row(panels, label, _label_scale(label, panels))
    )
  return np.concatenate(rows)


def _label(example: dict, split: str, index: int, t: int) -> str:
  """E.g. 'S001C002P003R001A058  frames[7] of 12  xview_train[3]'."""
  text = (
      f"{example['name'].decode()}  frames[{t}] of {len(example['frames'])}"
      f"  {split}[{index}]"
  )
  if "alignment_residual_px" in example:
    text += f"  alignment {example['alignment_residual_px']:.1f} px"
  return text


def _label_scale(text: str, panels: list[np.ndarray]) -> float:
  """The scale of a row's label: `labelled_row`'s default, smaller where the
  text would not fit the row (below 0.4 the text is cut instead)."""
  width = sum(p.shape[1] for p in panels)
  width += contact_sheet.GAP * (len(panels) - 1)
  # put_text starts width / 80 (at least 4) pixels in; leave as much after.
  room = width - 2 * max(4, width // 80)
  text_width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][0]
  # Hershey text is not exactly proportional to its scale: 5% spare.
  return min(panels[0].shape[0] / 360, 0.95 * room / text_width)


def run(
    dataset: str,
    split: str,
    out: str,
    data_dir: str | None = None,
    num_examples: int = 4,
    seed: int = 0,
    panel_width: int = 320,
) -> tuple[int, int]:
  """Writes `stored_sheet(...)` of `dataset` (e.g. "tfds_ntu/synthetic_rgb",
  built in `data_dir`) to the PNG `out`, creating its folder.

  Returns:
    (height, width) of the sheet.
  """
  contact_sheet.check_png(out)
  if data_dir is not None:
    data_dir = os.path.expanduser(data_dir)  # TFDS takes "~" literally.
  builder = tfds.builder(dataset, data_dir=data_dir)
  sheet = stored_sheet(builder, split, num_examples, seed, panel_width)
  contact_sheet.write_png(out, sheet)
  return sheet.shape[:2]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  h, w = run(
      FLAGS.dataset,
      FLAGS.split,
      FLAGS.out,
      FLAGS.data_dir,
      FLAGS.num_examples,
      FLAGS.seed,
      FLAGS.panel_width,
  )
  print(f"Wrote {FLAGS.out} ({w}x{h}).")


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
