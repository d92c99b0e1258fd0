-- wrk script for scripts/bench-api: GET /v1/accounts/{iin} for IINs drawn
-- at random from $IINS (one per line), with the bearer token $TOKEN, and a
-- pause of $DELAY_MS milliseconds before each request on each connection
-- (0: as fast as possible). A share $CONSOLE_SHARE (0-1, default 0) of the
-- requests instead fetches one of the console's files, in turn, as
-- browsers opening /console/ would.
local iins = {}
for line in io.lines(os.getenv("IINS")) do
  iins[#iins + 1] = line
end
local token = os.getenv("TOKEN")
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local statuses = {}
local console_share = tonumber(os.getenv("CONSOLE_SHARE") or "0")
local console_files = {
  "/console/", "/console/app.js", "/console/i18n.js", "/console/format.js",
  "/console/chart.js", "/console/style.css", "/console/favicon.svg",
}
local next_file = 0

function request()
  if console_share > 0 and math.random() < console_share then
    next_file = next_file % #console_files + 1
    return wrk.format("GET", console_files[next_file])
  end
  local iin = iins[math.random(#iins)]
  return wrk.format("GET", "/v1/accounts/" .. iin, { ["Authorization"] = "Bearer " .. token })
end

function delay()
  return pause
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format(
    "wrk_summary requests=%d seconds=%.1f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
