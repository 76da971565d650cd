"""Consistency checks of an evaluation's metrics.json (`evaluate.evaluate`)."""

import pytest


def assert_consistent_pck(saved: dict):
  """All joints are the visible ones plus the occluded ones, and PCK grows
  with its threshold: relations that hold whatever the model predicts."""
  a, v, o = saved["all"], saved["visible"], saved["occluded"]
  assert a["count"] == v["count"] + o["count"] > 0
  for key in ("pck@0.1", "pck@0.2", "pck@0.5"):
    parts = sum((m[key] or 0.0) * m["count"] for m in (v, o))
    assert a[key] * a["count"] == pytest.approx(parts), key
  assert a["pck@0.1"] <= a["pck@0.2"] <= a["pck@0.5"]
