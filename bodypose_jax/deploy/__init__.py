"""The model as it ships: the one-frame step, the tracker, TFLite export and runner, the demo."""
