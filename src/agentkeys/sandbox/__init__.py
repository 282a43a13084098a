"""The sandbox API that agent credentials unlock, one sub-package per resource family."""
