-- wrk script: a light probe, one request per connection every $PROBE_MS ms (default 10),
-- cycling through the paths in $PATHS; its latency is what a user of those paths sees
-- while another wrk loads the server.
local paths = {}
for line in io.lines(os.getenv("PATHS")) do
  if #line > 0 then paths[#paths + 1] = line end
end
local i = math.random(#paths)
local pause = tonumber(os.getenv("PROBE_MS") or "10")
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
delay = function() return pause end
