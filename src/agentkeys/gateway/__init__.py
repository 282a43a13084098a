"""agentkeys as the key authority in front of any HTTP API: forward auth for gateways (nginx,
Traefik, Envoy), the verification API and RFC 7662 introspection for services."""
