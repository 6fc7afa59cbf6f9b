"""SQL adapters: a historian that stores bus changes and a source that reads points from tables."""
