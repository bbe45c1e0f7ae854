-- GET a random line of the data file: "<path>\t<cookie header or empty>"; anything but 200 is unexpected.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
require "common"

local rows

function init(args)
  rows = read_lines(args[1])
  math.randomseed(os.time() * 1000 + id)
end

function request()
  local row = rows[math.random(#rows)]
  local headers = {}
  if row[2] ~= nil and row[2] ~= "" then headers["Cookie"] = row[2] end
  return wrk.format("GET", row[1], headers)
end
