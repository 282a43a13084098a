-- POST /v1/keys/verify as a service calls it: its verify-role admin key as a bearer token
-- (BENCH_ADMIN_KEY_FILE), the agent key (BENCH_KEY_FILE) and the request it wants to serve.
local function first_line(path)
  local f = assert(io.open(path, "r"))
  local line = f:read("*l")
  f:close()
  return line
end
local key = first_line(os.getenv("BENCH_KEY_FILE"))
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. first_line(os.getenv("BENCH_ADMIN_KEY_FILE"))
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"key":"%s","method":"GET","path":"/v2/meters/42"}', key)
