-- Forward auth as nginx's auth_request sends it: the key in x-ws-api-key, the original request
-- in X-Original-Method and X-Original-URI (BENCH_KEY_FILE holds the key).
local f = assert(io.open(os.getenv("BENCH_KEY_FILE"), "r"))
local key = f:read("*l")
f:close()
wrk.method = "GET"
wrk.headers["x-ws-api-key"] = key
wrk.headers["X-Original-Method"] = "GET"
wrk.headers["X-Original-URI"] = "/v2/meters/42?fields=reading"
-- The agent's address, as nginx passes it ($proxy_add_x_forwarded_for): the bench server
-- trusts loopback as its gateway, so per-network rates count the agent's network.
wrk.headers["X-Forwarded-For"] = "198.51.100.23"
