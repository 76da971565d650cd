r"""Streams a video through an exported model and draws the skeleton.

  python -m bodypose_jax.deploy.demo --model=<workdir>/export/pose_float32.tflite \
      --input=video.avi --output=demo.gif --heatmaps --max_frames=100

`--input` is a video file for RGB models or a folder of uint16 depth PNGs
(millimetres, read in name order) for depth models; the sidecar beside the
model says which. The recurrent state is carried from frame to frame, as a
live camera app would. The output (.gif or .mp4) shows the frame with the
skeleton, optionally the heatmaps beside it, and the model's running FPS; a
latency summary is logged and printed at the end.

`--one_euro` draws (and writes) the keypoints after the One-Euro filter
(one_euro.py) with the sidecar's `tracking.one_euro` settings, which the
--one_euro_* flags override; `--noone_euro` turns off a filter the sidecar
enables. The tracker follows the raw keypoints either way.
"""

from collections.abc import Iterator, Sequence
import contextlib
import itertools
import os
import time

from absl import app
from absl import flags
from absl import logging
import cv2
import numpy as np
from PIL import Image

from bodypose_jax.data import roi
from bodypose_jax.deploy import drawing
from bodypose_jax.deploy import one_euro as one_euro_lib
from bodypose_jax.deploy import tflite_model
from bodypose_jax.deploy import tracking
from bodypose_jax.runtime import cli
from tfds_ntu import video_io

FLAGS = flags.FLAGS

OUTPUT_FORMATS = (".gif", ".mp4")
# Kinect v2 streams run at 30 fps; PNG folders carry no frame rate.
DEPTH_FPS = 30.0
PROGRESS_EVERY = 25


def _define_flags():
  # Defined only when run as a program: profile_tflite also owns --threads
  # (a list), and one test process imports both modules.
  flags.DEFINE_string("model", None, "Exported .tflite with its .json sidecar.")
  flags.DEFINE_string(
      "input",
      None,
      "Video file (RGB models) or folder of uint16 depth PNGs (depth models).",
  )
  flags.DEFINE_string("output", None, "Output .gif or .mp4.")
  flags.DEFINE_bool("heatmaps", False, "Show the heatmaps beside the frame.")
  flags.DEFINE_integer(
      "max_frames", None, "Stop after this many frames; default all.", 1
  )
  flags.DEFINE_integer("threads", 2, "TFLite interpreter threads.", 1)
  flags.DEFINE_float(
      "min_confidence", 0.1, "Hide joints (and their bones) below this.", 0.0
  )
  flags.DEFINE_integer(
      "display_width", 480, "Width of the drawn frame (rounded to even).", 2
  )
  flags.DEFINE_float(
      "fps", None, "Output frame rate; default the source's.", 1e-3
  )
  flags.DEFINE_string(
      "keypoints",
      None,
      "Also write each frame's keypoints, confidences and ROI in frame "
      "pixels to this .json or .npz.",
  )
  one_euro_lib.define_flags("the sidecar's")
  flags.mark_flags_as_required(["model", "input", "output"])


# --------------------------------------------------------------- geometry --
def _as3x3(matrix: np.ndarray) -> np.ndarray:
  return np.vstack([matrix, [0.0, 0.0, 1.0]])


def _compose(*matrices: np.ndarray) -> np.ndarray:
  """2x3 affines applied right to left: _compose(a, b)(p) = a(b(p))."""
  out = np.eye(3)
  for m in matrices:
    out = out @ _as3x3(m)
  return out[:2]


def fit_matrix(
    frame_hw: tuple[int, int], input_hw: tuple[int, int]
) -> np.ndarray:
  """[2, 3] frame -> input pixels of the whole frame letterboxed: the
  tracker's first ROI (`roi.whole_frame`, `roi.affine`)."""
  return roi.affine(roi.whole_frame(frame_hw, input_hw), input_hw)


