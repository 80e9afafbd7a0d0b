"""JSON schemas of the tap's streams (one ``<stream>.json`` per stream)."""
