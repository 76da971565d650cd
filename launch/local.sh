#!/usr/bin/env bash
# Training on this machine, in one of two modes. See launch/README.md.
#
#   bash launch/local.sh [--dry-run] [MODE] [TRAINER_FLAGS...]
#
# gpu (default): one process on every local device. JAX sees all GPUs and
#   the trainer splits each batch over them; with no GPU it runs on the CPU.
# cpu-multiprocess: NUM_PROCESSES processes on localhost, each with
#   DEVICES_PER_PROCESS CPU devices, joined by jax.distributed through a
#   coordinator on localhost:PORT. A rehearsal of a multi-host run (process
#   count, global batch, checkpoints, pre-emption) on one machine.
#
# DRY_RUN=1 (or --dry-run) prints the commands, ready to paste.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash launch/local.sh [--dry-run] [gpu | cpu-multiprocess] [TRAINER_FLAGS...]
MODE may also come from the environment (MODE=cpu-multiprocess).

Environment (default):
  CONFIG (gpu: configs/rgb_gru.py, cpu-multiprocess: configs/rgb_gru.py:smoke)
  WORKDIR (workdirs/local_gpu, workdirs/local_cpu_multiprocess)
  DATA_DIR (unset: the config's)  EXTRA_ARGS (more trainer flags)  PYTHON (python)
  cpu-multiprocess only: NUM_PROCESSES (2)  DEVICES_PER_PROCESS (2)
    PORT (8476, the coordinator's)  LOG_DIR ($WORKDIR/logs)
  DRY_RUN (unset: run for real; set: print the commands)
EOF
}

# ---------------------------------------------------------------- helpers --
# shellcheck source=launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

die() {
  echo "local.sh: $*" >&2
  exit 1
}

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

# ------------------------------------------------------------------ modes --
# The trainer's command line; CONFIG and WORKDIR are set per mode.
trainer() {
  local extra=()
  read -r -a extra <<<"${EXTRA_ARGS:-}"
  train=("${PYTHON:-python}" -m bodypose_jax.main "--config=$CONFIG"
    "--workdir=$WORKDIR")
  if [[ -n ${DATA_DIR:-} ]]; then
    train+=("--config.dataset.data_dir=$DATA_DIR")
  fi
  train+=(${extra[@]+"${extra[@]}"} "$@")
}

mode_gpu() {
  CONFIG=${CONFIG:-configs/rgb_gru.py}
  WORKDIR=${WORKDIR:-workdirs/local_gpu}
  trainer "$@"
  if dry; then
    command_line "${train[@]}"
    echo
  else
    echo "+ $(command_line "${train[@]}")" >&2
    # exec: SIGTERM and Ctrl-C reach the trainer itself.
    exec "${train[@]}"
  fi
}

mode_cpu_multiprocess() {
  CONFIG=${CONFIG:-configs/rgb_gru.py:smoke}
  WORKDIR=${WORKDIR:-workdirs/local_cpu_multiprocess}
  local n=${NUM_PROCESSES:-2} k=${DEVICES_PER_PROCESS:-2} port=${PORT:-8476}
  local log_dir=${LOG_DIR:-$WORKDIR/logs}
  is_count "$n" || die "NUM_PROCESSES must be a positive integer, not '$n'."
  is_count "$k" || die "DEVICES_PER_PROCESS must be a positive integer, not '$k'."
  trainer "$@"

  # The same environment for every process: CPU only, even on a GPU machine,
  # K host devices each (XLA_FLAGS the caller set are kept), so N*K devices
  # in all, over which the global batch is split.
  local environment=(env JAX_PLATFORMS=cpu
    "XLA_FLAGS=${XLA_FLAGS:+$XLA_FLAGS }--xla_force_host_platform_device_count=$k")
  local distributed=("--coordinator_address=localhost:$port"
    "--num_processes=$n")

  run mkdir -p "$log_dir"
  local pids=() i
  for ((i = 0; i < n; i++)); do
    local cmd=("${environment[@]}" "${train[@]}" "${distributed[@]}"
      "--process_id=$i")
    local log=$log_dir/process_$i.log
    if dry; then
      echo "$(command_line "${cmd[@]}") >> $(quote "$log") 2>&1 &"
    else
      echo "+ $(command_line "${cmd[@]}") >> $(quote "$log") 2>&1 &" >&2
      "${cmd[@]}" >>"$log" 2>&1 &
      pids+=($!)
    fi
  done
  if dry; then
    echo wait
    return
  fi
  echo "local.sh: $n processes started; logs in $log_dir/process_<i>.log. Ctrl-C: checkpoint and stop (twice: kill)." >&2
  wait_all "$log_dir" "${pids[@]}"
}

# Waits for every process; the first failure stops the others (they would
# otherwise wait on it in a collective). Ctrl-C or SIGTERM is passed on as a
# SIGTERM, so the trainers checkpoint and exit (background processes of a
# script ignore Ctrl-C themselves); a second one kills them.
PIDS=()
stopping=0
stop_all() {
  local signal=TERM
  if ((stopping)); then signal=KILL; fi
  stopping=1
  kill -s "$signal" "${PIDS[@]}" 2>/dev/null || true
}

wait_all() {
  local log_dir=$1 status=() failed=0 i
  shift
  PIDS=("$@")
  trap 'echo "local.sh: stopping the trainers" >&2; stop_all' INT TERM
  # Polls rather than `wait -n`, which bash 4.3 lacks and which does not say
  # which process ended.
  while ((${#status[@]} < ${#PIDS[@]})); do
    sleep 1
    for i in "${!PIDS[@]}"; do
      [[ -z ${status[i]:-} ]] || continue
      kill -0 "${PIDS[i]}" 2>/dev/null && continue
      status[i]=0
      wait "${PIDS[i]}" || status[i]=$?
      if ((status[i] != 0)); then
        echo "local.sh: process $i exited with status ${status[i]}; the end of $log_dir/process_$i.log:" >&2
        tail -n 20 "$log_dir/process_$i.log" >&2 || true
        if ((!failed && !stopping)); then stop_all; fi
        failed=1
      fi
    done
  done
  trap - INT TERM
  ((!failed)) || exit 1
  echo "local.sh: all ${#PIDS[@]} processes finished." >&2
}

# ------------------------------------------------------------------- main --
if [[ ${1:-} == --dry-run ]]; then
  DRY_RUN=1
  shift
fi
if [[ $# -gt 0 && ($1 != -* || $1 == -h || $1 == --help) ]]; then
  MODE=$1
  shift
fi
case ${MODE:-gpu} in
  gpu) mode_gpu "$@" ;;
  cpu-multiprocess) mode_cpu_multiprocess "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    echo "local.sh: unknown mode '${MODE}'" >&2
    exit 2
    ;;
esac