def _resize_matrix(
    from_hw: tuple[int, int], to_hw: tuple[int, int]
) -> np.ndarray:
  """[2, 3] of cv2.resize from `from_hw` to `to_hw` (pixel centres kept)."""
  sy, sx = to_hw[0] / from_hw[0], to_hw[1] / from_hw[1]
  return np.array([[sx, 0.0, sx / 2 - 0.5], [0.0, sy, sy / 2 - 0.5]])


def crop_image(
    frame: np.ndarray, roi_: np.ndarray, input_hw: tuple[int, int],
    nearest: bool = False
) -> tuple[np.ndarray, np.ndarray]:
  """The ROI of a camera frame resampled to the model input, as training
  cropped it (`roi.affine`'s geometry).

  Args:
    frame: [H, W] or [H, W, C] camera frame (uint8 RGB or uint16 depth).
    roi_: [3] (cx, cy, height) in frame pixels.
    input_hw: (h, w) of the model input.
    nearest: nearest-neighbour sampling, for depth (blending would invent
      depths between the body and the zeroed background); else bilinear.

  Returns:
    image: [h, w, C] float32 in the frame's units, 0 outside the frame.
    matrix: [2, 3] taking frame pixels to input pixels.
  """
  matrix = roi.affine(roi_, input_hw)
  if nearest:
    # Depth: training's own sampling. OpenCV's nearest breaks the ties of
    # half-way positions (a whole-pixel scale) the other way.
    image = roi.crop(frame if frame.ndim == 3 else frame[..., None], roi_,
                     input_hw, True, np)
    return np.asarray(image, np.float32), matrix
  source, warp = frame, matrix
  scale = matrix[0, 0]
  if scale < 1:
    # Training frames were stored with INTER_AREA before the bilinear
    # crop; bilinear alone from full HD would alias badly.
    small_hw = tuple(max(1, round(scale * n)) for n in frame.shape[:2])
    source = cv2.resize(frame, small_hw[::-1], interpolation=cv2.INTER_AREA)
    warp = _compose(
        matrix,
        cv2.invertAffineTransform(_resize_matrix(frame.shape[:2], small_hw)),
    )
  image = cv2.warpAffine(
      source,
      warp,
      (input_hw[1], input_hw[0]),
      flags=cv2.INTER_LINEAR,
      borderMode=cv2.BORDER_CONSTANT,
      borderValue=0,
  )
  if image.ndim == 2:
    image = image[..., None]
  return image.astype(np.float32), matrix


def letterbox(
    frame: np.ndarray, input_hw: tuple[int, int], nearest: bool = False
) -> tuple[np.ndarray, np.ndarray]:
  """The whole frame fitted into the model input: `crop_image` of the
  tracker's first ROI."""
  return crop_image(frame, roi.whole_frame(frame.shape[:2], input_hw),
                    input_hw, nearest)


