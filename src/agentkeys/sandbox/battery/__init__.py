"""Battery savings: a simulated home (load shape, clear-sky solar) dispatched by a linear program.

Pure: no I/O, no web or database imports. ``estimate.estimate_annual_savings`` is the entry point.
"""
