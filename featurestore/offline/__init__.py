"""The offline store: validated source rows, feature computation at read, point-in-time joins."""
