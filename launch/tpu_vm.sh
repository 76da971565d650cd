#!/usr/bin/env bash
# Cloud TPU VM recipe: create a TPU VM (one host, or a pod slice of several),
# copy this repository to every worker, install it, train on all workers at
# once, fetch their logs, delete the VM. See launch/README.md.
#
#   bash launch/tpu_vm.sh [--dry-run] SUBCOMMAND [ARGS...]
#
# DRY_RUN=1 (or --dry-run) prints every command, expanded and quoted so that
# it can be pasted, instead of running it.
#
# Runs from a laptop or workstation with gcloud set up, and with bash 3.2 too
# (macOS): hence no associative arrays, and ${a[@]+"${a[@]}"} for arrays that
# may be empty under `set -u`.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash launch/tpu_vm.sh [--dry-run] SUBCOMMAND [ARGS...]

Subcommands (each acts on every worker of the TPU VM):
  create   create the TPU VM (ARGS go to `gcloud ... create`, e.g. --spot)
  copy     copy this checkout to every worker (COPY_METHOD=scp), or have
           every worker fetch GIT_REF from GIT_URL (COPY_METHOD=git)
  setup    install Python, this package and jax[tpu] into a venv on every worker
  run      start training on all workers at once, in the background (nohup),
           each logging to REMOTE_DIR/logs/train.log; ARGS go to the trainer
  stop     SIGTERM the trainers: they save a checkpoint and exit
  logs     fetch every worker's log into LOG_DIR/<worker>.log
  delete   delete the TPU VM
  up       create, copy, setup, run

Environment (default):
  TPU_NAME (bodypose-tpu)  ZONE (us-central2-b)  ACCELERATOR_TYPE (v4-32)
  RUNTIME_VERSION (tpu-ubuntu2204-base)  PROJECT (gcloud's configured one)
  CONFIG (configs/rgb_gru.py)  WORKDIR (gs://$BUCKET/bodypose_jax/$TPU_NAME)
  DATA_DIR (unset: the config's)  EXTRA_ARGS (more trainer flags)
  CREATE_ARGS (more create flags, e.g. --spot)  REMOTE_DIR (bodypose_jax)
  PYTHON_VERSION (3.11)  COPY_METHOD (scp | git)  GIT_URL, GIT_REF
  LOG_DIR (workdirs/tpu_logs/$TPU_NAME)  DRY_RUN (unset: run for real)
EOF
}

# ---------------------------------------------------------------- helpers --
# shellcheck source=launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Like run (common.sh), for a shell snippet (a pipeline) quoted by its caller.
run_sh() {
  if dry; then
    echo "$1"
  else
    echo "+ $1" >&2
    bash -c "set -euo pipefail; $1"
  fi
}

die() {
  echo "tpu_vm.sh: $*" >&2
  exit 1
}

# ---------------------------------------------------------- configuration --
TPU_NAME=${TPU_NAME:-bodypose-tpu}
ZONE=${ZONE:-us-central2-b}
# v4-32: 16 chips on 4 hosts (the number counts TensorCores, 2 per v4 chip).
ACCELERATOR_TYPE=${ACCELERATOR_TYPE:-v4-32}
# The plain Ubuntu TPU image (v4). v5e: v2-alpha-tpuv5-lite, v5p:
# v2-alpha-tpuv5, v6e: v2-alpha-tpuv6e.
RUNTIME_VERSION=${RUNTIME_VERSION:-tpu-ubuntu2204-base}
PROJECT=${PROJECT:-}
CONFIG=${CONFIG:-configs/rgb_gru.py}
BUCKET=${BUCKET:-}
# Every worker reads and writes the same checkpoints: the workdir must be a
# path all of them see, i.e. a GCS bucket. A rerun in it resumes.
WORKDIR=${WORKDIR:-gs://${BUCKET:-YOUR_BUCKET}/bodypose_jax/$TPU_NAME}
DATA_DIR=${DATA_DIR:-}
EXTRA_ARGS=${EXTRA_ARGS:-}
CREATE_ARGS=${CREATE_ARGS:-}
# On each worker, relative to the home directory (where ssh starts).
REMOTE_DIR=${REMOTE_DIR:-bodypose_jax}
# setup.py's pins (numpy 2.4, jax 0.10) need Python >= 3.11; the TPU images
# ship 3.10, so setup installs one with uv.
PYTHON_VERSION=${PYTHON_VERSION:-3.11}
COPY_METHOD=${COPY_METHOD:-scp}
LOG_DIR=${LOG_DIR:-workdirs/tpu_logs/$TPU_NAME}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REMOTE_PYTHON=.venv/bin/python # inside REMOTE_DIR

gcloud_tpu() {
  run gcloud compute tpus tpu-vm "$@" ${PROJECT:+"--project=$PROJECT"}
}

# Runs a shell command on every worker at once.
ssh_all() {
  local remote=$1
  shift
  gcloud_tpu ssh "$TPU_NAME" --zone="$ZONE" --worker=all --command="$remote" "$@"
}

# The trainer's command line, as run on every worker.
train_command() {
  local extra=()
  read -r -a extra <<<"$EXTRA_ARGS"
  local train=("$REMOTE_PYTHON" -m bodypose_jax.main "--config=$CONFIG"
    "--workdir=$WORKDIR")
  if [[ -n $DATA_DIR ]]; then
    train+=("--config.dataset.data_dir=$DATA_DIR")
  fi
  command_line "${train[@]}" ${extra[@]+"${extra[@]}"} "$@"
}

# ------------------------------------------------------------ subcommands --
# shellcheck disable=SC2120  # called as "cmd_$subcommand" "$@" from main
cmd_create() {
  local extra=()
  read -r -a extra <<<"$CREATE_ARGS"
  gcloud_tpu create "$TPU_NAME" --zone="$ZONE" \
    --accelerator-type="$ACCELERATOR_TYPE" --version="$RUNTIME_VERSION" \
    ${extra[@]+"${extra[@]}"} "$@"
}

cmd_copy() {
  local dir
  dir=$(quote "$REMOTE_DIR")
  case $COPY_METHOD in
    scp)
      # One tarball of what git would commit (tracked files, uncommitted
      # edits included, plus new files not ignored): no .git, workdirs,
      # virtualenvs or datasets. Unpacked over REMOTE_DIR, so the venv that
      # setup made there survives a re-copy.
      local tarball=${TMPDIR:-/tmp}/bodypose_jax-src-$TPU_NAME.tgz
      local remote_tarball=bodypose_jax-src.tgz
      run_sh "git -C $(quote "$REPO") ls-files -z --cached --others --exclude-standard | tar -czf $(quote "$tarball") -C $(quote "$REPO") --null -T -"
      gcloud_tpu scp "$tarball" "$TPU_NAME:$remote_tarball" --zone="$ZONE" --worker=all
      ssh_all "mkdir -p $dir && tar -xzf $remote_tarball -C $dir && rm $remote_tarball"
      ;;
    git)
      # The workers fetch the commit themselves: it has to be pushed.
      local url=${GIT_URL:-} ref=${GIT_REF:-}
      if [[ -z $url ]]; then
        url=$(git -C "$REPO" remote get-url origin 2>/dev/null) ||
          die "COPY_METHOD=git needs GIT_URL (this checkout has no origin)."
      fi
      if [[ -z $ref ]]; then
        ref=$(git -C "$REPO" rev-parse --abbrev-ref HEAD)
      fi
      ssh_all "git init -q $dir && git -C $dir fetch -q --depth=1 $(quote "$url") $(quote "$ref") && git -C $dir checkout -q --force FETCH_HEAD"
      ;;
    *) die "COPY_METHOD must be scp or git, not '$COPY_METHOD'." ;;
  esac
}

