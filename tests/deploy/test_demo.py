"""The demo: letterbox geometry, drawing, runs on real and synthetic input."""

import json
import os
import re

from absl import app
import cv2
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import commands
import depth_pngs
from bodypose_jax.data import input_pipeline
from bodypose_jax.data import roi
from bodypose_jax.deploy import demo
from bodypose_jax.deploy import drawing
from bodypose_jax.model import skeleton

import real_samples


def _real_avi():
  path = (
      real_samples.samples_dir()
      / "nturgb+d_rgb"
      / "S001C001P001R001A001_rgb.avi"
  )
  if not path.exists():
    pytest.skip(f"{path}: the real NTU video is absent")
  return str(path)


@pytest.mark.parametrize("nearest", [False, True])
def test_the_demos_crop_is_the_training_pipelines(nearest):
  """The demo's crop is training's: the same pixels at the input's scale or
  finer (coarser, the demo first shrinks the frame as the builder stored
  it). Colour goes through OpenCV, depth through `roi.crop`."""
  input_hw, frame_hw = (32, 24), (54, 96)
  rng = np.random.default_rng(0)
  frame = cv2.GaussianBlur(
      rng.uniform(0, 255, (*frame_hw, 3)).astype(np.float32), (5, 5), 1.5)
  # Inside; straddling the left edge; zoomed in, off the pixel grid; the
  # whole frame letterboxed.
  rois = np.array([[48.0, 27.0, 30.0], [5.0, 30.0, 32.0],
                   [60.3, 20.7, 9.1], [47.5, 26.5, 32.0]], np.float32)
  want = input_pipeline.crop(
      tf.constant(np.repeat(frame[None], len(rois), 0)), tf.constant(rois),
      input_hw, "NEAREST" if nearest else "BILINEAR").numpy()
  for r, w in zip(rois, want):
    got, matrix = demo.crop_image(frame, r, input_hw, nearest=nearest)
    np.testing.assert_array_equal(matrix, roi.affine(r, input_hw))
    # Away from the frame's border, where the two fill differently.
    inside = np.ones(input_hw, bool)
    corners = roi.to_input(np.array([[-0.5, -0.5], [frame_hw[1] - 0.5,
                                                   frame_hw[0] - 0.5]]),
                           r, input_hw)
    xs, ys = np.meshgrid(np.arange(input_hw[1]), np.arange(input_hw[0]))
    inside = ((xs > corners[0, 0] + 1) & (xs < corners[1, 0] - 1)
              & (ys > corners[0, 1] + 1) & (ys < corners[1, 1] - 1))
    assert inside.sum() > 100
    if nearest:  # depth: training's own sampling, border and all
      np.testing.assert_allclose(got, w, atol=1e-3)
    else:  # OpenCV's bilinear, filling outside the frame its own way
      np.testing.assert_allclose(got[inside], w[inside], atol=0.5)


@pytest.mark.parametrize("frame_hw", [(100, 200), (1080, 1920), (424, 512)])
def test_letterbox_round_trip(frame_hw):
  matrix = demo.fit_matrix(frame_hw, (64, 96))
  rng = np.random.default_rng(0)
  points = rng.uniform(0, 1, (10, 2)) * [frame_hw[1] - 1, frame_hw[0] - 1]
  in_input = points @ matrix[:, :2].T + matrix[:, 2]
  # The frame's extent (pixel centres +-0.5) fits inside the input's.
  assert np.all((in_input >= -0.5) & (in_input <= [95.5, 63.5]))
  np.testing.assert_allclose(demo.to_original(in_input, matrix), points)
  # The frame's centre lands on the input's centre.
  centre = np.array([(frame_hw[1] - 1) / 2, (frame_hw[0] - 1) / 2])
  np.testing.assert_allclose(
      centre @ matrix[:, :2].T + matrix[:, 2], [47.5, 31.5]
  )


