"""Evaluation: per-frame and per-video metrics, and the streamed, tracked evaluation of a model."""
