-- POST /v1/agent-credentials as issue.lua, each request from a client network of its own (an
-- X-Forwarded-For address the server trusts from its loopback proxy): decisions spread over the
-- per-network quota keys the way agents on many networks would, instead of all queueing on one
-- network's lock.
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"organization_name":"Bench Org %d-%d","user_name":"Bench","assignment":"Benchmark credential issuance decisions","requested_scopes":["homes"],"user_email":"bench%d-%d@example.com","requested_ttl_seconds":3600}',
    id, counter % 1000, id, counter % 1000)
  local address = string.format("10.%d.%d.%d", id % 256, math.floor(counter / 256) % 256, counter % 256)
  return wrk.format("POST", "/v1/agent-credentials",
    {["Content-Type"] = "application/json", ["X-Forwarded-For"] = address}, body)
end
