"""launch/: the dry-runs print the right commands, and the real paths run them.

Every script runs under bash, from the repository root, with stand-ins for
gcloud, srun, scancel, scontrol and the trainer's `python` first on PATH: they
record their argv instead of acting, so nothing reaches a cloud or a cluster,
and the real (non-dry) paths can be checked to run exactly what the dry-run
prints.
"""

import json
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
TPU = "launch/tpu_vm.sh"
SLURM = "launch/slurm.sbatch"
LOCAL = "launch/local.sh"
SCRIPTS = (TPU, SLURM, LOCAL)

# One program for every stand-in; what it does depends on the name it is
# called by. Each call appends {"argv": [...], "env": {...}} to $FAKE_CALLS.
_FAKE = r'''#!{python}
import json, os, signal, sys, time

name = os.path.basename(sys.argv[0])
env = {{k: os.environ.get(k) for k in ("XLA_FLAGS", "JAX_PLATFORMS",
                                      "SRUN_CPUS_PER_TASK")}}
with open(os.environ["FAKE_CALLS"], "a") as f:
  f.write(json.dumps({{"argv": [name] + sys.argv[1:], "env": env}}) + "\n")


def wait_for_term(seconds):
  """Sleeps until SIGTERM (then exits 0, as the trainer does) or timeout."""
  def on_term(*_):
    print("got SIGTERM", flush=True)
    sys.exit(0)
  signal.signal(signal.SIGTERM, on_term)
  time.sleep(seconds)


if name == "python":  # the trainer
  print("argv:", *sys.argv[1:], flush=True)
  ids = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--process_id=")]
  if ids and ids[0] == os.environ.get("FAKE_FAIL_ID"):
    sys.exit(3)
  wait_for_term(float(os.environ.get("FAKE_WAIT", "0")))
elif name == "srun":
  with open(os.environ["FAKE_DIR"] + "/srun.pid", "w") as f:
    f.write(str(os.getpid()))
  wait_for_term(float(os.environ.get("FAKE_WAIT", "0")))
  sys.exit(int(os.environ.get("FAKE_SRUN_RC", "0")))
elif name == "scancel":  # --signal=TERM JOB: signals the job's steps
  with open(os.environ["FAKE_DIR"] + "/srun.pid") as f:
    os.kill(int(f.read()), signal.SIGTERM)
'''


@pytest.fixture
def fakes(tmp_path):
  """(directory of the stand-ins, a function returning the recorded calls)."""
  bin_dir = tmp_path / "fake_bin"
  bin_dir.mkdir()
  for name in ("gcloud", "srun", "scancel", "scontrol", "sbatch", "python"):
    path = bin_dir / name
    path.write_text(_FAKE.format(python=sys.executable))
    path.chmod(0o755)
  calls_file = tmp_path / "calls.jsonl"
  calls_file.touch()

  def calls():
    return [json.loads(line) for line in calls_file.read_text().splitlines()]

  return bin_dir, calls


@pytest.fixture
def launch(tmp_path, fakes):
  """fn(script, *args, dry=True, **env) -> CompletedProcess (text).

  A clean environment (no SLURM_* of the machine's own), the stand-ins first
  on PATH, TMPDIR in tmp_path; `dry` sets DRY_RUN=1.
  """
  bin_dir, _ = fakes

  def environment(dry=True, **env):
    base = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path),
        "FAKE_CALLS": str(tmp_path / "calls.jsonl"),
        "FAKE_DIR": str(tmp_path),
    }
    if dry:
      base["DRY_RUN"] = "1"
    base.update(env)
    return base

  def run(script, *args, dry=True, **env):
    return subprocess.run(
        ["bash", script, *args],
        cwd=REPO,
        env=environment(dry, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )

  run.environment = environment
  return run


def commands(stdout: str) -> list[list[str]]:
  """The printed commands, each parsed as the shell would (comments out)."""
  return [
      shlex.split(line)
      for line in stdout.splitlines()
      if line.strip() and not line.startswith("#")
  ]


def ok(result) -> str:
  assert result.returncode == 0, result.stderr
  return result.stdout


# ---------------------------------------------------------------- scripts --
@pytest.mark.parametrize("script", SCRIPTS)
def test_syntax(script):
  subprocess.run(["bash", "-n", script], cwd=REPO, check=True)


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="no shellcheck")
def test_shellcheck():
  result = subprocess.run(
      ["shellcheck", "-s", "bash", *SCRIPTS],
      cwd=REPO,
      capture_output=True,
      text=True,
  )
  assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "script, args",
    [
        (TPU, ["bogus"]),
        (TPU, []),
        (TPU, ["stop", "extra"]),
        (LOCAL, ["bogus"]),
        (SLURM, ["bogus"]),
    ],
)
def test_unknown_subcommand_exits_2_with_usage(launch, script, args):
  result = launch(script, *args)
  assert result.returncode == 2
  assert "Usage:" in result.stderr
  assert not result.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(launch, script):
  assert "Usage:" in ok(launch(script, "--help"))


