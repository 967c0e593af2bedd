"""loyalty: a checked language for customer-loyalty programs."""

__version__ = "0.1.0"