def to_original(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
  """Maps [..., 2] (x, y) input pixels back to the frame by `matrix`'s inverse.

  Args:
    points: [..., 2] (x, y) in input pixels.
    matrix: [2, 3] frame -> input, as `letterbox` returns.

  Returns:
    [..., 2] (x, y) in frame pixels.
  """
  inverse = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
  return np.asarray(points) @ inverse[:, :2].T + inverse[:, 2]


def _apply(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
  return np.asarray(points) @ matrix[:, :2].T + matrix[:, 2]


def display_size(frame_hw: tuple[int, int], width: int) -> tuple[int, int]:
  """(h, w) of the drawn frame: `width` wide, aspect kept, both even.

  Even sizes because mp4 encoders subsample colour by 2 in both directions.
  """
  w = max(2, width // 2 * 2)
  h = max(2, round(frame_hw[0] * w / frame_hw[1] / 2) * 2)
  return h, w


def _roi_box(roi_: np.ndarray, input_hw, to_display: np.ndarray):
  """The ROI's corners (x0, y0, x1, y1) in display pixels."""
  h = roi_[2]
  w = h * roi.aspect(input_hw)
  corners = np.array([[roi_[0] - w / 2, roi_[1] - h / 2],
                      [roi_[0] + w / 2, roi_[1] + h / 2]])
  return _apply(corners, to_display).ravel()


# -------------------------------------------------------------- keypoints --
KEYPOINT_FORMATS = (".json", ".npz")


def _check_keypoints_path(path: str):
  if os.path.splitext(path)[1].lower() not in KEYPOINT_FORMATS:
    raise app.UsageError(
        f"{path}: keypoints are written as {' or '.join(KEYPOINT_FORMATS)}."
    )
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"{path}: no such folder {folder}.")


def write_keypoints(path, track, names, fps, source, one_euro=None):
  """Writes the per-frame pose of a run, in original-frame pixels.

  Fields (JSON: lists; NPZ: arrays): keypoints [N, J, 2] (x, y), pixel
  centres at integers; confidences [N, J] (peak heatmap probability);
  rois [N, 3] (cx, cy, height) each frame was cropped with; lost [N] whether
  tracking was judged lost after the frame; joint_names [J]; fps; source.
  With a One-Euro filter, keypoints are the filtered ones and raw_keypoints
  [N, J, 2] the model's, and one_euro holds the settings (NPZ: [min_cutoff,
  beta, d_cutoff]).
  """
  data = {
      "keypoints": np.stack([t["keypoints"] for t in track]).astype(
          np.float32),
      "confidences": np.stack([t["confidences"] for t in track]).astype(
          np.float32),
      "rois": np.stack([t["roi"] for t in track]).astype(np.float32),
      "lost": np.array([t["lost"] for t in track]),
  }
  meta = {"joint_names": list(names), "fps": float(fps),
          "source": os.path.abspath(source)}
  if one_euro is not None:
    data["raw_keypoints"] = np.stack(
        [t["raw_keypoints"] for t in track]).astype(np.float32)
    meta["one_euro"] = one_euro._asdict()
  if path.lower().endswith(".npz"):
    with cli.atomic_output(path) as tmp:
      np.savez(tmp, **data, **{
          k: np.asarray(list(v.values()) if isinstance(v, dict) else v)
          for k, v in meta.items()})
  else:
    cli.write_json(path, {**{k: v.tolist() for k, v in data.items()}, **meta})


# ---------------------------------------------------------------- drawing --
def heatmap_panel(
    heatmaps: np.ndarray,
    matrix: np.ndarray,
    frame_hw: tuple[int, int],
    display_hw: tuple[int, int],
    stride: int,
) -> np.ndarray:
  """The max over joints of the heatmaps, in the drawn frame's geometry.

  Each frame is stretched from its own minimum to its maximum: the panel
  shows where the model looks, even when it is unsure (an untrained model's
  maps are nearly flat); how sure it is shows in the joints' size.

  Args:
    heatmaps: [gh, gw, J] per-joint probabilities on the model's grid; cell
      (r, c) is centred at input pixel (s*c + (s - 1) / 2, s*r + (s - 1) / 2).
    matrix: [2, 3] frame -> input (`letterbox`).
    frame_hw: (H, W) of the camera frame.
    display_hw: (h, w) of the drawn frame.
    stride: s, input pixels per heatmap cell (the sidecar's).

  Returns:
    [h, w, 3] uint8 RGB.
  """
  peak = np.max(heatmaps, axis=-1).astype(np.float32)
  peak -= peak.min()
  peak /= max(float(peak.max()), 1e-12)
  grid_to_input = np.array(
      [[stride, 0.0, (stride - 1) / 2], [0.0, stride, (stride - 1) / 2]]
  )
  # One warp from grid cells straight to display pixels: the same as
  # upsampling by the stride and undoing the letterbox, without the big
  # intermediate images.
  grid_to_display = _compose(
      _resize_matrix(frame_hw, display_hw),
      cv2.invertAffineTransform(matrix),
      grid_to_input,
  )
  image = cv2.warpAffine(
      peak,
      grid_to_display,
      (display_hw[1], display_hw[0]),
      flags=cv2.INTER_LINEAR,
      # Outside the crop the model saw nothing: dark, not smeared edges.
      borderMode=cv2.BORDER_CONSTANT,
      borderValue=0,
  )
  level = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
  return cv2.cvtColor(
      cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB
  )


# ---------------------------------------------------------------- reading --
def input_modality(path: str) -> str:
  """'depth' for a folder (of depth PNGs), 'rgb' for a file (a video)."""
  return "depth" if os.path.isdir(path) else "rgb"


def _check_input(path: str, modality: str):
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no such video file or PNG folder.")
  given = input_modality(path)
  if given != modality:
    if modality == "depth":
      need = "a folder of uint16 depth PNGs"
    else:
      need = "a video file"
    what = "a folder" if given == "depth" else "a file (taken as a video)"
    raise ValueError(
        f"{path}: is {what}, but the model takes {modality} input: give it "
        f"{need}."
    )


def _png_frames(files: list[str], first: np.ndarray) -> Iterator[np.ndarray]:
  yield first
  for path in files[1:]:
    image = video_io.read_depth_png(path)
    if image.shape != first.shape:
      raise ValueError(
          f"{path}: {image.shape} differs from the first frame's "
          f"{first.shape}."
      )
    yield image


def _video_frames(capture, path: str, first: np.ndarray):
  try:
    yield first
    while True:
      ok, frame = capture.read()
      if not ok:
        return
      if frame.shape != first.shape:
        raise ValueError(f"{path}: frame size changed mid-video.")
      yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
  finally:
    capture.release()


def read_frames(path: str, modality: str) -> Iterator[np.ndarray]:
  """Opens a video or PNG folder; problems with its start are raised now.

  Args:
    path: a video file OpenCV reads (modality 'rgb') or a folder of uint16
      depth PNGs in mm, read in name order (modality 'depth').
    modality: the model's, 'rgb' or 'depth'.

  Returns:
    An iterator of [H, W, 3] uint8 RGB frames or [H, W] uint16 depth frames,
    all the same size. Close it to free a video early.

  Raises:
    FileNotFoundError: `path` is missing.
    ValueError: `path` is of the other modality than the model's.
    ValueError: naming the file, when the video cannot be decoded or holds no
      frame, the folder holds no PNG, or a PNG is not uint16 depth (later
      PNGs raise when reached).
  """
  _check_input(path, modality)
  if modality == "depth":
    files = sorted(
        os.path.join(path, f)
        for f in os.listdir(path)
        if f.lower().endswith(".png")
    )
    if not files:
      raise ValueError(f"{path}: the folder holds no .png file.")
    return _png_frames(files, video_io.read_depth_png(files[0]))
  capture = cv2.VideoCapture(path)
  ok, first = capture.read() if capture.isOpened() else (False, None)
  if not ok:
    capture.release()
    raise ValueError(f"{path}: OpenCV cannot decode a frame of this video.")
  return _video_frames(capture, path, first)


def source_fps(path: str, modality: str) -> float:
  """The input's frame rate; Kinect's 30 fps for PNG folders."""
  if modality == "depth":
    return DEPTH_FPS
  capture = cv2.VideoCapture(path)
  fps = capture.get(cv2.CAP_PROP_FPS)
  capture.release()
  return float(fps) if np.isfinite(fps) and fps > 0 else DEPTH_FPS


# ---------------------------------------------------------------- writing --
def _check_output(path: str) -> str:
  ext = os.path.splitext(path)[1].lower()
  if ext not in OUTPUT_FORMATS:
    raise app.UsageError(
        f"{path}: unknown output format {ext!r}; use one of {OUTPUT_FORMATS}."
    )
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"{path}: the folder {folder} does not exist.")
  return ext


@contextlib.contextmanager
def _writer(path: str, fps: float):
  """Yields write([h, w, 3] uint8 RGB); `path` appears only on success
  (`cli.atomic_output`): a failure half way leaves neither a truncated file
  nor a stale one replaced."""
  ext = _check_output(path)
  gif_frames, video = [], None
  with cli.atomic_output(path) as tmp:

    def write(image: np.ndarray):
      nonlocal video
      if ext == ".gif":
        # Quantise now: a palette image is a third of the RGB one in memory.
        gif_frames.append(
            Image.fromarray(image).convert("P", palette=Image.Palette.ADAPTIVE)
        )
        return
      if video is None:
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        size = (image.shape[1], image.shape[0])
        video = cv2.VideoWriter(tmp, fourcc, fps, size)
        if not video.isOpened():
          raise ValueError(f"{path}: OpenCV cannot write an mp4v video here.")
      video.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))

    try:
      yield write
      if ext == ".gif":
        gif_frames[0].save(
            tmp,
            save_all=True,
            append_images=gif_frames[1:],
            duration=round(1000 / fps),
            loop=0,
        )
    finally:
      if video is not None:
        video.release()