@pytest.mark.parametrize("nearest", [False, True])
def test_letterbox_content_and_padding(nearest):
  # Grey frame with a white rectangle, 2:1 into 3:2: bars top and bottom.
  frame = np.full((100, 200, 3), 100, np.uint8)
  frame[30:70, 50:150] = 255
  if nearest:
    frame = frame[..., 0].astype(np.uint16) * 10
  image, matrix = demo.letterbox(frame, (64, 96), nearest=nearest)
  assert image.shape == (64, 96, 1 if nearest else 3)
  assert image.dtype == np.float32
  top_left = np.array([50, 30]) @ matrix[:, :2].T + matrix[:, 2]
  bottom_right = np.array([149, 69]) @ matrix[:, :2].T + matrix[:, 2]
  (x0, y0), (x1, y1) = np.ceil(top_left + 1), np.floor(bottom_right - 1)
  white, grey = (2550, 1000) if nearest else (255, 100)
  inside = image[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1]
  np.testing.assert_allclose(inside, white, atol=1)
  # Grey between the rectangle and the frame's edge, left of the rectangle.
  content_top = matrix[1, 2]  # where frame row 0 lands
  np.testing.assert_allclose(image[32, 2 : int(top_left[0]) - 1], grey, atol=1)
  # Bars: exactly zero, a pixel clear of the frame's edge.
  assert np.all(image[: int(np.floor(content_top - 1))] == 0)
  bottom = matrix[1, 2] + matrix[1, 1] * 99
  assert np.all(image[int(np.ceil(bottom + 1)) :] == 0)
  assert content_top > 5  # the bars exist at all


def test_draw_pose_hides_low_confidence_joints():
  names = skeleton.JOINT_NAMES
  points = np.full((len(names), 2), 50.0)
  points[skeleton.JOINT_INDEX["elbow_left"]] = (20, 20)
  points[skeleton.JOINT_INDEX["elbow_right"]] = (80, 80)
  confidences = np.zeros(len(names))
  confidences[skeleton.JOINT_INDEX["elbow_left"]] = 0.9
  confidences[skeleton.JOINT_INDEX["elbow_right"]] = 0.9
  blank = np.zeros((100, 100, 3), np.uint8)
  out = drawing.draw_pose(
      blank, points, confidences, names, skeleton.BONES, 0.5
  )
  assert np.all(blank == 0)  # drew on a copy
  assert tuple(out[20, 20]) == drawing.LEFT_COLOUR
  assert tuple(out[80, 80]) == drawing.RIGHT_COLOUR
  # The hidden joints at (50, 50) and every bone are not drawn.
  assert np.all(out[35:65, 35:65] == 0)


