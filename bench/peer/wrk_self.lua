-- wrk -s wrk_self.lua: send the key read from $PEER_KEY_FILE (default bench/peer/peer.key).
local f = assert(io.open(os.getenv("PEER_KEY_FILE") or "bench/peer/peer.key", "r"))
local key = f:read("*l")
f:close()
wrk.headers["x-ws-api-key"] = key