# ----------------------------------------------------------------- TPU VM --
TPU_ENV = dict(
    TPU_NAME="pose-pod",
    ZONE="europe-west4-a",
    BUCKET="my-bucket",
    CONFIG="configs/rgb_gru.py:synthetic",
    EXTRA_ARGS="--config.batch_size=64",
)
TPU_GCLOUD = ["gcloud", "compute", "tpus", "tpu-vm"]


def remote_words(command: list[str]) -> list[str]:
  """The words of an ssh command's --command=..., as the remote shell sees them."""
  [remote] = [a for a in command if a.startswith("--command=")]
  return shlex.split(remote.removeprefix("--command="))


def test_tpu_run_starts_the_trainer_on_all_workers(launch):
  out = ok(launch(TPU, "run", "--config.num_train_steps=100", **TPU_ENV))
  assert (
      "gcloud compute tpus tpu-vm ssh pose-pod --zone=europe-west4-a"
      " --worker=all --command=" in out
  )
  [command] = commands(out)
  assert command[:8] == TPU_GCLOUD + [
      "ssh",
      "pose-pod",
      "--zone=europe-west4-a",
      "--worker=all",
  ]
  remote = remote_words(command)
  assert remote[:2] == ["cd", "bodypose_jax"]
  start = remote.index("nohup") + 1
  end = remote.index(">>")
  assert remote[start:end] == [
      ".venv/bin/python",
      "-m",
      "bodypose_jax.main",
      "--config=configs/rgb_gru.py:synthetic",
      "--workdir=gs://my-bucket/bodypose_jax/pose-pod",
      "--config.batch_size=64",
      "--config.num_train_steps=100",
  ]
  # Backgrounded with its own log, detached from the ssh session.
  assert remote[end:] == [
      ">>",
      "logs/train.log",
      "2>&1",
      "<",
      "/dev/null",
      "&",
      "echo",
      "$!",
      ">",
      "logs/train.pid;",
      "}",
  ]
  assert (
      "python -m bodypose_jax.main --config=configs/rgb_gru.py:synthetic"
      " --workdir=gs://my-bucket/" in command[-1]
  )


def test_tpu_dry_run_flag_equals_env(launch):
  by_env = ok(launch(TPU, "run", **TPU_ENV))
  by_flag = ok(launch(TPU, "--dry-run", "run", dry=False, **TPU_ENV))
  assert by_flag == by_env


def test_tpu_subcommands(launch, tmp_path):
  env = dict(
      TPU_ENV, ACCELERATOR_TYPE="v5p-64", RUNTIME_VERSION="v2-alpha-tpuv5"
  )
  where = ["pose-pod", "--zone=europe-west4-a"]

  [create] = commands(ok(launch(TPU, "create", "--spot", **env)))
  assert create == TPU_GCLOUD + ["create", *where] + [
      "--accelerator-type=v5p-64",
      "--version=v2-alpha-tpuv5",
      "--spot",
  ]

  pack, scp, unpack = commands(ok(launch(TPU, "copy", **env)))
  assert pack[:3] == ["git", "-C", str(REPO)] and "tar" in pack
  tarball = str(tmp_path / "bodypose_jax-src-pose-pod.tgz")
  assert scp == TPU_GCLOUD + [
      "scp",
      tarball,
      "pose-pod:bodypose_jax-src.tgz",
      "--zone=europe-west4-a",
      "--worker=all",
  ]
  assert unpack[:8] == TPU_GCLOUD + ["ssh", *where, "--worker=all"]
  assert "tar -xzf bodypose_jax-src.tgz -C bodypose_jax" in unpack[8]

  [git] = commands(
      ok(
          launch(
              TPU,
              "copy",
              COPY_METHOD="git",
              GIT_URL="https://x/y.git",
              GIT_REF="v1",
              **env,
          )
      )
  )
  assert "fetch -q --depth=1 https://x/y.git v1" in git[-1]

  [setup] = commands(ok(launch(TPU, "setup", **env)))
  assert setup[:8] == TPU_GCLOUD + ["ssh", *where, "--worker=all"]
  remote = " ".join(remote_words(setup))
  assert "pip install --python .venv/bin/python -e . jax[tpu]" in remote

  [stop] = commands(ok(launch(TPU, "stop", **env)))
  assert "kill -TERM $(cat logs/train.pid)" in stop[-1]

  log_dir = str(tmp_path / "logs")
  mkdir, logs = commands(ok(launch(TPU, "logs", LOG_DIR=log_dir, **env)))
  assert mkdir == ["mkdir", "-p", log_dir]
  assert logs[:8] == TPU_GCLOUD + ["ssh", *where, "--worker=all"]
  assert logs[-1] == f"--output-directory={log_dir}"

  [delete] = commands(ok(launch(TPU, "delete", **env)))
  assert delete == TPU_GCLOUD + ["delete", *where, "--quiet"]

  up = commands(ok(launch(TPU, "up", PROJECT="proj", **env)))
  assert [c[4] for c in up if c[0] == "gcloud"] == [
      "create",
      "scp",
      "ssh",
      "ssh",
      "ssh",
  ]
  assert all(c[-1] == "--project=proj" for c in up if c[0] == "gcloud")


