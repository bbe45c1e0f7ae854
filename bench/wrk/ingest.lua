-- Tracking events through the API in batches of 100 (20 parcels x 5 events, each event id new).
-- Line 1 of the data file: "<bearer token>\t<run nonce>"; then "<tracking number>\t<ISO time>".
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
require "common"

local rows, token, nonce
local sequence = 0

function init(args)
  rows = read_lines(args[1])
  token, nonce = rows[1][1], rows[1][2]
  table.remove(rows, 1)
  math.randomseed(os.time() * 1000 + id)
end

function request()
  sequence = sequence + 1
  local events = {}
  for parcel = 1, 20 do
    local row = rows[math.random(#rows)]
    for n = 1, 5 do
      table.insert(events, string.format(
        '{"event_id":"bench-ing-%s-%d-%d-%d-%d","tracking_number":"%s","status":"in_transit",'
        .. '"occurred_at":"%s","description":"Hub scan","raw_status":"hub_scan",'
        .. '"location":{"city":"Leipzig","country":"DE"}}',
        nonce, id, sequence, parcel, n, row[1], row[2]))
    end
  end
  local body = '{"events":[' .. table.concat(events, ",") .. "]}"
  return wrk.format("POST", "/api/v1/tracking-events", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end
