"""Feedback from agents and their humans (scope ``feedback:write``)."""