# -------------------------------------------------------------------- run --
def run(
    model_path: str,
    input_path: str,
    output_path: str,
    *,
    heatmaps: bool = False,
    max_frames: int | None = None,
    threads: int = 2,
    min_confidence: float = 0.1,
    display_width: int = 480,
    fps: float | None = None,
    keypoints_path: str | None = None,
    one_euro: dict | None = None,
) -> dict:
  """Streams `input_path` through the model and writes the drawn video.

  The model follows the person as an app runs it (`tracking.HostTracker`):
  the whole frame first, then crops from its own keypoints; the ROI is
  drawn as a box.

  Args:
    model_path: exported .tflite, its .json sidecar beside it.
    input_path: video file (RGB models) or folder of depth PNGs (depth).
    output_path: .gif or .mp4; written only when every frame succeeded.
    heatmaps: add a panel with the heatmaps (max over joints) on the right.
    max_frames: stop after this many frames; None for all.
    threads: TFLite interpreter threads.
    min_confidence: joints below it, and their bones, are not drawn.
    display_width: width of the drawn frame (rounded down to even).
    fps: output frame rate; None for the source's.
    keypoints_path: also write the per-frame keypoints here (.json or .npz,
      `write_keypoints`).
    one_euro: settings over the sidecar's `tracking.one_euro` (enabled,
      min_cutoff, beta, d_cutoff; None values ignored): when enabled, the
      drawn and written keypoints are filtered, at the source's frame rate.

  Returns:
    frames, model_ms_mean, model_ms_p90, model_fps (model time only),
    end_to_end_fps (decode, crop, model and drawing; not the encoding
    of the output) and output.

  Raises:
    app.UsageError: an output extension it cannot write.
    FileNotFoundError: a missing input, or output folder.
    ValueError: naming the file, when the input cannot be read or is of the
      other modality than the model's.
  """
  if max_frames is not None and max_frames < 1:
    raise ValueError(f"max_frames must be >= 1, got {max_frames}.")
  if display_width < 2:
    raise ValueError(f"display_width must be >= 2, got {display_width}.")
  _check_output(output_path)
  cli.check_writable(output_path)
  if keypoints_path:
    _check_keypoints_path(keypoints_path)
    cli.check_writable(keypoints_path)
  model = tflite_model.StreamingModel(model_path, threads)
  meta = model.sidecar
  modality = meta["input"]["modality"]
  names, bones = meta["joints"], meta["bones"]
  frames = read_frames(input_path, modality)
  # The filter runs at the input's own rate, whatever --fps says of the
  # output.
  params = one_euro_lib.resolve(
      meta.get("tracking", {}).get("one_euro"), one_euro)
  tracker = tracking.HostTracker(model, params,
                                 source_fps(input_path, modality))
  out_fps = fps or tracker.fps
  model_s, pipeline_s, track = [], 0.0, []

  def crop_fn(frame, roi_):
    return crop_image(frame, roi_, model.input_hw, tracker.nearest)[0]

  with contextlib.closing(frames), _writer(output_path, out_fps) as write:
    limited = itertools.islice(frames, max_frames)
    while True:
      start = time.perf_counter()
      frame = next(limited, None)
      if frame is None:
        break
      out = tracker(frame, crop_fn)
      model_s.append(tracker.model_seconds)
      track.append(out)
      display_hw = display_size(frame.shape[:2], display_width)
      to_display = _resize_matrix(frame.shape[:2], display_hw)
      drawn = drawing.display_frame(frame, display_hw)
      if meta.get("tracking", {}).get("follows_person"):
        drawn = drawing.draw_box(drawn, _roi_box(out["roi"], model.input_hw,
                                                 to_display))
      drawn = drawing.draw_pose(
          drawn,
          _apply(out["keypoints"], to_display),
          out["confidences"],
          names,
          bones,
          min_confidence,
      )
      drawing.put_text(drawn, f"model {len(model_s) / sum(model_s):.0f} fps")
      if heatmaps:
        panel = heatmap_panel(
            out["heatmaps"],
            roi.affine(out["roi"], model.input_hw),
            frame.shape[:2],
            display_hw,
            model.heatmap_stride,
        )
        drawn = np.concatenate([drawn, panel], axis=1)
      # Encoding the output is the demo's cost, not the pipeline's.
      pipeline_s += time.perf_counter() - start
      write(drawn)
      if len(model_s) % PROGRESS_EVERY == 0:
        logging.info(
            "%s: %d frames, model %.1f ms mean.",
            input_path,
            len(model_s),
            1e3 * np.mean(model_s),
        )
  if keypoints_path:
    write_keypoints(keypoints_path, track, names, out_fps, input_path,
                    params)
    summary_extra = {"keypoints": keypoints_path}
  else:
    summary_extra = {}
  summary = summarise(model_s, pipeline_s)
  summary["output"] = output_path
  summary.update(summary_extra)
  logging.info("%s", format_summary(summary))
  return summary


