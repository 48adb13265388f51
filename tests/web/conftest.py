"""The console tests share one small city (webcity.console_city)."""
from webcity import console_city  # noqa: F401
