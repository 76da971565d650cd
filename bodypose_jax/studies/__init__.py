"""Studies that train and compare several models: the temporal study."""
