"""Runs an exported streaming pose model with the TFLite interpreter.

The model file has two signatures: `init() -> state` and
`step(frame, state) -> (keypoints, confidences, heatmaps, state)`; the JSON
sidecar beside it (same name, `.json`) says what the tensors mean.
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
  """

  def __init__(self, path: str, num_threads: int | None = None):
    if not os.path.exists(path):
      raise FileNotFoundError(f"{path}: no such TFLite model.")
    meta = sidecar_path(path)
    if not os.path.exists(meta):
      raise FileNotFoundError(
          f"{meta}: the sidecar of {path} is missing; export writes both."
      )
    with open(meta) as f:
      self.sidecar = json.load(f)
    self._interpreter = tf.lite.Interpreter(
        model_path=path, num_threads=num_threads
    )
    self._step = self._interpreter.get_signature_runner("step")
    self.state_names = tuple(s["name"] for s in self.sidecar["state"])
    # A model without state (the single-frame baseline) has no `init`.
    self._init = (
        self._interpreter.get_signature_runner("init")
        if self.state_names
        else dict
    )
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

  def float_state(self) -> dict:
    """The current state in real units (int8 states times their scale)."""
    scales = self.sidecar["state_int8_scales"]
    if scales is None:
      return dict(self.state)
    return {
        k: self.state[k].astype(np.float32) * s
        for k, s in zip(self.state_names, scales)
    }
