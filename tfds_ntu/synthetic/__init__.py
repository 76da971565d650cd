"""The synthetic NTU-format renderer: performers, motions, rooms, rasterizer, sensor model."""
