"""Bills and bill impacts from 15-minute usage (scope ``bill_impact:read``)."""