@pytest.mark.parametrize(
    "subcommand", ["create", "copy", "setup", "run", "stop", "logs", "delete"]
)
def test_tpu_real_mode_runs_what_dry_run_prints(
    launch, fakes, tmp_path, subcommand
):
  _, calls = fakes
  env = dict(TPU_ENV, LOG_DIR=str(tmp_path / "logs"))
  printed = commands(ok(launch(TPU, subcommand, **env)))
  assert not calls()
  ok(launch(TPU, subcommand, dry=False, **env))
  if subcommand in ("copy", "logs"):  # git | tar and mkdir ran for real
    printed = printed[1:]
  assert [c["argv"] for c in calls()] == printed
  if subcommand == "copy":
    with tarfile.open(tmp_path / "bodypose_jax-src-pose-pod.tgz") as tar:
      names = set(tar.getnames())
    assert {"bodypose_jax/main.py", "setup.py", "launch/tpu_vm.sh"} <= names
    assert not any(n.startswith((".git/", "workdirs/")) for n in names)


def test_tpu_printed_command_pastes(launch, fakes):
  """bash runs a printed line with the very argv the script would run."""
  _, calls = fakes
  tricky = '--config.name=it\'s a "test" $HOME'
  [line] = ok(launch(TPU, "run", tricky, **TPU_ENV)).splitlines()
  subprocess.run(
      ["bash", "-c", line], env=launch.environment(), check=True, cwd=REPO
  )
  ok(launch(TPU, "run", tricky, dry=False, **TPU_ENV))
  pasted, real = [c["argv"] for c in calls()]
  assert pasted == real
  assert remote_words(real)[remote_words(real).index(">>") - 1] == tricky


def test_tpu_run_refuses_a_workdir_no_worker_sees(launch, fakes):
  _, calls = fakes
  env = {k: v for k, v in TPU_ENV.items() if k != "BUCKET"}
  result = launch(TPU, "run", dry=False, **env)
  assert result.returncode == 1
  assert "BUCKET" in result.stderr
  assert not calls()
  # The dry-run shows the placeholder and says what to set.
  result = launch(TPU, "run", **env)
  assert "gs://YOUR_BUCKET/" in ok(result) and "BUCKET" in result.stderr


# ------------------------------------------------------------------ SLURM --
def sbatch_options() -> dict[str, str]:
  options = {}
  for line in (REPO / SLURM).read_text().splitlines():
    if line.startswith("#SBATCH "):
      key, _, value = line.removeprefix("#SBATCH ").partition("=")
      options[key] = value
  return options


def test_slurm_headers():
  options = sbatch_options()
  assert options["--ntasks-per-node"] == options["--gpus-per-node"]
  assert int(options["--nodes"]) > 1
  for key in ("--cpus-per-task", "--time", "--output", "--requeue"):
    assert key in options
  # The batch shell hears of the time limit early enough to checkpoint.
  assert options["--signal"].startswith("B:USR1@")
  assert int(options["--signal"].split("@")[1]) >= 60
  # sbatch stops reading #SBATCH lines at the first command.
  lines = (REPO / SLURM).read_text().splitlines()
  last = max(i for i, l in enumerate(lines) if l.startswith("#SBATCH"))
  assert all(l.startswith("#") or not l.strip() for l in lines[:last])


