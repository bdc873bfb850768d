"""hallq city hub: the halls of a city feed it; it supervises, computes, publishes."""

__version__ = "0.1.0"
