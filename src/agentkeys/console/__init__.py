"""The operator console (``/console``): server-rendered pages over the admin API's services."""
