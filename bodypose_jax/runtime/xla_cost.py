"""What XLA expects a compiled step to cost: FLOPs, bytes, memory.

The trainer logs it before the first step (so a config that cannot fit fails
before any data is read); the training benchmark reports it.
"""

import time

from absl import logging


def compile_step(jitted, *args, compiler_options=None):
  """AOT-compiles `jitted` for `args`: (executable, seconds)."""
  t0 = time.perf_counter()
  executable = jitted.lower(*args).compile(compiler_options or None)
  return executable, time.perf_counter() - t0


def cost_report(executable) -> dict:
  """What XLA expects a compiled step to cost.

  XLA counts a scanned (while-loop) body once, so the FLOPs cover one time
  step of the recurrent cell.

  Returns:
    {'flops', 'bytes_accessed'} (None where XLA gives none) and 'memory':
    {'<argument|output|alias|temp|generated_code>_bytes'} or None.
  """
  try:
    cost = executable.cost_analysis()
  except Exception as e:  # pylint: disable=broad-except
    logging.warning("cost_analysis() failed: %s", e)
    cost = None
  if isinstance(cost, (list, tuple)):  # older JAX: one dict per device
    cost = cost[0] if cost else None
  cost = cost or {}
  try:
    stats = executable.memory_analysis()
  except Exception as e:  # pylint: disable=broad-except
    logging.warning("memory_analysis() failed: %s", e)
    stats = None
  fields = ("argument", "output", "alias", "temp", "generated_code")
  memory = None
  if stats is not None:
    memory = {
        f"{f}_bytes": int(getattr(stats, f"{f}_size_in_bytes"))
        for f in fields
        if hasattr(stats, f"{f}_size_in_bytes")
    }
  return {
      "flops": float(cost["flops"]) if "flops" in cost else None,
      "bytes_accessed": (
          float(cost["bytes accessed"]) if "bytes accessed" in cost else None
      ),
      "memory": memory,
  }


def compile_and_report(jitted, *args, compiler_options=None):
  """Compiles ahead of time and logs what XLA expects the step to cost.

  Run before the first step, so a researcher learns whether a config fits the
  device before any data is read.

  Returns:
    The compiled executable, called like `jitted`.
  """
  compiled, seconds = compile_step(
      jitted, *args, compiler_options=compiler_options
  )
  cost = cost_report(compiled)
  memory = cost["memory"] or {}
  mib = lambda n: "?" if n is None else f"{n / 2**20:.1f} MiB"
  logging.info(
      "Compiled the train step in %.1f s: %.3g FLOPs and %s accessed per "
      "step (per device; the scanned cell counted once), memory: arguments "
      "%s, outputs %s, temporaries %s, code %s.",
      seconds,
      cost["flops"] if cost["flops"] is not None else float("nan"),
      mib(cost["bytes_accessed"]),
      *(
          mib(memory.get(f"{f}_bytes"))
          for f in ("argument", "output", "temp", "generated_code")
      ),
  )
  return compiled
