"""Runs an exported streaming pose model with the TFLite interpreter.

The model file has three signatures: `init() -> state`,
`step(frame, state) -> (keypoints, confidences, heatmaps, state)` on the crop,
and `track(keypoints, confidences, roi, frame_hw[, state]) -> (keypoints,
next_roi, lost[, state])`, the tracker in frame pixels; the JSON sidecar
beside it (same name, `.json`) says what the tensors mean.
"""

import json
import os

import numpy as np
import tensorflow as tf


def sidecar_path(model_path: str) -> str:
  return os.path.splitext(model_path)[0] + ".json"


class StreamingModel:
  """An exported model with its state carried between calls.

  Attributes:
    sidecar: the export's metadata (input size, modality, joints, ...).
    state_names: the step's state inputs, e.g. ('state_h',).
    track_state_names: those `track` takes and returns too.
  """

  def __init__(self, path: str, num_threads: int | None = None):
    if not os.path.exists(path):
      raise FileNotFoundError(f"{path}: no such TFLite model.")
    meta = sidecar_path(path)
    if not os.path.exists(meta):
      raise FileNotFoundError(
          f"{meta}: the sidecar of {path} is missing; export writes both."
      )
    try:
      with open(meta) as f:
        self.sidecar = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"{meta}: the sidecar of {path} is not JSON ({e}).")
    try:
      self._interpreter = tf.lite.Interpreter(
          model_path=path, num_threads=num_threads
      )
    except ValueError as e:
      reason = str(e).strip().splitlines()[0]
      raise ValueError(f"{path}: not a TFLite model ({reason}).") from e
    signatures = self._interpreter.get_signature_list()
    missing = {"step"} - set(signatures)
    if missing or "state" not in self.sidecar:
      raise ValueError(
          f"{path}: not a bodypose_jax export (signatures "
          f"{sorted(signatures)}, sidecar fields {sorted(self.sidecar)}).")
    self.state_names = tuple(s["name"] for s in self.sidecar["state"])
    takes = set(signatures["step"]["inputs"])
    says = {self.sidecar["input"]["name"], *self.state_names}
    if takes != says:
      raise ValueError(
          f"{path}: its step takes {sorted(takes)}, which does not match its "
          f"sidecar {meta} ({sorted(says)}); export writes the two together.")
    self._step = self._interpreter.get_signature_runner("step")
    # A model without state (the single-frame baseline) has no `init`.
    self._init = (
        self._interpreter.get_signature_runner("init")
        if self.state_names
        else dict
    )
    self._track = None
    # The state `track` moves onto the next ROI: all of it for a model that
    # follows the person with a state, none otherwise.
    self.track_state_names = ()
    if "track" in signatures:
      self._track = self._interpreter.get_signature_runner("track")
      self.track_state_names = tuple(
          n for n in self.state_names if n in signatures["track"]["inputs"]
      )
    self._path = path
    self.reset()

  @property
  def input_hw(self) -> tuple[int, int]:
    return tuple(self.sidecar["input"]["shape"][1:3])

  @property
  def heatmap_stride(self) -> int:
    """Input pixels per heatmap cell.

    Sidecars written before the field existed came from stride-8 heads.
    """
    return int(self.sidecar["outputs"]["heatmaps"].get("stride", 8))

  def reset(self):
    """Back to the zero state (a new video)."""
    self.state = self._init()

  def __call__(self, frame: np.ndarray) -> dict:
    """Runs one frame and keeps the new state.

    Args:
      frame: [H, W, C] or [1, H, W, C] in sensor units, letterboxed to the
        input size.

    Returns:
      keypoints [J, 2], confidences [J], heatmaps [h, w, J], and the new
      state tensors, batch axis dropped.
    """
    frame = np.asarray(frame, np.float32).reshape(
        self.sidecar["input"]["shape"]
    )
    out = self._step(frame=frame, **self.state)
    self.state = {k: out[k] for k in self.state_names}
    return {k: v[0] for k, v in out.items()}

  def track(self, keypoints, confidences, roi, frame_hw) -> dict:
    """Runs the `track` signature on a step's outputs; keeps the state it
    moves onto the next ROI, if it moves it.

    Args:
      keypoints: [J, 2] the step's, input pixels of the crop of `roi`.
      confidences: [J] the step's.
      roi: [3] (cx, cy, height) the frame was cropped with, frame pixels.
      frame_hw: (height, width) of the frame in pixels.

    Returns:
      keypoints [J, 2] in frame pixels, next_roi [3] float32 and lost
      (bool): the next frame's ROI and whether tracking was judged lost.

    Raises:
      ValueError: for a model exported before `track` existed.
    """
    if self._track is None:
      raise ValueError(
          f"{self._path} has no `track` signature (exported before the "
          "tracker moved into the model); export it again."
      )
    state = {k: self.state[k] for k in self.track_state_names}
    out = self._track(
        keypoints=np.asarray(keypoints, np.float32)[None],
        confidences=np.asarray(confidences, np.float32)[None],
        roi=np.asarray(roi, np.float32)[None],
        frame_hw=np.asarray(frame_hw, np.float32),
        **state,
    )
    self.state.update({k: out[k] for k in state})
    return {
        "keypoints": out["keypoints"][0],
        "next_roi": out["next_roi"][0],
        "lost": bool(out["lost"][0]),
    }

  def float_state(self) -> dict:
    """The current state in real units (int8 states times their scale)."""
    scales = self.sidecar["state_int8_scales"]
    if scales is None:
      return dict(self.state)
    return {
        k: self.state[k].astype(np.float32) * s
        for k, s in zip(self.state_names, scales)
    }
