"""The data-parallel layout: a 1-D mesh over every device of every process.

The batch is split along the mesh's 'data' axis; parameters and optimiser
state are replicated.
"""

import jax


def make_mesh() -> jax.sharding.Mesh:
  """A 1-D data-parallel mesh over every device of every process."""
  return jax.make_mesh((jax.device_count(),), ("data",))


def to_global(batch, batch_sharding):
  """Host-local numpy batch -> global jax.Arrays split along the batch axis."""
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(batch_sharding, x),
      batch,
  )
