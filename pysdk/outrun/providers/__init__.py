"""Providers built into Outrun, written in Python and run in-process."""
