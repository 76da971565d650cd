"""The stored sheet, on the tiny synthetic builds and a made-up rgbd frame."""

import os
import re

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

import commands
from bodypose_jax.deploy import drawing
from bodypose_jax.model import skeleton
from bodypose_jax.tools import stored_sheet

SPLIT = "xview_train"
MODALITIES = {"rgb": "rgb", "depth": "depth_masked"}  # smoke -> config's
# Panels 512 wide, so that `drawing.draw_pose` draws joints of radius 5.12
# and bones 2 wide (both from the panel's longer side).
WIDTH = 512
RADIUS, THICKNESS = 5.12, 2
T = 5  # The frame looked at.
COLOURS = drawing.joint_colours(skeleton.JOINT_NAMES)
J = skeleton.JOINT_INDEX


def _decoded(builder):
  """Every example of SPLIT in stored order, fully decoded by TFDS."""
  return list(tfds.as_numpy(builder.as_dataset(split=SPLIT)))


def _frame(example, t):
  """`stored_sheet.frame_at`'s dict, from a fully decoded example."""
  keys = ("frames", "joints_2d", "tracking_state")
  frame = {key: example[key][t] for key in keys}
  frame["second_actor"] = {
      key: example["second_actor"][key][t] for key in keys[1:]
  }
  return frame


def _undrawn(frame):
  """`frame` with no joint to draw."""
  plain = dict(frame, tracking_state=0 * frame["tracking_state"])
  plain["second_actor"] = dict(
      frame["second_actor"], tracking_state=0 * frame["tracking_state"]
  )
  return plain


def _panel_xy(joints_2d, stored_hw, panel):
  """Stored pixels (centres at +0.5) -> panel pixels (centres at 0)."""
  h, w = panel.shape[:2]
  return joints_2d * (w / stored_hw[1], h / stored_hw[0]) - 0.5


def _distance_to_segment(p, a, b):
  ab = b - a
  s = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-9), 0.0, 1.0)
  return np.linalg.norm(p - (a + s * ab))


def _clearest_tracked(a, xy, state):
  """Actor `a`'s tracked joint farthest clear of every other drawn joint and
  of every bone not its own: (joint, clearance in pixels, > 0 when nothing
  else is drawn over its centre).

  xy: [A, 25, 2] panel pixels of every actor; state: [A, 25].
  """
  visible = state >= 1
  best = (None, -np.inf)
  for j in np.flatnonzero(state[a] == 2):
    p, clear = xy[a, j], np.inf
    for b in range(len(xy)):
      for k in np.flatnonzero(visible[b]):
        if (b, k) != (a, j):
          # A ring reaches RADIUS + 2 (its width, its outline); AA 1 more.
          clear = min(clear, np.linalg.norm(xy[b, k] - p) - RADIUS - 3)
      for u, v in skeleton.BONES:
        if visible[b, u] and visible[b, v] and (b != a or j not in (u, v)):
          distance = _distance_to_segment(p, xy[b, u], xy[b, v])
          clear = min(clear, distance - THICKNESS - 1)
    if clear > best[1]:
      best = (j, clear)
  return best


@pytest.fixture(params=sorted(MODALITIES))
def smoke(request, smoke_builder):
  """(builder, config modality) of each smoke build."""
  return smoke_builder(request.param), MODALITIES[request.param]


def test_frame_at_reads_the_stored_example(smoke):
  builder, _ = smoke
  decoded = _decoded(builder)
  index = len(decoded) - 2
  example = stored_sheet.read_example(builder, SPLIT, index)
  assert example["name"] == decoded[index]["name"]
  frame = stored_sheet.frame_at(builder, example, T)
  expected = _frame(decoded[index], T)
  for key in ("frames", "joints_2d", "tracking_state"):
    np.testing.assert_array_equal(frame[key], expected[key])
  for key in ("joints_2d", "tracking_state"):
    np.testing.assert_array_equal(
        frame["second_actor"][key], expected["second_actor"][key]
    )


def test_joints_are_drawn_where_stored(smoke):
  builder, modality = smoke
  # A two-person example, so that both actors are drawn.
  example = next(
      e for e in _decoded(builder) if e["second_actor"]["tracking_state"].any()
  )
  frame = _frame(example, T)
  stored_hw = frame["frames"].shape[:2]
  (drawn,) = stored_sheet.frame_panels(frame, modality, WIDTH)
  (plain,) = stored_sheet.frame_panels(_undrawn(frame), modality, WIDTH)
  assert drawn.shape == (round(WIDTH * stored_hw[0] / stored_hw[1]), WIDTH, 3)
  actors = (frame, frame["second_actor"])
  xy = np.stack([_panel_xy(a["joints_2d"], stored_hw, drawn) for a in actors])
  state = np.stack([a["tracking_state"] for a in actors])
  visible = state >= 1
  for a in range(len(actors)):
    j, clear = _clearest_tracked(a, xy, state)
    assert clear > 0, f"no tracked joint of actor {a} stands clear"
    x, y = np.round(xy[a, j]).astype(int)
    # The joint's dot, in its side's colour, covers its stored place.
    np.testing.assert_allclose(drawn[y, x], COLOURS[j], atol=10)
    window = np.s_[y - 3 : y + 4, x - 3 : x + 4]
    assert np.abs(drawn[window] - plain[window].astype(int)).max() > 40
  # Away from every drawn joint, the panel is the undrawn frame.
  margin = RADIUS + THICKNESS + 2
  lo = xy[visible].min(axis=0) - margin
  hi = xy[visible].max(axis=0) + margin
  rows, cols = np.mgrid[: drawn.shape[0], : drawn.shape[1]]
  inside = (cols >= lo[0]) & (cols <= hi[0]) & (rows >= lo[1]) & (rows <= hi[1])
  assert (~inside).mean() > 0.5
  np.testing.assert_array_equal(drawn[~inside], plain[~inside])
  assert (drawn[inside] != plain[inside]).any()


