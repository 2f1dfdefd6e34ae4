-- wrk: batches of BATCH counter-referrals per request, POST /api/counter-referrals/batch, for
-- random persons in [1, MAX_ID]; every event id is new. Needs TOKEN, MAX_ID, RUN, BATCH.
local token = os.getenv("TOKEN")
local max_id = tonumber(os.getenv("MAX_ID"))
local run = os.getenv("RUN") or "r"
local batch = tonumber(os.getenv("BATCH") or "1000")
local counter = 0
local thread_id = 0
setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
init = function()
  math.randomseed(os.time() + (tid or 0) * 7919 + math.floor(os.clock() * 1e6))
end
request = function()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = string.format(
      '{"event_id":"%s-b%d-%d","person_id":%d,"service":"control_prenatal","delivered_on":"2026-11-20"}',
      run, tid or 0, counter, math.random(1, max_id))
  end
  return wrk.format("POST", "/api/counter-referrals/batch",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    '{"events":[' .. table.concat(parts, ",") .. ']}')
end
