-- Shared by the benchmark's wrk scripts: per-thread ids and a count of unexpected answers, reported by done().
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function read_lines(path)
  local rows = {}
  for line in io.lines(path) do
    local fields = {}
    for value in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(fields, value) end
    table.insert(rows, fields)
  end
  return rows
end

unexpected = 0
expected_status = 200

function response(status, headers, body)
  if status ~= expected_status then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + (thread:get("unexpected") or 0) end
  io.write(string.format("BENCH_UNEXPECTED %d\n", total))
end