def summarise(model_s: Sequence[float], pipeline_s: float) -> dict:
  """Latency statistics of a run.

  Args:
    model_s: [T] seconds of each model call.
    pipeline_s: total seconds of decoding, cropping, model and drawing.

  Returns:
    frames, model_ms_mean, model_ms_p90, model_fps, end_to_end_fps.
  """
  ms = 1e3 * np.asarray(model_s, np.float64)
  return {
      "frames": len(ms),
      "model_ms_mean": float(ms.mean()),
      "model_ms_p90": float(np.percentile(ms, 90)),
      "model_fps": float(1e3 / ms.mean()),
      "end_to_end_fps": float(len(ms) / pipeline_s),
  }


def format_summary(summary: dict) -> str:
  return (
      f"{summary['frames']} frames: model {summary['model_ms_mean']:.1f} ms "
      f"mean, {summary['model_ms_p90']:.1f} ms p90, "
      f"{summary['model_fps']:.1f} fps; end to end "
      f"{summary['end_to_end_fps']:.1f} fps (decode, crop, model, draw)."
      + (f" Wrote {summary['output']}." if "output" in summary else "")
  )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  summary = run(
      FLAGS.model,
      FLAGS.input,
      FLAGS.output,
      heatmaps=FLAGS.heatmaps,
      max_frames=FLAGS.max_frames,
      threads=FLAGS.threads,
      min_confidence=FLAGS.min_confidence,
      display_width=FLAGS.display_width,
      fps=FLAGS.fps,
      keypoints_path=FLAGS.keypoints,
      one_euro=one_euro_lib.flag_overrides(),
  )
  print(format_summary(summary))


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
