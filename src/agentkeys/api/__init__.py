"""HTTP edge: the app factory, dependencies and the one table from domain errors to HTTP."""
