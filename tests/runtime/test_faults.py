"""The fault matrix: every command, handed a missing, corrupt or mismatched
input or an output it cannot write, exits 1 with one line that names the
file and the problem, prints no traceback, and leaves no partial output.

Each row of FAULTS is one case; docs/faults.md is the same table for
readers, and `test_the_docs_table_lists_every_row` keeps the two equal.
"""

import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

import depth_pngs
import smoke_run

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "faults.md"


class Row:
  """One fault: `args(ctx)` are the command's arguments, `message` a regex
  the error line must match after 'error: ', `outputs(ctx)` the paths that
  must not exist afterwards, `limit` a file-size limit in bytes (a disk
  that fills up)."""

  def __init__(self, command, fault, args, message, outputs=lambda c: [],
               limit=None):
    self.command, self.fault, self.args = command, fault, args
    self.message, self.outputs, self.limit = message, outputs, limit

  def __repr__(self):
    return f"{self.command}: {self.fault}"


@pytest.fixture(scope="module")
def ctx(smoke_workdir, smoke_data_dir, tiny_export, tmp_path_factory):
  """The inputs the rows share, good and bad."""
  root = tmp_path_factory.mktemp("faults")
  c = {"root": root, "workdir": smoke_workdir, "data_dir": smoke_data_dir}
  c["rgb_model"], _ = tiny_export("rgb", "gru")
  c["depth_model"], _ = tiny_export("depth", "gru")
  c["none_model"], _ = tiny_export("rgb", "none")
  # A short real-format video and a depth PNG folder.
  c["video"] = str(root / "clip.mp4")
  writer = cv2.VideoWriter(c["video"], cv2.VideoWriter_fourcc(*"mp4v"), 30,
                           (160, 120))
  rng = np.random.default_rng(0)
  for _ in range(6):
    writer.write(rng.integers(0, 255, (120, 160, 3), np.uint8))
  writer.release()
  c["depth_pngs"] = depth_pngs.write_depth_pngs(root / "depth", count=3)
  # Corrupt files: bytes that are not what their names say.
  c["junk_video"] = str(root / "junk.mp4")
  pathlib.Path(c["junk_video"]).write_bytes(b"not a video" * 100)
  c["junk_model"] = str(root / "junk.tflite")
  pathlib.Path(c["junk_model"]).write_bytes(b"not a model" * 100)
  shutil.copy(c["rgb_model"].replace(".tflite", ".json"),
              root / "junk.json")
  c["bad_sidecar_model"] = str(root / "badside.tflite")
  shutil.copy(c["rgb_model"], c["bad_sidecar_model"])
  (root / "badside.json").write_text("{not json")
  # The single-frame model behind the ConvGRU's sidecar: another config.
  c["mismatched_model"] = str(root / "mismatched.tflite")
  shutil.copy(c["none_model"], c["mismatched_model"])
  shutil.copy(c["rgb_model"].replace(".tflite", ".json"),
              root / "mismatched.json")
  # A file where a folder should be: an output nobody can write.
  c["blocker"] = str(root / "a_file")
  pathlib.Path(c["blocker"]).write_text("in the way")
  # The smoke workdir, its config saying another architecture.
  c["other_config"] = str(root / "other_config")
  shutil.copytree(smoke_workdir, c["other_config"])
  with open(os.path.join(c["other_config"], "config.json")) as f:
    config = json.load(f)
  config["model"]["cell"] = "lstm"
  with open(os.path.join(c["other_config"], "config.json"), "w") as f:
    json.dump(config, f)
  # A copy of the smoke data whose training file is cut short.
  c["cut_data"] = str(root / "cut_data")
  shutil.copytree(smoke_data_dir, c["cut_data"])
  (c["cut_record"],) = [
      str(p) for p in pathlib.Path(c["cut_data"]).rglob(
          "tfds_ntu-xsub_train.tfrecord*")
      if "synthetic_smoke_rgb" in str(p)]
  with open(c["cut_record"], "r+b") as f:
    f.truncate(os.path.getsize(c["cut_record"]) // 2)
  return c


def _main(c, *extra):
  return ["--config=configs/rgb_gru.py:smoke",
          f"--config.dataset.data_dir={c['data_dir']}",
          "--config.num_train_steps=2", "--config.stream_eval=False", *extra]


def _demo(model, video, output):
  return [f"--model={model}", f"--input={video}", f"--output={output}",
          "--max_frames=3"]


FAULTS = [
    # ------------------------------------------------------------- main --
    Row("main", "workdir cannot be created (a file in the way)",
        lambda c: _main(c, f"--workdir={c['blocker']}/run"),
        r"a_file/run: cannot create the workdir"),
    Row("main", "workdir holds checkpoints of another config",
        lambda c: _main(c, f"--workdir={c['other_config']}",
                        "--config.model.cell=lstm",
                        f"--config.num_train_steps={smoke_run.STEPS + 1}"),
        r"No checkpoint of .*other_config/checkpoints can be read"),
    Row("main", "training file truncated",
        lambda c: ["--config=configs/rgb_gru.py:smoke",
                   f"--config.dataset.data_dir={c['cut_data']}",
                   f"--workdir={c['root']}/cut_run",
                   "--config.num_train_steps=2"],
        r"tfds_ntu-xsub_train\.tfrecord.*runs past the end of the file"),
    # ----------------------------------------------------------- export --
    Row("export", "workdir missing",
        lambda c: [f"--workdir={c['root']}/nowhere", "--variants=float32"],
        r"nowhere/config\.json does not exist"),
    Row("export", "checkpoints of another config",
        lambda c: [f"--workdir={c['other_config']}", "--variants=float32",
                   f"--out_dir={c['root']}/export_other"],
        r"No checkpoint of .*other_config/checkpoints can be read",
        lambda c: [f"{c['root']}/export_other/pose_float32.tflite"]),
    Row("export", "disk full while writing (64 KiB file-size limit)",
        lambda c: [f"--workdir={c['workdir']}", "--variants=float32",
                   f"--out_dir={c['root']}/export_full", "--verify_frames=24",
                   "--verify_rollouts=1", "--calibration_frames=24"],
        r"TFLite converter returned 0 signatures for 'step', not 1: the "
        r"SavedModel it writes to .* was probably cut short",
        lambda c: [f"{c['root']}/export_full/pose_float32.tflite",
                   f"{c['root']}/export_full/pose_float32.json"],
        limit=64 * 1024),
    Row("export", "output folder cannot be created",
        lambda c: [f"--workdir={c['workdir']}", "--variants=float32",
                   f"--out_dir={c['blocker']}/export", "--verify_frames=24",
                   "--verify_rollouts=1", "--calibration_frames=24"],
        r"a_file/export/verification\.json: cannot write there"),
    # --------------------------------------------------------- evaluate --
    Row("evaluate", "workdir missing",
        lambda c: [f"--workdir={c['root']}/nowhere"],
        r"nowhere/config\.json does not exist"),
    Row("evaluate", "model file corrupt",
        lambda c: [f"--workdir={c['workdir']}", f"--tflite={c['junk_model']}",
                   "--max_videos=1", f"--out={c['root']}/eval_junk"],
        r"junk\.tflite: not a TFLite model",
        lambda c: [f"{c['root']}/eval_junk/metrics.json"]),
    Row("evaluate", "checkpoints of another config",
        lambda c: [f"--workdir={c['other_config']}", "--max_videos=1",
                   f"--out={c['root']}/eval_other"],
        r"No checkpoint of .*other_config/checkpoints can be read",
        lambda c: [f"{c['root']}/eval_other/metrics.json"]),
    Row("evaluate", "wrong modality (an RGB model on the depth set)",
        lambda c: [f"--workdir={c['workdir']}", "--max_videos=1",
                   "--builder_config=synthetic_smoke_depth",
                   f"--out={c['root']}/eval_depth"],
        r"synthetic_smoke_depth.*depth.*rgb|rgb.*depth",
        lambda c: [f"{c['root']}/eval_depth/metrics.json"]),
    Row("evaluate", "disk full while writing (8 KiB file-size limit)",
        lambda c: [f"--workdir={c['workdir']}", "--max_videos=1",
                   f"--out={c['root']}/eval_full"],
        r"eval_full/.*\.png: writing failed, nothing was left there "
        r"\(File too large\)",
        lambda c: [f"{c['root']}/eval_full/pck_curve.png"], limit=8 * 1024),
    Row("evaluate", "output folder cannot be created",
        lambda c: [f"--workdir={c['workdir']}", "--max_videos=1",
                   f"--out={c['blocker']}/eval"],
        r"a_file/eval/metrics\.json: cannot write there"),
    # ------------------------------------------------------------- demo --
    Row("demo", "model missing",
        lambda c: _demo(f"{c['root']}/none.tflite", c["video"],
                        f"{c['root']}/d1.gif"),
        r"none\.tflite: no such TFLite model",
        lambda c: [f"{c['root']}/d1.gif"]),
    Row("demo", "model file corrupt",
        lambda c: _demo(c["junk_model"], c["video"], f"{c['root']}/d2.gif"),
        r"junk\.tflite: not a TFLite model",
        lambda c: [f"{c['root']}/d2.gif"]),
    Row("demo", "sidecar corrupt",
        lambda c: _demo(c["bad_sidecar_model"], c["video"],
                        f"{c['root']}/d3.gif"),
        r"badside\.json: the sidecar of .*badside\.tflite is not JSON",
        lambda c: [f"{c['root']}/d3.gif"]),
    Row("demo", "model of another config than its sidecar",
        lambda c: _demo(c["mismatched_model"], c["video"],
                        f"{c['root']}/d4.gif"),
        r"mismatched\.tflite.*does not match its sidecar",
        lambda c: [f"{c['root']}/d4.gif"]),
    Row("demo", "input missing",
        lambda c: _demo(c["rgb_model"], f"{c['root']}/none.mp4",
                        f"{c['root']}/d5.gif"),
        r"none\.mp4: no such video file or PNG folder",
        lambda c: [f"{c['root']}/d5.gif"]),
    Row("demo", "input video corrupt",
        lambda c: _demo(c["rgb_model"], c["junk_video"],
                        f"{c['root']}/d6.gif"),
        r"junk\.mp4: OpenCV cannot decode a frame",
        lambda c: [f"{c['root']}/d6.gif"]),
    Row("demo", "wrong modality (an RGB model on depth PNGs)",
        lambda c: _demo(c["rgb_model"], c["depth_pngs"],
                        f"{c['root']}/d7.gif"),
        r"depth: is a folder, but the model takes rgb input",
        lambda c: [f"{c['root']}/d7.gif"]),
    Row("demo", "wrong modality (a depth model on a video)",
        lambda c: _demo(c["depth_model"], c["video"], f"{c['root']}/d8.gif"),
        r"clip\.mp4: .*depth",
        lambda c: [f"{c['root']}/d8.gif"]),
    Row("demo", "output folder missing",
        lambda c: _demo(c["rgb_model"], c["video"],
                        f"{c['blocker']}/d9.gif"),
        r"a_file/d9\.gif: the folder .*a_file does not exist"),
    Row("demo", "disk full while writing (16 KiB file-size limit)",
        lambda c: _demo(c["rgb_model"], c["video"], f"{c['root']}/full.gif")
        + ["--display_width=320"],
        r"full\.gif: writing failed, nothing was left there \(File too "
        r"large\)",
        lambda c: [f"{c['root']}/full.gif"], limit=16 * 1024),
    # --------------------------------------------------- profile_tflite --
    Row("profile_tflite", "model missing",
        lambda c: [f"{c['root']}/none.tflite", "--threads=1", "--runs=2"],
        r"none\.tflite"),
    Row("profile_tflite", "model file corrupt",
        lambda c: [c["junk_model"], "--threads=1", "--runs=2"],
        r"junk\.tflite' is not a TFLite model \(no TFL3 header\)\.$"),
    Row("profile_tflite", "report folder cannot be created",
        lambda c: [c["rgb_model"], "--threads=1", "--runs=2",
                   f"--json_out={c['blocker']}/p.json"],
        r"a_file/p\.json: cannot write there"),
    # ----------------------------------------------- teacher labelling --
    Row("tfds_ntu.teacher", "videos folder missing",
        lambda c: [f"--videos={c['root']}/no_videos"],
        r"no_videos: not a folder"),
    Row("tfds_ntu.teacher", "output folder cannot be created",
        lambda c: [f"--videos={c['root']}", "--pattern=clip.mp4",
                   f"--output_dir={c['blocker']}/labels"],
        r"a_file/labels: cannot create the output folder"),
    # -------------------------------------------------- benchmark_train --
    Row("benchmark_train", "config file missing",
        lambda c: [f"--config={c['root']}/none.py"],
        r"none\.py"),
    Row("benchmark_train", "report folder cannot be created",
        lambda c: ["--config=configs/rgb_gru.py:smoke",
                   f"--json_out={c['blocker']}/b.json"],
        r"a_file/b\.json: cannot write there"),
]


# The commands as the rows (and docs/faults.md) name them -> their modules.
_MODULES = {
    "main": "bodypose_jax.main",
    "export": "bodypose_jax.deploy.export",
    "evaluate": "bodypose_jax.evaluators.evaluate",
    "demo": "bodypose_jax.deploy.demo",
    "profile_tflite": "bodypose_jax.tools.profile_tflite",
    "benchmark_train": "bodypose_jax.tools.benchmark_train",
}


def _run(row, c):
  module = _MODULES.get(row.command, row.command)

  def limit():
    # Python ignores SIGXFSZ: a write past the limit fails with EFBIG, as
    # a write to a full disk fails with ENOSPC.
    resource.setrlimit(resource.RLIMIT_FSIZE, (row.limit, row.limit))

  return subprocess.run(
      [sys.executable, "-m", module, *row.args(c)], cwd=REPO,
      capture_output=True, text=True, timeout=300,
      preexec_fn=limit if row.limit else None)


@pytest.mark.slow
@pytest.mark.parametrize("row", FAULTS, ids=repr)
def test_a_fault_ends_in_one_named_line_and_no_partial_output(row, ctx):
  result = _run(row, ctx)
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 1, result.stderr[-3000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  assert lines and lines[-1].startswith("error: "), result.stderr[-3000:]
  assert re.search(row.message, lines[-1]), lines[-1]
  if os.environ.get("FAULTS_REPORT"):
    # What docs/faults.md quotes: FAULTS_REPORT=file.jsonl pytest -m slow ...
    with open(os.environ["FAULTS_REPORT"], "a") as f:
      f.write(json.dumps([row.command, row.fault, lines[-1]]) + "\n")
  for path in row.outputs(ctx):
    assert not os.path.exists(path), path
    folder = os.path.dirname(path)
    if os.path.isdir(folder):
      assert not [p for p in os.listdir(folder) if ".partial-" in p]


def test_the_docs_table_lists_every_row():
  table = DOCS.read_text()
  rows = set(re.findall(r"^\| `([\w.]+)` \| ([^|]+?) \|", table, re.M))
  assert rows == {(r.command, r.fault) for r in FAULTS}
