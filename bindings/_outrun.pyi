"""Type stubs for Outrun's native core, the `_outrun` extension module."""

__version__: str
"""The Outrun version this module belongs to."""

built_for_python: str
"""The CPython version the module was compiled against, such as "3.11.7"."""