cmd_setup() {
  # uv brings its own Python build, so any TPU image will do. The last step
  # runs JAX on every worker at once, as training will: it prints each
  # worker's process index and the global device count (16 on a v4-32).
  # shellcheck disable=SC2088  # the tilde is for the remote shell to expand
  local uv='~/.local/bin/uv'
  ssh_all "cd $(quote "$REMOTE_DIR") && curl -LsSf https://astral.sh/uv/install.sh | sh && $uv venv --allow-existing --python $(quote "$PYTHON_VERSION") .venv && $uv pip install --python $REMOTE_PYTHON -e . 'jax[tpu]' && $REMOTE_PYTHON -c \"import jax; print(jax.process_index(), jax.device_count())\""
}

# Every worker must see the workdir; refuses the placeholder before anything
# is created or started.
check_workdir() {
  case $WORKDIR in
    gs://YOUR_BUCKET/*)
      dry || die "set BUCKET (or WORKDIR=gs://...): every worker must see the workdir."
      echo "tpu_vm.sh: set BUCKET or WORKDIR before a real run." >&2
      ;;
    gs://*) ;;
    *) echo "tpu_vm.sh: warning: WORKDIR=$WORKDIR is not on GCS; on a pod slice every worker must see it." >&2 ;;
  esac
}

cmd_run() {
  check_workdir
  # jax.distributed finds the other workers itself on Cloud TPU, so every
  # worker runs the same command. nohup plus the redirections let the ssh
  # session end while training goes on; the log is appended to, so a restart
  # adds to it. The pid is kept for `stop`.
  ssh_all "cd $(quote "$REMOTE_DIR") && mkdir -p logs && { nohup $(train_command "$@") >> logs/train.log 2>&1 < /dev/null & echo \$! > logs/train.pid; }"
  dry || echo "tpu_vm.sh: started on every worker of $TPU_NAME; \`bash launch/tpu_vm.sh logs\` fetches the logs." >&2
}

cmd_stop() {
  # What a pre-emption does: the trainers save a checkpoint and exit.
  ssh_all "cd $(quote "$REMOTE_DIR") && kill -TERM \$(cat logs/train.pid)"
}

cmd_logs() {
  # --output-directory writes each worker's output to LOG_DIR/<worker>.log.
  run mkdir -p "$LOG_DIR"
  ssh_all "cat $(quote "$REMOTE_DIR")/logs/train.log" --output-directory="$LOG_DIR"
}

cmd_delete() {
  gcloud_tpu delete "$TPU_NAME" --zone="$ZONE" --quiet
}

cmd_up() {
  check_workdir
  # shellcheck disable=SC2119  # the ARGS of `up` are the trainer's
  cmd_create
  cmd_copy
  cmd_setup
  cmd_run "$@"
}

# ------------------------------------------------------------------- main --
if [[ ${1:-} == --dry-run ]]; then
  DRY_RUN=1
  shift
fi
subcommand=${1:-}
case $subcommand in
  create | run | up)
    shift
    "cmd_$subcommand" "$@"
    ;;
  copy | setup | stop | logs | delete)
    shift
    [[ $# -eq 0 ]] || { usage >&2; echo "tpu_vm.sh: $subcommand takes no arguments" >&2; exit 2; }
    "cmd_$subcommand"
    ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    [[ -z $subcommand ]] || echo "tpu_vm.sh: unknown subcommand '$subcommand'" >&2
    exit 2
    ;;
esac
