"""Containers: records and names, resolving a run request against its image, and lifecycle."""
