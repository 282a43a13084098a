-- POST /v1/agent-credentials with a complete body; each thread uses its own organization so that
-- the decisions spread over quota keys the way real agents would.
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
  return wrk.format("POST", "/v1/agent-credentials", {["Content-Type"] = "application/json"}, body)
end
