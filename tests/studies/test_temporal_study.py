"""Tests for the temporal study: a tiny study trains, evaluates, exports,
times and reports every run (on the synthetic split and on teacher-labelled
real video), and a rerun resumes instead of redoing."""

import json
import os

import pytest

import commands
from bodypose_jax.studies import temporal_study


@pytest.mark.slow
def test_tiny_study_reports_every_run_and_resumes(
    tmp_path, smoke_builder, smoke_data_dir, teacher_builder
):
  smoke_builder("rgb")
  del teacher_builder  # Built: the study scores on it.
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
      real_eval="teacher_rgb",
  )
  result = temporal_study.study(out, **kwargs)
  real = "teacher_rgb/test"
  assert [(r["name"], r["filter"], r["scored_on"]) for r in result["runs"]] \
      == [(f"rgb_{cell}_xsub_s0", filter_, scored_on)
          for cell in ("none", "gru")
          for scored_on in ("xsub_test", real)
          for filter_ in ("none", "one_euro")]
  runs = {(r["cell"], r["filter"], r["scored_on"]): r for r in result["runs"]}
  rows = {(r["cell"], r["filter"], r["scored_on"]): r
          for r in result["summary"]}
  assert set(rows) == set(runs)
  for (cell, filter_, scored_on), run in runs.items():
    metrics = run["metrics"]
    if scored_on == real:
      # Real rows: the teacher's held-out performers, tracked; filtered with
      # the settings the run tuned on its synthetic training split.
      assert (metrics["dataset"], metrics["split"]) == (
          "tfds_ntu/teacher_rgb", "test")
      assert metrics["rois"] == "tracked"
      if filter_ == "one_euro":
        assert metrics["one_euro"] == runs[
            (cell, "one_euro", "xsub_test")]["metrics"]["one_euro"]
    else:
      assert metrics["dataset"] == "tfds_ntu/synthetic_smoke_rgb"
  for key, row in rows.items():
    metrics = runs[key]["metrics"]
    # One seed: each row is its run's evaluation, with no spread.
    assert row["pck@0.2"] == [metrics["all"]["pck@0.2"], 0.0]
    # The teacher labels no joint occluded: its rows have none to score.
    occluded = metrics["occluded"]["pck@0.2"] if metrics["occluded"] else None
    assert (row["pck@0.2 occluded"] or [None])[0] == occluded
    assert (occluded is None) == (key[2] == real)
    assert row["accel error px"][0] == metrics["jitter"]["accel_error_px"]
    assert row["re-detections/min"][0] == metrics["redetections_per_minute"]
    assert row["p50_ms"] > 0
  for cell in ("none", "gru"):
    filtered = runs[(cell, "one_euro", "xsub_test")]["metrics"]
    tuning = json.load(open(os.path.join(
        out, "runs", f"rgb_{cell}_xsub_s0", "one_euro_tuning_xsub_train",
        "one_euro_tuning.json")))
    # Tuned on the training split, then applied to the held-out one: the
    # filtered evaluation filters the same keypoints the plain one scores.
    assert tuning["split"] == "xsub_train"
    assert (filtered["one_euro"]["min_cutoff"], filtered["one_euro"]["beta"]) \
        == (tuning["best"]["min_cutoff"], tuning["best"]["beta"])
    assert filtered["unfiltered"]["pck@0.2 all"] == \
        runs[(cell, "none", "xsub_test")]["metrics"]["all"]["pck@0.2"]
    # The curve is what the trainer logged at its evaluations.
    workdir = os.path.join(out, "runs", f"rgb_{cell}_xsub_s0")
    logged = json.load(open(os.path.join(workdir, "eval_metrics.json")))
    assert runs[(cell, "none", "xsub_test")]["curve"] == [[2, pytest.approx(
        logged["pck@0.2"])]]
  # The recurrent cell adds parameters to the same encoder and head.
  assert rows[("gru", "none", real)]["params"] \
      > rows[("none", "none", real)]["params"]
  with open(os.path.join(out, "study.json")) as f:
    assert json.load(f)["summary"] == json.loads(json.dumps(result["summary"]))
  with open(os.path.join(out, "study.md")) as f:
    table = f.read().splitlines()
  assert table[0].startswith(
      "| modality | model | protocol | scored on | seeds |")
  assert "| rgb | gru | xsub | xsub_test | 1 |" in table[6]
  assert "| rgb | gru + One-Euro | xsub | teacher_rgb/test | 1 |" in table[9]
  # Each run's filter settings once, though it is scored on two datasets.
  assert [line.split(":")[0] for line in table if line.startswith("- ")] \
      == ["- rgb_none_xsub_s0", "- rgb_gru_xsub_s0"]
  for name in ("latency_accuracy.png", "training_curves.png"):
    assert os.path.getsize(os.path.join(out, name)) > 0
  # The timed export was verified on the run's eval videos, which have
  # ground truth (noise frames have none: 0 joints evaluated).
  with open(os.path.join(out, "runs", "rgb_gru_xsub_s0", "export",
                         "verification.json")) as f:
    verified = json.load(f)["float32"]
  assert verified["pck_jax"]["num_joints_evaluated"] > 0

  # A rerun finds every stage done: same evaluations, nothing retrained.
  run_dir = os.path.join(out, "runs", "rgb_gru_xsub_s0")
  written = [os.path.join(run_dir, d, "metrics.json")
             for d in ("eval_xsub_test", "eval_xsub_test_one_euro",
                       "eval_teacher_rgb_test", "eval_teacher_rgb_test_one_euro")]
  written.append(os.path.join(run_dir, "one_euro_tuning_xsub_train",
                              "one_euro_tuning.json"))
  stamps = [os.path.getmtime(p) for p in written]
  again = temporal_study.study(out, **kwargs)
  assert again["runs"] == result["runs"]
  assert [os.path.getmtime(p) for p in written] == stamps

  # A report over a larger grid, from the command line, trains nothing and
  # covers the finished runs.
  commands.run_module(
      "bodypose_jax.studies.temporal_study",
      f"--out_dir={out}",
      "--modalities=rgb",
      "--cells=none,gru",
      "--protocols=xsub",
      "--seeds=0,1",
      "--variant=smoke",
      "--num_train_steps=2",
      f"--data_dir={smoke_data_dir}",
      "--latency_runs=5",
      "--real_eval=teacher_rgb",
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


def test_real_footage_of_another_modality_fails_before_training(tmp_path):
  assert temporal_study.build_modality("teacher_rgb") == "rgb"
  with pytest.raises(ValueError, match="stores rgb frames"):
    temporal_study.study(str(tmp_path / "study"), modalities=["depth"],
                         real_eval="teacher_rgb")
  assert not os.path.exists(tmp_path / "study")
