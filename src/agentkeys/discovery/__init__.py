"""Discovery: ``/llms.txt``, a Markdown page per operation and ``/.well-known/agent-credentials``,
generated from the issuing policy and the OpenAPI document, once per application."""
