"""The pose network and what defines it: layers, recurrent cells, heatmaps, losses, the skeleton."""