@pytest.mark.parametrize("stride", [4, 8])
def test_heatmap_panel_peak_lands_on_its_frame_point(stride):
  frame_hw, input_hw, display_hw = (1080, 1920), (64, 96), (270, 480)
  matrix = demo.fit_matrix(frame_hw, input_hw)
  heatmaps = np.zeros((64 // stride, 96 // stride, 3), np.float32)
  heatmaps[4, 7, 1] = 1.0
  panel = demo.heatmap_panel(heatmaps, matrix, frame_hw, display_hw, stride)
  assert panel.shape == (*display_hw, 3)
  in_input = np.array([7, 4]) * stride + (stride - 1) / 2
  in_frame = demo.to_original(in_input, matrix)
  expected = (in_frame + 0.5) * 480 / 1920 - 0.5
  brightness = panel.astype(np.float32).sum(-1)
  peak = np.unravel_index(np.argmax(brightness), brightness.shape)[::-1]
  np.testing.assert_allclose(peak, expected, atol=1.5)


@pytest.mark.slow
def test_run_real_video_gif_and_mp4(tiny_export, tmp_path):
  avi = _real_avi()
  model, _ = tiny_export("rgb", "gru")
  gif = str(tmp_path / "demo.gif")
  summary = demo.run(
      model, avi, gif, heatmaps=True, max_frames=8, display_width=160
  )
  assert summary["frames"] == 8
  assert summary["model_fps"] > 0 and summary["end_to_end_fps"] > 0
  assert summary["model_fps"] == pytest.approx(1e3 / summary["model_ms_mean"])
  assert summary["model_ms_p90"] > 0
  # End to end includes the model's time, and decoding and drawing besides.
  assert summary["end_to_end_fps"] < summary["model_fps"]
  with Image.open(gif) as image:
    assert image.n_frames == 8
    assert image.size == (2 * 160, 90)  # frame and heatmap panel
    assert image.info["loop"] == 0
  mp4 = str(tmp_path / "demo.mp4")
  summary = demo.run(model, avi, mp4, max_frames=8, min_confidence=0.0)
  assert summary["frames"] == 8
  capture = cv2.VideoCapture(mp4)
  assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 8
  assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 480
  capture.release()
  assert sorted(os.listdir(tmp_path)) == ["demo.gif", "demo.mp4"]


def test_run_depth_png_folder(tiny_export, tmp_path):
  model, _ = tiny_export("depth", "gru")
  folder = depth_pngs.write_depth_pngs(tmp_path / "depth")
  gif = str(tmp_path / "depth.gif")
  summary = demo.run(model, folder, gif, heatmaps=True, display_width=128)
  assert summary["frames"] == 5
  with Image.open(gif) as image:
    assert image.n_frames == 5
    assert image.size == (256, 106)


def _assert_fails(tmp_path, model, path, error=(ValueError, app.UsageError)):
  out = tmp_path / "out"
  out.mkdir(exist_ok=True)
  with pytest.raises(error, match=re.escape(str(path))):
    demo.run(model, str(path), str(out / "demo.gif"), max_frames=3)
  assert not os.listdir(out)


def test_errors_name_the_path_and_leave_no_output(tiny_export, tmp_path):
  rgb, _ = tiny_export("rgb", "gru")
  depth, _ = tiny_export("depth", "gru")
  folder = depth_pngs.write_depth_pngs(tmp_path / "depth", count=2)
  _assert_fails(tmp_path, rgb, folder, ValueError)  # modality mismatch
  empty = tmp_path / "empty"
  empty.mkdir()
  _assert_fails(tmp_path, depth, empty, ValueError)
  _assert_fails(tmp_path, rgb, tmp_path / "missing.avi", FileNotFoundError)
  corrupt = tmp_path / "x.avi"
  corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
  _assert_fails(tmp_path, rgb, corrupt, ValueError)
  # A bad PNG after a good one fails mid-stream: no partial output either.
  (tmp_path / "depth" / "MDepth-00000003.png").write_bytes(b"not a png")
  _assert_fails(tmp_path, depth, tmp_path / "depth" / "MDepth-00000003.png")
  with pytest.raises(app.UsageError, match="demo.txt"):
    demo.run(rgb, str(corrupt), str(tmp_path / "demo.txt"))


@pytest.mark.slow
def test_cli(tiny_export, tmp_path):
  avi = _real_avi()
  model, _ = tiny_export("rgb", "gru")
  gif = tmp_path / "cli.gif"
  result = commands.run_module(
      "bodypose_jax.deploy.demo",
      f"--model={model}",
      f"--input={avi}",
      f"--output={gif}",
      "--max_frames=3",
      "--heatmaps",
      "--display_width=96",
      timeout=300,
  )
  assert "3 frames" in result.stdout
  with Image.open(gif) as image:
    assert image.n_frames == 3


@pytest.mark.parametrize("ext", [".json", ".npz"])
def test_run_writes_keypoints_in_frame_pixels(tiny_export, tmp_path, ext):
  avi = _real_avi()
  model, trained = tiny_export("rgb", "gru")
  path = str(tmp_path / f"pose{ext}")
  summary = demo.run(
      model, avi, str(tmp_path / "demo.gif"), max_frames=4,
      display_width=96, keypoints_path=path,
  )
  assert summary["keypoints"] == path
  if ext == ".npz":
    data = dict(np.load(path))
  else:
    with open(path) as f:
      data = {k: np.asarray(v) for k, v in json.load(f).items()}
  j = skeleton.NUM_JOINTS
  assert data["keypoints"].shape == (4, j, 2)
  assert data["confidences"].shape == (4, j)
  assert data["rois"].shape == (4, 3) and data["lost"].shape == (4,)
  assert list(data["joint_names"]) == list(skeleton.JOINT_NAMES)
  # The stream starts from the whole 1920x1080 frame, letterboxed.
  input_hw = trained.config.input.input_size
  np.testing.assert_allclose(
      data["rois"][0], roi.whole_frame((1080, 1920), input_hw), rtol=1e-5
  )
  # Keypoints come back in the frame's pixels, not the crop's.
  first = roi.to_input(data["keypoints"][0], data["rois"][0], input_hw)
  assert np.all((first > -1) & (first < [input_hw[1], input_hw[0]]))
  assert data["keypoints"][0][:, 0].max() > input_hw[1]


def test_bad_keypoints_path(tiny_export, tmp_path):
  model, _ = tiny_export("rgb", "gru")
  with pytest.raises(app.UsageError, match=r"\.json or \.npz"):
    demo.run(model, "x.avi", str(tmp_path / "d.gif"),
             keypoints_path=str(tmp_path / "k.csv"))
