"""``POST /v1/utility/get``: utilities and rate plans for a ZIP code (scope ``utility:read``)."""
