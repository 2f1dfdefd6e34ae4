-- wrk: authenticated person lookups, GET /api/persons/{id} with a random id in [1, MAX_ID].
-- Needs TOKEN and MAX_ID in the environment.
local token = os.getenv("TOKEN")
local max_id = tonumber(os.getenv("MAX_ID"))
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
request = function()
  return wrk.format("GET", "/api/persons/" .. math.random(1, max_id), {["Authorization"] = "Bearer " .. token})
end
