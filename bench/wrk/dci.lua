-- wrk: DCI synchronous search, one idtype-value (UIN) request per message with a random id in
-- [1, MAX_ID]; message ids are unique per thread (the server refuses replays).
-- Needs TOKEN, MAX_ID and SENDER (an unsigned DCI sender of the token's account).
local token = os.getenv("TOKEN")
local max_id = tonumber(os.getenv("MAX_ID"))
local sender = os.getenv("SENDER")
local counter = 0
local prefix = tostring(math.random(1, 1e9))
setup = function(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)))
end
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(prefix))
end
request = function()
  counter = counter + 1
  local id = math.random(1, max_id)
  local body = string.format([[{"header":{"version":"1.0.0","message_id":"b-%s-%d","message_ts":"2026-11-23T10:00:00-03:00","action":"search","sender_id":"%s","total_count":1},"message":{"transaction_id":"t-%d","search_request":[{"reference_id":"r","timestamp":"2026-11-23T10:00:00-03:00","search_criteria":{"query_type":"idtype-value","query":{"type":"UIN","value":"%d"}}}]}}]], prefix, counter, sender, counter, id)
  return wrk.format("POST", "/dci/registry/sync/search", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
