-- wrk: one counter-referral per request, POST /api/counter-referrals, for a random person in
-- [1, MAX_ID]; every event id is new (RUN prefix, thread, counter). Needs TOKEN, MAX_ID, RUN.
local token = os.getenv("TOKEN")
local max_id = tonumber(os.getenv("MAX_ID"))
local run = os.getenv("RUN") or "r"
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
  counter = counter + 1
  local body = string.format(
    '{"event_id":"%s-%d-%d","person_id":%d,"service":"control_prenatal","delivered_on":"2026-11-20","place":"USF (sintetico)"}',
    run, tid or 0, counter, math.random(1, max_id))
  return wrk.format("POST", "/api/counter-referrals",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
