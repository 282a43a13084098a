"""The ``agentkeys`` command line."""
