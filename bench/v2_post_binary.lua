-- wrk script: POST a KServe V2 binary-tensor body (JSON header + raw tensor bytes) read from $BODY;
-- $HLEN is the JSON header's byte length (Inference-Header-Content-Length).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = os.getenv("HLEN")
local f = assert(io.open(os.getenv("BODY"), "rb")); wrk.body = f:read("*a"); f:close()
