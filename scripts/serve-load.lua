-- wrk's request for scripts/serve-load.sh: POST /api/explain with $IMAGE and $MODEL as
-- multipart/form-data; prints the counts and percentiles the script checks.
local file = assert(io.open(os.getenv("IMAGE"), "rb"))
local image = file:read("*a")
file:close()
local boundary = "gradcam-load-test"
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n" .. os.getenv("MODEL") .. "\r\n"
  .. "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"scene.png\"\r\n"
  .. "Content-Type: image/png\r\n\r\n" .. image .. "\r\n--" .. boundary .. "--\r\n"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("requests %d errors %d p50_ms %.1f p99_ms %.1f\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
