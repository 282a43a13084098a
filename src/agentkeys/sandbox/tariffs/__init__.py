"""Tariffs: the rate-plan model, the shipped catalog, and the engine pricing 15-minute energy."""
