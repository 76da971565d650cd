"""Tests for the temporal study: a tiny study trains, evaluates, exports,
times and reports every run, and a rerun resumes instead of redoing."""

import json
import os

import pytest

import commands
from bodypose_jax import temporal_study


@pytest.mark.slow
def test_tiny_study_reports_every_run_and_resumes(
    tmp_path, smoke_builder, smoke_data_dir
):
  smoke_builder("rgb")
  out = str(tmp_path / "study")
  kwargs = dict(
      modalities=["rgb"],
      cells=["none", "gru"],
      protocols=["xsub"],
      seeds=[0],
      variant="smoke",
      num_train_steps=2,
      data_dir=smoke_data_dir,
      latency_runs=5,
  )
  result = temporal_study.study(out, **kwargs)
  assert [r["name"] for r in result["runs"]] == [
      "rgb_none_xsub_s0",
      "rgb_gru_xsub_s0",
  ]
  rows = {r["cell"]: r for r in result["summary"]}
  assert set(rows) == {"none", "gru"}
  for row in rows.values():
    assert 0.0 <= row["pck@0.2"][0] <= 1.0 and row["pck@0.2"][1] == 0.0
    assert row["p50_ms"] > 0
  # The recurrent cell adds parameters to the same encoder and head.
  assert rows["gru"]["params"] > rows["none"]["params"]
  with open(os.path.join(out, "study.json")) as f:
    assert json.load(f)["summary"] == json.loads(json.dumps(result["summary"]))
  with open(os.path.join(out, "study.md")) as f:
    table = f.read().splitlines()
  assert len(table) == 2 + 2 and "| rgb | gru | xsub | 1 |" in table[3]
  assert os.path.getsize(os.path.join(out, "latency_accuracy.png")) > 0

  # A rerun finds every stage done: same evaluations, nothing retrained.
  run_dir = os.path.join(out, "runs", "rgb_gru_xsub_s0")
  stamp = os.path.getmtime(os.path.join(run_dir, "stream_eval", "metrics.json"))
  again = temporal_study.study(out, **kwargs)
  assert again["runs"] == result["runs"]
  assert (
      os.path.getmtime(os.path.join(run_dir, "stream_eval", "metrics.json"))
      == stamp
  )

  # A report over a larger grid, from the command line, trains nothing and
  # covers the finished runs.
  commands.run_module(
      "bodypose_jax.temporal_study",
      f"--out_dir={out}",
      "--modalities=rgb",
      "--cells=none,gru",
      "--protocols=xsub",
      "--seeds=0,1",
      "--variant=smoke",
      "--num_train_steps=2",
      f"--data_dir={smoke_data_dir}",
      "--latency_runs=5",
      "--report_only",
  )
  with open(os.path.join(out, "study.json")) as f:
    assert json.load(f)["runs"] == json.loads(json.dumps(result["runs"]))
  assert not os.path.exists(os.path.join(out, "runs", "rgb_gru_xsub_s1"))
  with pytest.raises(ValueError, match="no finished run"):
    temporal_study.study(
        str(tmp_path / "empty"), **{**kwargs, "seeds": [3]}, report_only=True
    )


def test_overrides_reach_the_run_config_and_misspellings_fail():
  overrides = temporal_study.parse_overrides(
      ["input.clip_length=16", "batch_size=2", "dataset.builder_config=x y"]
  )
  assert overrides == {
      "input.clip_length": 16,
      "batch_size": 2,
      "dataset.builder_config": "x y",
  }
  config = temporal_study.run_config(
      "depth", "gru", "xview", 1, "synthetic", 50, None, overrides
  )
  assert (config.input.clip_length, config.batch_size) == (16, 2)
  assert config.dataset.eval_split == "xview_test" and config.seed == 1
  with pytest.raises(AttributeError):
    temporal_study.run_config(
        "rgb", "gru", "xsub", 0, "synthetic", 50, None, {"input.clip_len": 16}
    )
  with pytest.raises(TypeError):
    temporal_study.run_config(
        "rgb", "gru", "xsub", 0, "synthetic", 50, None, {"batch_size": "two"}
    )
  with pytest.raises(ValueError, match="field=value"):
    temporal_study.parse_overrides(["clip_length"])