def test_slurm_dry_run_prints_srun(launch):
  out = ok(
      launch(
          SLURM,
          "--config.num_train_steps=5",
          CONFIG="configs/depth_gru.py",
          WORKDIR="/shared/workdirs/depth",
          DATA_DIR="/shared/tfds",
          EXTRA_ARGS="--config.batch_size=64",
      )
  )
  cd, srun = commands(out)
  assert cd == ["cd", str(REPO)]
  assert srun == [
      "srun",
      "--kill-on-bad-exit=1",
      "python",
      "-m",
      "bodypose_jax.main",
      "--config=configs/depth_gru.py",
      "--workdir=/shared/workdirs/depth",
      "--config.dataset.data_dir=/shared/tfds",
      "--config.batch_size=64",
      "--config.num_train_steps=5",
  ]
  # Outside SLURM it also shows what sbatch would ask for.
  assert "#   --requeue" in out and "#   --ntasks-per-node=8" in out
  assert "srun --kill-on-bad-exit=1 python -m bodypose_jax.main" in out
  assert ok(launch(SLURM, "--dry-run", dry=False)) == ok(launch(SLURM))


def test_slurm_needs_a_job_to_run_for_real(launch, fakes):
  _, calls = fakes
  result = launch(SLURM, dry=False)
  assert result.returncode == 1 and "sbatch" in result.stderr
  assert not calls()


SLURM_JOB = dict(
    SLURM_JOB_ID="42",
    SLURM_JOB_NAME="bodypose",
    SLURM_CPUS_PER_TASK="6",
    WORKDIR="/shared/wd",
)


@pytest.mark.parametrize("srun_rc", [0, 3])
def test_slurm_job_runs_srun_without_requeue(launch, fakes, tmp_path, srun_rc):
  _, calls = fakes
  env = dict(SLURM_JOB, SLURM_SUBMIT_DIR=str(REPO), FAKE_SRUN_RC=str(srun_rc))
  result = launch(SLURM, "--config.seed=1", dry=False, **env)
  assert result.returncode == srun_rc
  [srun] = calls()
  # Inside the job, the dry-run prints the same srun line.
  assert (
      srun["argv"] == commands(ok(launch(SLURM, "--config.seed=1", **env)))[1]
  )
  assert srun["env"]["SRUN_CPUS_PER_TASK"] == "6"


def test_slurm_time_limit_checkpoints_and_requeues(launch, fakes, tmp_path):
  """SIGUSR1 (--signal=B:USR1@120) -> SIGTERM to the steps -> requeue."""
  _, calls = fakes
  env = launch.environment(
      dry=False, SLURM_SUBMIT_DIR=str(REPO), FAKE_WAIT="30", **SLURM_JOB
  )
  job = subprocess.Popen(
      ["bash", SLURM], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
  )
  try:
    deadline = time.monotonic() + 20
    while not (tmp_path / "srun.pid").exists():
      assert time.monotonic() < deadline and job.poll() is None
      time.sleep(0.05)
    time.sleep(0.2)  # the fake srun's SIGTERM handler is in place
    start = time.monotonic()
    job.send_signal(signal.SIGUSR1)
    out, _ = job.communicate(timeout=20)
  finally:
    job.kill()
  assert job.returncode == 0, out
  assert time.monotonic() - start < 10  # not the fake srun's 30 s
  assert [c["argv"] for c in calls()][1:] == [
      ["scancel", "--signal=TERM", "42"],
      ["scontrol", "requeue", "42"],
  ]
  assert "requeueing job 42" in out


# ------------------------------------------------------------------ local --
def test_local_gpu_dry_run(launch):
  [command] = commands(ok(launch(LOCAL, "--config.model.cell=none")))
  assert command == [
      "python",
      "-m",
      "bodypose_jax.main",
      "--config=configs/rgb_gru.py",
      "--workdir=workdirs/local_gpu",
      "--config.model.cell=none",
  ]
  assert commands(ok(launch(LOCAL, "gpu", "--config.model.cell=none"))) == [
      command
  ]


def processes(out: str, log_dir: str, n: int) -> list[list[str]]:
  """The N launch lines of a cpu-multiprocess dry-run, redirections off."""
  mkdir, *launches, wait = commands(out)
  assert mkdir == ["mkdir", "-p", log_dir]
  assert wait == ["wait"]
  assert len(launches) == n
  for i, words in enumerate(launches):
    assert words[-4:] == [">>", f"{log_dir}/process_{i}.log", "2>&1", "&"]
  return [words[:-4] for words in launches]


