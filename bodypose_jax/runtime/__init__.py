"""What runs around the trainer and the commands: backends, processes, checkpoints, faults."""
