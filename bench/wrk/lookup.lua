-- Guest lookup POSTs with random (order number, e-mail) pairs. Line 1 of the data file: "<csrf token>\t<cookie>";
-- then "<order number>\t<e-mail>". A successful lookup answers 303 (to the order page).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
require "common"

local rows, token, cookie
expected_status = 303

local function encode(value)
  return (value:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  rows = read_lines(args[1])
  token, cookie = rows[1][1], rows[1][2]
  table.remove(rows, 1)
  math.randomseed(os.time() * 1000 + id)
end

function request()
  local row = rows[math.random(#rows)]
  local body = "csrf_token=" .. encode(token) .. "&order_number=" .. encode(row[1]) .. "&email=" .. encode(row[2])
  return wrk.format("POST", "/track", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
  }, body)
end
