-- Sends the key in BENCH_KEY_FILE as x-ws-api-key on every request (method from BENCH_METHOD).
local f = assert(io.open(os.getenv("BENCH_KEY_FILE"), "r"))
local key = f:read("*l")
f:close()
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["x-ws-api-key"] = key
local body = os.getenv("BENCH_BODY")
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
