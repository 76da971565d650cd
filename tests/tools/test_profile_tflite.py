"""The TFLite profiler: FLOP and parameter counts, timing, table and CLI."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import commands
from bodypose_jax.tools import profile_tflite

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER_MODEL = os.path.join(
    REPO, "..", "shared", "peers", "blazepose_landmark_full.tflite"
)


def _const(shape, seed=0):
  rng = np.random.default_rng(seed)
  return tf.constant(rng.standard_normal(shape).astype(np.float32))


def _convert(fn, *input_shapes):
  specs = [tf.TensorSpec(shape, tf.float32) for shape in input_shapes]
  concrete = tf.function(fn).get_concrete_function(*specs)
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [concrete], concrete
  )
  return converter.convert()


def _conv(x):  # [1, 8, 8, 4] -> [1, 8, 8, 6]
  return tf.nn.conv2d(x, _const([3, 3, 4, 6]), 1, "SAME") + _const([6])


def _grouped_conv(x):  # 2 groups, stride 2: [1, 8, 8, 4] -> [1, 4, 4, 6]
  return tf.nn.conv2d(x, _const([3, 3, 2, 6]), 2, "SAME") + _const([6])


def _depthwise(x):  # multiplier 2, VALID: [1, 8, 8, 3] -> [1, 6, 6, 6]
  kernel = _const([3, 3, 3, 2])
  return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "VALID") + _const([6])


def _dense_tanh(x):  # [1, 16] -> [1, 10]
  return tf.tanh(tf.matmul(x, _const([16, 10])) + _const([10]))


def _batch_matmul(a, b):  # [2, 5, 4]^T @ [2, 5, 3] -> [2, 4, 3]
  return tf.sigmoid(tf.matmul(a, b, adjoint_a=True)) * 2.0


def _transpose_conv(x):  # stride 2: [1, 8, 8, 4] -> [1, 16, 16, 5]
  return tf.nn.conv2d_transpose(x, _const([3, 3, 5, 4]), [1, 16, 16, 5], 2)


# fn, input shapes, FLOPs, parameters, each worked out by hand.
CASES = {
    "conv": (_conv, [(1, 8, 8, 4)], 2 * (8 * 8 * 6) * (3 * 3 * 4), 216 + 6),
    "grouped_conv": (
        _grouped_conv,
        [(1, 8, 8, 4)],
        2 * (4 * 4 * 6) * (3 * 3 * 2),
        108 + 6,
    ),
    "depthwise": (
        _depthwise,
        [(1, 8, 8, 3)],
        2 * (6 * 6 * 6) * (3 * 3),
        54 + 6,
    ),
    # The bias is fused into FULLY_CONNECTED; tanh adds 1 per output.
    "dense_tanh": (_dense_tanh, [(1, 16)], 2 * 10 * 16 + 10, 160 + 10),
    # Contracted dim 5; logistic and the multiply add 1 per output each; the
    # scalar 2.0 is the only constant.
    "batch_matmul": (
        _batch_matmul,
        [(2, 5, 4), (2, 5, 3)],
        2 * (2 * 4 * 3) * 5 + 2 * 24,
        1,
    ),
    # The output_shape operand is a 4-element constant too.
    "transpose_conv": (
        _transpose_conv,
        [(1, 8, 8, 4)],
        2 * (8 * 8 * 4) * (5 * 3 * 3),
        180 + 4,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_counts_match_hand_computed(name):
  fn, shapes, flops, params = CASES[name]
  model = _convert(fn, *shapes)
  assert profile_tflite.count_flops(model) == flops
  assert profile_tflite.count_parameters(model) == params


def _write(directory, name):
  fn, shapes, _, _ = CASES[name]
  path = directory / f"{name}.tflite"
  path.write_bytes(_convert(fn, *shapes))
  return str(path)


@pytest.fixture(scope="module")
def model_paths(tmp_path_factory):
  directory = tmp_path_factory.mktemp("models")
  return [_write(directory, "conv"), _write(directory, "dense_tanh")]


@pytest.fixture
def profiled(model_paths):
  return profile_tflite.profile(
      model_paths, threads=(1, 2), warmup=1, runs=3, baseline=model_paths[1]
  )


def test_profile_measures_every_model_against_the_baseline(profiled,
                                                         model_paths):
  """Every check of the real measurement in one test: split over several,
  xdist measured the models once per worker."""
  assert [r["path"] for r in profiled] == model_paths
  for result in profiled:
    assert result["peak_mb"] > 0
    assert result["size_mb"] > 0
    assert [e["threads"] for e in result["latency"]] == [1, 2]
    for entry in result["latency"]:
      assert 0 < entry["p50_ms"] <= entry["p90_ms"]
      assert entry["fps"] == pytest.approx(1e3 / entry["p50_ms"])

  # Ratios refer to the baseline, threads for threads.
  base = {e["threads"]: e["p50_ms"] for e in profiled[1]["latency"]}
  for entry in profiled[1]["latency"]:
    assert entry["x_baseline"] == 1.0
  for entry in profiled[0]["latency"]:
    assert entry["x_baseline"] == pytest.approx(
        entry["p50_ms"] / base[entry["threads"]]
    )

  # The markdown table: one row per model.
  lines = profile_tflite.to_markdown(profiled, baseline=True).splitlines()
  header, separator, *rows = lines
  assert "×base @2t" in header and "p90 ms @1t" in header
  assert len(rows) == len(profiled)
  assert all(row.count("|") == header.count("|") for row in [separator, *rows])
  assert rows[0].startswith("| conv.tflite |")


def test_rounds_report_medians_and_within_round_ratios(model_paths,
                                                       monkeypatch):
  # Scripted per-round timings (the real measurement is the fixture's): the
  # load doubles in round 2, for both models alike.
  p50 = {model_paths[0]: iter([1.0, 2.0, 1.5]),
         model_paths[1]: iter([4.0, 8.0, 3.0])}

  def fake_measure(path, threads, warmup, runs):
    t = next(p50[path])
    return {"peak_mb": 1.0, "latency": [
        {"threads": 1, "p50_ms": t, "p90_ms": t, "mean_ms": t}]}

  monkeypatch.setattr(profile_tflite, "measure_in_fresh_process",
                      fake_measure)
  results = profile_tflite.profile(
      model_paths, threads=(1,), warmup=0, runs=1, baseline=model_paths[1],
      rounds=3,
  )
  (mine,), (base,) = results[0]["latency"], results[1]["latency"]
  assert mine["p50_ms_rounds"] == [1.0, 2.0, 1.5]
  assert (mine["p50_ms"], base["p50_ms"]) == (1.5, 4.0)
  # Ratios within rounds 0.25, 0.25, 0.5: the median is 0.25, where the
  # ratio of the medians would be 0.375.
  assert (mine["x_baseline"], base["x_baseline"]) == (0.25, 1.0)
  with pytest.raises(ValueError, match="rounds"):
    profile_tflite.profile(model_paths, rounds=0)


def test_bad_arguments_fail_before_measuring(tmp_path, model_paths):
  with pytest.raises(ValueError, match="not one of the models"):
    profile_tflite.check_arguments(
        model_paths, [1], 0, 1, str(tmp_path / "other.tflite")
    )
  not_a_model = tmp_path / "notes.tflite"
  not_a_model.write_text("hello, world")
  with pytest.raises(profile_tflite.ModelFileError, match="notes.tflite"):
    profile_tflite.check_arguments([str(not_a_model)], [1], 0, 1, None)


def _run_cli(*args):
  return commands.run_module("bodypose_jax.tools.profile_tflite", *args, check=False)


@pytest.mark.slow
def test_cli_writes_table_and_json(tmp_path, model_paths):
  json_out = tmp_path / "prof.json"
  markdown_out = tmp_path / "prof.md"
  done = _run_cli(
      model_paths[0],
      "--runs=3",
      "--warmup=1",
      "--threads=1",
      f"--json_out={json_out}",
      f"--markdown_out={markdown_out}",
  )
  assert done.returncode == 0, done.stderr
  assert "| conv.tflite |" in done.stdout
  report = json.loads(json_out.read_text())
  assert report["settings"]["runs"] == 3
  assert report["machine"]["tensorflow"] == tf.__version__
  (model,) = report["models"]
  assert model["flops"] == CASES["conv"][2]
  assert model["latency"][0]["p50_ms"] > 0
  assert "| conv.tflite |" in markdown_out.read_text()


@pytest.mark.slow
def test_cli_names_a_missing_file(tmp_path):
  missing = str(tmp_path / "no_such_model.tflite")
  done = _run_cli(missing, "--runs=1")
  assert done.returncode != 0
  assert "no_such_model.tflite" in done.stderr


@pytest.mark.skipif(
    not os.path.exists(PEER_MODEL), reason=f"{PEER_MODEL} is absent"
)
def test_peer_model_counts_are_plausible():
  model = profile_tflite.read_model(PEER_MODEL)
  # BlazePose GHUM full: about 3.5M parameters published, 256x256 input.
  assert 1e6 < profile_tflite.count_parameters(model) < 1e7
  assert 1e8 < profile_tflite.count_flops(model) < 1e10
