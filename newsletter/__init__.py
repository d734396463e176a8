"""newsletter: run a monthly email newsletter from the command line."""

__version__ = "0.1.0"
