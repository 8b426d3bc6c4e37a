"""Uploaded media records (filled in by the uploads feature)."""