def test_rgbd_panels_blend_colour_and_depth():
  h, w, grey, mm = 40, 64, 100, 2000
  depth = np.zeros((h, w, 1), np.uint16)
  depth[:, w // 2 :] = mm  # a person on the right, no depth on the left
  state = np.zeros(25, np.int32)
  state[J["hand_tip_left"]], state[J["head"]] = 2, 1
  joints = np.zeros((25, 2), np.float32)
  joints[J["hand_tip_left"]], joints[J["head"]] = (40.0, 20.0), (52.0, 20.0)
  second = np.zeros(25, np.int32)
  second[J["hand_right"]] = 2
  frame = {
      "frames": np.full((h, w, 3), grey, np.uint8),
      "depth": depth,
      "joints_2d": joints,
      "tracking_state": state,
      "second_actor": {
          "joints_2d": np.tile(np.float32([12.0, 30.0]), (25, 1)),
          "tracking_state": second,
      },
  }
  panels = stored_sheet.frame_panels(frame, "rgbd", 256)
  plains = stored_sheet.frame_panels(_undrawn(frame), "rgbd", 256)
  assert [p.shape for p in panels] == [(160, 256, 3)] * 2
  colour, blend = plains
  np.testing.assert_array_equal(colour[150, 5], (grey,) * 3)
  # 50/50: the colour alone halved where there is no depth, else the mean.
  np.testing.assert_allclose(blend[150, 5], (grey // 2,) * 3, atol=1)
  person = drawing.colourise_depth(np.full((1, 1), mm, np.uint16))[0, 0]
  np.testing.assert_allclose(
      blend[150, 250], (grey + person.astype(int)) / 2, atol=1
  )
  # Stored pixel (centres at +0.5) -> the panel's pixel there, 4x larger.
  at = lambda xy, image: image[round(xy[1] * 4 - 0.5), round(xy[0] * 4 - 0.5)]
  tip, head = joints[J["hand_tip_left"]], joints[J["head"]]
  for panel, plain in zip(panels, plains):
    np.testing.assert_allclose(at(tip, panel), drawing.LEFT_COLOUR, atol=10)
    np.testing.assert_allclose(
        at((12.0, 30.0), panel), drawing.RIGHT_COLOUR, atol=10
    )
    # Inferred: a ring around the untouched frame.
    np.testing.assert_array_equal(at(head, panel), at(head, plain))
    x, y = round(head[0] * 4 - 0.5), round(head[1] * 4 - 0.5)
    window = np.s_[y - 5 : y + 6, x - 5 : x + 6]
    assert np.abs(panel[window] - plain[window].astype(int)).max() > 60
  label = stored_sheet._label(
      {
          "name": b"S001C002P003R001A058",
          "frames": [b""] * 12,
          "alignment_residual_px": np.float32(1.234),
      },
      SPLIT,
      3,
      7,
  )
  assert label == (
      "S001C002P003R001A058  frames[7] of 12  xview_train[3]  alignment 1.2 px"
  )


def test_sheet_shape_and_seed(smoke_builder):
  builder = smoke_builder("rgb")
  sheet = stored_sheet.stored_sheet(builder, SPLIT, 3, seed=1, panel_width=256)
  # Three rows, each a 22-pixel label over a 144-pixel panel (108x192 stored).
  assert sheet.shape == (3 * (22 + 144), 256, 3) and sheet.dtype == np.uint8
  again = stored_sheet.stored_sheet(builder, SPLIT, 3, seed=1, panel_width=256)
  np.testing.assert_array_equal(sheet, again)
  other = stored_sheet.stored_sheet(builder, SPLIT, 3, seed=2, panel_width=256)
  assert (sheet != other).any()
  # More rows asked than examples: every example (8) once.
  every = stored_sheet.stored_sheet(builder, SPLIT, 20, panel_width=64)
  assert every.shape == (8 * (22 + 36), 64, 3)


@pytest.mark.slow
def test_cli_writes_the_sheet(smoke_builder, smoke_data_dir, tmp_path):
  smoke_builder("depth")
  out = tmp_path / "new" / "sheet.png"
  result = commands.run_module(
      "bodypose_jax.tools.stored_sheet",
      "--dataset=tfds_ntu/synthetic_smoke_depth",
      "--split=xview_test",
      f"--data_dir={smoke_data_dir}",
      f"--out={out}",
      "--num_examples=2",
      "--panel_width=128",
      timeout=120,
  )
  assert f"Wrote {out}" in result.stdout
  sheet = cv2.imread(str(out))
  # Two examples, each a 22-pixel label over a 106x128 depth panel.
  assert sheet.shape == (2 * (22 + 106), 128, 3)


def test_errors_say_what_is_wrong(smoke_builder, tmp_path):
  out = str(tmp_path / "sheet.jpg")
  with pytest.raises(ValueError, match=re.escape(out)):
    stored_sheet.run("tfds_ntu/synthetic_smoke_rgb", SPLIT, out)
  assert not os.path.exists(out)
  unbuilt = tfds.builder("tfds_ntu/synthetic_smoke_rgb", data_dir=str(tmp_path))
  command = (
      f"tfds build tfds_ntu --config=synthetic_smoke_rgb --data_dir={tmp_path}"
  )
  with pytest.raises(FileNotFoundError, match=re.escape(command)):
    stored_sheet.stored_sheet(unbuilt, SPLIT)
  with pytest.raises(ValueError, match="xview_test"):
    stored_sheet.stored_sheet(smoke_builder("rgb"), "xset_train")