def test_local_cpu_multiprocess_dry_run(launch):
  out = ok(
      launch(
          LOCAL,
          "cpu-multiprocess",
          "--config.num_train_steps=3",
          NUM_PROCESSES="3",
          DEVICES_PER_PROCESS="4",
          PORT="9999",
          WORKDIR="/tmp/wd",
      )
  )
  launches = processes(out, "/tmp/wd/logs", 3)
  for i, words in enumerate(launches):
    assert words == [
        "env",
        "JAX_PLATFORMS=cpu",
        "XLA_FLAGS=--xla_force_host_platform_device_count=4",
        "python",
        "-m",
        "bodypose_jax.main",
        "--config=configs/rgb_gru.py:smoke",
        "--workdir=/tmp/wd",
        "--config.num_train_steps=3",
        "--coordinator_address=localhost:9999",
        "--num_processes=3",
        f"--process_id={i}",
    ]
  # MODE from the environment is the same as the positional one.
  by_env = ok(
      launch(
          LOCAL,
          "--config.num_train_steps=3",
          MODE="cpu-multiprocess",
          NUM_PROCESSES="3",
          DEVICES_PER_PROCESS="4",
          PORT="9999",
          WORKDIR="/tmp/wd",
      )
  )
  assert by_env == out


def test_local_cpu_multiprocess_keeps_callers_xla_flags(launch):
  out = ok(launch(LOCAL, "cpu-multiprocess", XLA_FLAGS="--xla_dump_to=/tmp/d"))
  for words in processes(out, "workdirs/local_cpu_multiprocess/logs", 2):
    assert words[2] == (
        "XLA_FLAGS=--xla_dump_to=/tmp/d"
        " --xla_force_host_platform_device_count=2"
    )


def test_local_cpu_multiprocess_rejects_bad_counts(launch):
  result = launch(LOCAL, "cpu-multiprocess", NUM_PROCESSES="0")
  assert result.returncode == 1 and "NUM_PROCESSES" in result.stderr


def test_local_cpu_multiprocess_runs_them_all(launch, fakes, tmp_path):
  _, calls = fakes
  workdir = str(tmp_path / "wd")
  printed = processes(
      ok(launch(LOCAL, "cpu-multiprocess", WORKDIR=workdir)),
      f"{workdir}/logs",
      2,
  )
  ok(launch(LOCAL, "cpu-multiprocess", dry=False, WORKDIR=workdir))
  recorded = sorted(calls(), key=lambda c: c["argv"][-1])
  # `env` ran the trainer: argv from `python` on, environment set.
  assert [c["argv"] for c in recorded] == [p[3:] for p in printed]
  for call in recorded:
    assert call["env"]["JAX_PLATFORMS"] == "cpu"
    assert call["env"]["XLA_FLAGS"].endswith("device_count=2")
  for i in range(2):
    log = (tmp_path / "wd" / "logs" / f"process_{i}.log").read_text()
    assert f"--process_id={i}" in log


def test_local_cpu_multiprocess_one_failure_stops_all(launch, tmp_path):
  start = time.monotonic()
  result = launch(
      LOCAL,
      "cpu-multiprocess",
      dry=False,
      WORKDIR=str(tmp_path / "wd"),
      NUM_PROCESSES="3",
      FAKE_FAIL_ID="1",
      FAKE_WAIT="30",
  )
  assert result.returncode == 1
  assert "process 1 exited with status 3" in result.stderr
  assert time.monotonic() - start < 15  # the others did not run their 30 s
  for i in (0, 2):
    log = tmp_path / "wd" / "logs" / f"process_{i}.log"
    assert "got SIGTERM" in log.read_text()


def test_local_cpu_multiprocess_passes_sigterm_on(launch, tmp_path):
  """Pre-emption of the launcher: the trainers checkpoint and exit cleanly."""
  env = launch.environment(
      dry=False,
      MODE="cpu-multiprocess",
      WORKDIR=str(tmp_path / "wd"),
      FAKE_WAIT="30",
  )
  job = subprocess.Popen(
      ["bash", LOCAL], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
  )
  try:
    logs = [tmp_path / "wd" / "logs" / f"process_{i}.log" for i in range(2)]
    deadline = time.monotonic() + 20
    while not all(p.exists() and "argv:" in p.read_text() for p in logs):
      assert time.monotonic() < deadline and job.poll() is None
      time.sleep(0.05)
    time.sleep(0.2)  # the fakes' SIGTERM handlers are in place
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=20)
  finally:
    job.kill()
  assert job.returncode == 0, err
  assert all("got SIGTERM" in p.read_text() for p in logs)
