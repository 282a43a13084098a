"""15-minute import and export prices for a home (scope ``price_signal:read``)."""
