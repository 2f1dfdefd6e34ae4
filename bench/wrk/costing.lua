-- wrk: one costing scenario per request, GET /api/costing for a random district and Logro with
-- a random target (50–95 %) by a random year (2027–2030): each request a different scenario.
-- Needs TOKEN and DISTRICTS (comma-separated district codes) in the environment.
local token = os.getenv("TOKEN")
local districts = {}
for d in string.gmatch(os.getenv("DISTRICTS"), "[^,]+") do districts[#districts + 1] = d end
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
request = function()
  local path = string.format("/api/costing?territory=%s&logro=%d&target=0.%d&by=%d",
    districts[math.random(#districts)], math.random(1, 10), math.random(50, 95), math.random(2027, 2030))
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
