"""Everything Qt: the bridge to the collector thread, models, views, windows.
Nothing outside this package imports Qt."""
