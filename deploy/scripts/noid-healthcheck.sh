#!/bin/bash
# /usr/local/bin/noid-healthcheck.sh - Nagios-style check of the Noid server's /health.
#
# Exit codes (Nagios plugin convention):
#   0 OK        status is "healthy"
#   1 WARNING   HTTP 200 but status is not "healthy" (e.g. "degraded")
#   2 CRITICAL  HTTP code is not 200 (503 = "unhealthy") or nothing answered
#   3 UNKNOWN   the check itself cannot run (curl or jq missing)
#
# Environment:
#   HEALTH_URL     default https://localhost:7654/health
#   NOID_CA_FILE   CA certificate to verify the server's TLS certificate with
#                  (e.g. /etc/noid/tls/ca.pem); without it TLS is not verified (curl -k)
#   HEALTH_TIMEOUT seconds to wait for an answer, default 10

HEALTH_URL="${HEALTH_URL:-https://localhost:7654/health}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-10}"

for tool in curl jq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "UNKNOWN: $tool is required but not installed (apt-get install $tool)"
    exit 3
  fi
done

body=$(mktemp "${TMPDIR:-/tmp}/noid-health.XXXXXX") || {
  echo "UNKNOWN: cannot create a temporary file"
  exit 3
}
errors=$(mktemp "${TMPDIR:-/tmp}/noid-health.XXXXXX") || {
  rm -f "$body"
  echo "UNKNOWN: cannot create a temporary file"
  exit 3
}
trap 'rm -f "$body" "$errors"' EXIT

if [ -n "${NOID_CA_FILE:-}" ]; then
  tls=(--cacert "$NOID_CA_FILE")
else
  tls=(-k)
fi

response=$(curl -sS "${tls[@]}" --max-time "$HEALTH_TIMEOUT" -w "%{http_code}" \
  -o "$body" "${HEALTH_URL}" 2>"$errors")
curl_rc=$?

if [ "$response" != "200" ]; then
  detail=""
  if [ "$curl_rc" -ne 0 ] && [ "$response" = "000" ]; then
    # e.g. "curl: (7) Failed to connect ..." or "curl: (60) SSL certificate problem ..."
    detail=": no answer from ${HEALTH_URL}: $(head -n 1 "$errors")"
  else
    status=$(jq -r '.status // empty' "$body" 2>/dev/null)
    [ -n "$status" ] && detail=": server status is $status"
  fi
  echo "CRITICAL: Health check failed (HTTP ${response:-000})${detail}"
  exit 2
fi

status=$(jq -r '.status' "$body" 2>/dev/null)
if [ "$status" != "healthy" ]; then
  echo "WARNING: Server status is ${status:-unknown (the answer is not the expected JSON)}"
  exit 1
fi

echo "OK: Server is healthy"
exit 0
