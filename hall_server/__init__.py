"""hallq hall server: the single source of truth of a service hall."""

__version__ = "0.1.0"
