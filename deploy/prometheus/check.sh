#!/bin/bash
# Validates Noid's monitoring configuration (deploy/prometheus, deploy/alertmanager,
# deploy/grafana, deploy/loki, deploy/scripts). Runs from any directory:
#   deploy/prometheus/check.sh
# Needs promtool (Debian: prometheus), amtool (prometheus-alertmanager), python3 with
# PyYAML (python3-yaml). Prints one line per check; exits 1 if any check fails.

set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
deploy="$(dirname "$here")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0

# check NAME COMMAND... : runs COMMAND, prints "ok" or "FAIL" and, on failure, its output.
check() {
  local name="$1" out
  shift
  if out="$("$@" 2>&1)"; then
    echo "ok   - $name"
    passed=$((passed + 1))
  else
    echo "FAIL - $name"
    printf '%s\n' "$out" | sed 's/^/       /'
    failed=$((failed + 1))
  fi
}

need() {
  if command -v "$1" >/dev/null 2>&1; then
    return 0
  fi
  echo "FAIL - $1 not found (install the Debian package $2)"
  failed=$((failed + 1))
  return 1
}

# promtool check config fails on TLS files that do not exist here (the cluster CA lives on
# the real hosts only): check a copy that points at a temporary CA file, next to a copy of
# the rule files it loads.
check_config_copy() {
  local config="$1" dir="$tmp/$2"
  shift 2
  mkdir -p "$dir"
  if command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=check-ca \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1 || : >"$dir/ca.pem"
  else
    : >"$dir/ca.pem"
  fi
  sed "s#/etc/noid/tls/ca.pem#$dir/ca.pem#g" "$config" >"$dir/$(basename "$config")"
  local rules
  for rules in "$@"; do
    cp "$rules" "$dir/"
  done
  promtool check config "$dir/$(basename "$config")"
}

if need promtool prometheus; then
  check "promtool check config prometheus.yml" \
    check_config_copy "$here/prometheus.yml" site "$here/alerts.yml"
  check "promtool check rules alerts.yml" promtool check rules "$here/alerts.yml"
  check "promtool test rules alerts_test.yml" promtool test rules "$here/alerts_test.yml"
  check "promtool check config federation/prometheus.yml" \
    promtool check config "$here/federation/prometheus.yml"
  check "promtool check config federation/site-prometheus.yml" \
    check_config_copy "$here/federation/site-prometheus.yml" federation-site "$here/alerts.yml"
  check "promtool check rules federation/recording-rules.yml" \
    promtool check rules "$here/federation/recording-rules.yml"
  check "promtool test rules federation/recording-rules_test.yml" \
    promtool test rules "$here/federation/recording-rules_test.yml"
  check "promtool check rules federation/fleet-alerts.yml" \
    promtool check rules "$here/federation/fleet-alerts.yml"
  check "promtool test rules federation/fleet-alerts_test.yml" \
    promtool test rules "$here/federation/fleet-alerts_test.yml"
fi

if need amtool prometheus-alertmanager; then
  check "amtool check-config alertmanager.yml" \
    amtool check-config "$deploy/alertmanager/alertmanager.yml"
fi

# Structural checks of everything no packaged tool validates (Grafana, Loki, Promtail) and
# of the metric names used by every dashboard query, alert and recording rule.
structure() {
  python3 - "$deploy" "$tmp/dashboard-queries.yml" <<'PY'
import json, os, re, sys

try:
    import yaml
except ImportError:
    print("python3 PyYAML missing (apt-get install python3-yaml)")
    sys.exit(1)

deploy, queries_out = sys.argv[1], sys.argv[2]
errors = []

def err(msg):
    errors.append(msg)

def load_yaml(rel):
    path = os.path.join(deploy, rel)
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except Exception as e:  # noqa: BLE001 - report any parse error
        err(f"{rel}: not valid YAML: {e}")
        return None
    if not isinstance(data, dict):
        err(f"{rel}: expected a YAML mapping at the top level")
        return None
    return data

# ---- the metrics Noid exports (docs/observability.md) ---------------------------------
GAUGES = """noid_vms_total noid_vms_running noid_vms_by_state noid_nodes noid_node_ready
noid_node_heartbeat_age_seconds noid_node_cpus noid_node_cpus_allocated noid_node_memory_bytes
noid_node_memory_allocated_bytes noid_node_disk_bytes noid_node_disk_available_bytes
noid_memory_usage_bytes noid_cpu_usage_percent noid_disk_usage_bytes noid_agent_vms
noid_agent_disk_available_bytes noid_agent_disk_capacity_bytes
noid_agent_memory_capacity_bytes noid_controller_leader noid_controller_epoch
noid_checkpoint_archive_pending noid_checkpoint_archive_upload_lag_seconds
noid_checkpoint_archive_bytes noid_checkpoint_archive_logical_bytes""".split()
COUNTERS = """noid_api_requests_total noid_api_errors_total noid_checkpoint_failures_total
noid_vm_operation_failures_total noid_controller_failovers_total
noid_checkpoint_archive_uploads_total noid_checkpoint_archive_upload_failures_total
noid_checkpoint_archive_uploaded_bytes_total noid_checkpoint_archive_stored_bytes_total
noid_checkpoint_archive_collected_bytes_total""".split()
HISTOGRAMS = """noid_vm_creation_duration_seconds noid_checkpoint_creation_duration_seconds
noid_api_request_duration_seconds""".split()
KNOWN = set(GAUGES) | set(COUNTERS) | {"up", "node_memory_MemTotal_bytes"}
for h in HISTOGRAMS:
    KNOWN |= {h + "_bucket", h + "_sum", h + "_count"}
STANDARD_PREFIXES = ("jvm_", "process_")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"}

def metric_names(expr):
    """Metric names an expression selects (strings, label matchers, ranges, grouping
    clauses, Grafana variables, numbers and function names removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)
    e = re.sub(r"(?<![\w:.])\d+(?:\.\d+)?(?:ms|[smhdwy])\b", " ", e)
    e = re.sub(r"(?<![\w:.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if m.group(0) in KEYWORDS:
            continue
        names.add(m.group(0))
    return names

def check_metrics(where, expr, also_known=()):
    for name in sorted(metric_names(expr)):
        if name in KNOWN or name in also_known or name.startswith(STANDARD_PREFIXES):
            continue
        err(f"{where}: unknown metric {name!r} in: {expr}")

# ---- prometheus.yml: the seed's jobs with the corrected targets -------------------------
def check_site_config(rel):
    cfg = load_yaml(rel)
    if cfg is None:
        return
    g = cfg.get("global", {})
    if g.get("scrape_interval") != "15s" or g.get("evaluation_interval") != "15s":
        err(f"{rel}: global scrape/evaluation interval must be the seed's 15s")
    if cfg.get("rule_files") != ["alerts.yml"]:
        err(f"{rel}: rule_files must be [alerts.yml]")
    am = [t for a in cfg.get("alerting", {}).get("alertmanagers", [])
          for s in a.get("static_configs", []) for t in s.get("targets", [])]
    if not am or not all(t.endswith(":9093") for t in am):
        err(f"{rel}: alerting must go to Alertmanager on :9093")
    jobs = {j.get("job_name"): j for j in cfg.get("scrape_configs", [])}
    if set(jobs) != {"noid-server", "node", "noid-vms"}:
        err(f"{rel}: jobs must be exactly the seed's noid-server, node, noid-vms; got {sorted(jobs)}")
    want = {"noid-server": (":7654", "https"), "noid-vms": (":9091", "https"),
            "node": (":9100", None)}
    for job, (port, scheme) in want.items():
        j = jobs.get(job)
        if not j:
            continue
        targets = [t for s in j.get("static_configs", []) for t in s.get("targets", [])]
        if not targets or not all(t.endswith(port) for t in targets):
            err(f"{rel}: job {job} must scrape {port}, got {targets}")
        if any(t.endswith(":9090") for t in targets):
            err(f"{rel}: job {job} points at :9090, Prometheus's own port")
        if scheme and (j.get("scheme") != scheme or
                       j.get("tls_config", {}).get("ca_file") != "/etc/noid/tls/ca.pem"):
            err(f"{rel}: job {job} must use https with ca_file /etc/noid/tls/ca.pem")
    return cfg

check_site_config("prometheus/prometheus.yml")
site = check_site_config("prometheus/federation/site-prometheus.yml")
if site is not None and not site.get("global", {}).get("external_labels", {}).get("site"):
    err("prometheus/federation/site-prometheus.yml: global.external_labels.site missing")

fed = load_yaml("prometheus/federation/prometheus.yml")
if fed is not None:
    jobs = fed.get("scrape_configs", [])
    if len(jobs) != 1:
        err("federation/prometheus.yml: expected one federation job")
    for j in jobs:
        if j.get("metrics_path") != "/federate" or j.get("honor_labels") is not True:
            err("federation/prometheus.yml: the job must scrape /federate with honor_labels: true")
        match = j.get("params", {}).get("match[]", [])
        if '{__name__=~"noid_.*"}' not in match or "up" not in match:
            err(f'federation/prometheus.yml: match[] must hold {{__name__=~"noid_.*"}} and up, got {match}')
        targets = [t for s in j.get("static_configs", []) for t in s.get("targets", [])]
        if len(targets) < 2:
            err("federation/prometheus.yml: expected (at least) two site Prometheus targets")
    if fed.get("rule_files") != ["recording-rules.yml", "fleet-alerts.yml"]:
        err("federation/prometheus.yml: rule_files must be [recording-rules.yml, fleet-alerts.yml]")

# ---- alert rules: the seed's five, unchanged except HighMemoryUsage's expression --------
SEED = {
    "HighVMCount": ("noid_vms_total > 80", "5m", "warning",
                    {"summary": "High number of VMs",
                     "description": "{{ $value }} VMs running (threshold: 80)"}),
    "SlowVMCreation": ("histogram_quantile(0.95, rate(noid_vm_creation_duration_seconds_bucket[5m])) > 60",
                       "10m", "warning",
                       {"summary": "VM creation is slow",
                        "description": "95th percentile: {{ $value }}s"}),
    "HighMemoryUsage": (None, "5m", "critical",
                        {"summary": "High memory usage",
                         "description": "Memory usage: {{ $value | humanizePercentage }}"}),
    "HighErrorRate": ("rate(noid_api_errors_total[5m]) > 0.1", "5m", "warning",
                      {"summary": "High API error rate",
                       "description": "Error rate: {{ $value }} errors/sec"}),
    "ServerDown": ('up{job="noid-server"} == 0', "1m", "critical",
                   {"summary": "Noid server is down"}),
}
ADDED = {"NoidNodeDown", "NoidNodeHeartbeatMissing", "NoidCheckpointFailures",
         "NoidNodeDiskRunningOut", "NoidNodeDiskFillingUp", "NoidVmsExporterDown", "NoLeader", "NoidTwoLeaders",
         "CheckpointUploadsFailing"}
alerts = load_yaml("prometheus/alerts.yml")
if alerts is not None:
    groups = alerts.get("groups", [])
    if [g.get("name") for g in groups] != ["noid"]:
        err("alerts.yml: expected the single group 'noid'")
    rules = [r for g in groups for r in g.get("rules", [])]
    by_name = {r.get("alert"): r for r in rules}
    if set(by_name) != set(SEED) | ADDED:
        err(f"alerts.yml: alerts {sorted(by_name)} != expected {sorted(set(SEED) | ADDED)}")
    for name, (expr, for_, severity, annotations) in SEED.items():
        r = by_name.get(name)
        if r is None:
            continue
        if expr is not None and str(r.get("expr")).strip() != expr:
            err(f"alerts.yml: {name}: expr differs from the seed: {r.get('expr')}")
        if r.get("for") != for_ or r.get("labels") != {"severity": severity} \
                or r.get("annotations") != annotations:
            err(f"alerts.yml: {name}: for/labels/annotations differ from the seed")
    hmu = str(by_name.get("HighMemoryUsage", {}).get("expr", ""))
    if "> 0.9" not in hmu or "sum(noid_memory_usage_bytes)" not in hmu \
            or "sum(node_memory_MemTotal_bytes" not in hmu:
        err(f"alerts.yml: HighMemoryUsage must compare sum(VM memory) / sum(host memory) > 0.9: {hmu}")
    for r in rules:
        name = r.get("alert")
        if r.get("labels", {}).get("severity") not in ("warning", "critical"):
            err(f"alerts.yml: {name}: severity must be warning or critical")
        if not r.get("annotations", {}).get("summary"):
            err(f"alerts.yml: {name}: summary annotation missing")
        check_metrics(f"alerts.yml: {name}", str(r.get("expr")))

rec = load_yaml("prometheus/federation/recording-rules.yml")
if rec is not None:
    rrules = [r for g in rec.get("groups", []) for r in g.get("rules", [])]
    recorded = {r.get("record") for r in rrules}
    for want in ("fleet:noid_vms_total:sum", "fleet:noid_vms_running:sum",
                 "fleet:noid_api_errors:rate5m", "fleet:noid_vm_creation_duration_seconds:p95_5m"):
        if want not in recorded:
            err(f"recording-rules.yml: {want} missing")
    for r in rrules:
        check_metrics(f"recording-rules.yml: {r.get('record')}", str(r.get("expr")), recorded)
    fleet = load_yaml("prometheus/federation/fleet-alerts.yml")
    if fleet is not None:
        for r in [r for g in fleet.get("groups", []) for r in g.get("rules", [])]:
            if r.get("labels", {}).get("severity") not in ("warning", "critical") \
                    or not r.get("annotations", {}).get("summary"):
                err(f"fleet-alerts.yml: {r.get('alert')}: needs a severity and a summary")
            check_metrics(f"fleet-alerts.yml: {r.get('alert')}", str(r.get("expr")), recorded)

# ---- Grafana --------------------------------------------------------------------------
ds = load_yaml("grafana/provisioning/datasources/noid.yml")
ds_uids = {}
if ds is not None:
    for d in ds.get("datasources", []):
        ds_uids[d.get("type")] = (d.get("uid"), d.get("url"))
    if ds_uids.get("prometheus", (None, None))[1] != "http://localhost:9090":
        err("datasources/noid.yml: Prometheus must be at http://localhost:9090")
    if ds_uids.get("loki", (None, None))[1] != "http://localhost:3100":
        err("datasources/noid.yml: Loki must be at http://localhost:3100")
    if not all(u for u, _ in ds_uids.values()):
        err("datasources/noid.yml: every data source needs a fixed uid")

prov = load_yaml("grafana/provisioning/dashboards/noid.yml")
if prov is not None:
    paths = [p.get("options", {}).get("path") for p in prov.get("providers", [])
             if p.get("type") == "file"]
    if paths != ["/var/lib/grafana/dashboards/noid"]:
        err(f"dashboards/noid.yml: expected one file provider at /var/lib/grafana/dashboards/noid, got {paths}")

dash_rel = "grafana/dashboards/noid-overview.json"
try:
    with open(os.path.join(deploy, dash_rel)) as f:
        dash = json.load(f)
except Exception as e:  # noqa: BLE001
    err(f"{dash_rel}: not valid JSON: {e}")
    dash = None

queries = []
if dash is not None:
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        err(f"{dash_rel}: schemaVersion must be >= 36")
    if not dash.get("uid") or not dash.get("title"):
        err(f"{dash_rel}: uid and title required")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    for var, dstype in (("DS_PROMETHEUS", "prometheus"), ("DS_LOKI", "loki")):
        v = variables.get(var)
        if not v or v.get("type") != "datasource" or v.get("query") != dstype:
            err(f"{dash_rel}: data source variable {var} ({dstype}) missing")
        elif ds_uids and v.get("current", {}).get("value") != ds_uids.get(dstype, (None,))[0]:
            err(f"{dash_rel}: {var} defaults to {v.get('current', {}).get('value')!r}, "
                f"not the provisioned uid {ds_uids.get(dstype, (None,))[0]!r}")
    panels = dash.get("panels", [])
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)):
        err(f"{dash_rel}: duplicate panel ids")
    titles = {p.get("title"): p for p in panels}
    for t in ("System Overview", "Performance", "Errors & Issues", "Total VMs",
              "VMs by status", "VM creation rate", "API request rate", "VM Creation Time",
              "VM creation time (histogram)", "Checkpoint creation time", "API latency",
              "Memory Usage", "Error rate by endpoint", "Failed operations",
              "Slow operations", "Recent errors"):
        if t not in titles:
            err(f"{dash_rel}: panel {t!r} missing")
    exprs = {}
    for p in panels:
        if p.get("type") == "row":
            continue
        gp = p.get("gridPos", {})
        if gp.get("x", 0) + gp.get("w", 0) > 24 or not gp.get("h"):
            err(f"{dash_rel}: panel {p.get('title')!r}: bad gridPos {gp}")
        pds = p.get("datasource", {}).get("uid")
        if pds not in ("${DS_PROMETHEUS}", "${DS_LOKI}"):
            err(f"{dash_rel}: panel {p.get('title')!r}: data source must be ${{DS_PROMETHEUS}} or ${{DS_LOKI}}, got {pds!r}")
        if not p.get("targets"):
            err(f"{dash_rel}: panel {p.get('title')!r} has no query")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            tds = t.get("datasource", {}).get("uid")
            exprs.setdefault(expr, []).append(p.get("title"))
            if tds == "${DS_LOKI}":
                continue
            if tds != "${DS_PROMETHEUS}":
                err(f"{dash_rel}: panel {p.get('title')!r}: query data source {tds!r}")
                continue
            check_metrics(f"{dash_rel}: panel {p.get('title')!r}", expr)
            queries.append((p.get("title"), expr))
    for expr, title in (("noid_vms_total", "Total VMs"),
                        ("histogram_quantile(0.95, rate(noid_vm_creation_duration_seconds_bucket[5m]))", "VM Creation Time"),
                        ("sum(noid_memory_usage_bytes) by (vm)", "Memory Usage"),
                        ("sum by (method) (rate(noid_api_errors_total[5m]))", "Error rate by endpoint"),
                        ('{job="noid-server"} | json | level="error"', "Recent errors")):
        if title not in exprs.get(expr, []):
            err(f"{dash_rel}: panel {title!r} must query exactly: {expr}")

# Every dashboard query as a recording rule, for promtool to parse ($__ variables -> 5m).
with open(queries_out, "w") as f:
    rules = [{"record": "dashboard:%s:%d" % (re.sub(r"[^a-z0-9]+", "_", t.lower()).strip("_"), i),
              "expr": re.sub(r"\$__(?:rate_interval|interval|range)", "5m", q)}
             for i, (t, q) in enumerate(queries)]
    yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f)

# ---- Loki and Promtail -----------------------------------------------------------------
loki = load_yaml("loki/loki-config.yml")
if loki is not None:
    if loki.get("server", {}).get("http_listen_port") != 3100:
        err("loki-config.yml: Loki must listen on :3100")
    cfgs = loki.get("schema_config", {}).get("configs", [])
    if not cfgs or any(c.get("object_store") != "filesystem" for c in cfgs):
        err("loki-config.yml: expected filesystem storage in schema_config")
    if "filesystem" not in loki.get("common", {}).get("storage", {}):
        err("loki-config.yml: expected common.storage.filesystem")

pt = load_yaml("loki/promtail-config.yml")
if pt is not None:
    if not any(str(c.get("url", "")).endswith(":3100/loki/api/v1/push") for c in pt.get("clients", [])):
        err("promtail-config.yml: client must push to Loki :3100/loki/api/v1/push")
    want = {"noid-server": "/var/log/noid/server.log", "noid-audit": "/var/log/noid/audit.log"}
    jobs = {j.get("job_name"): j for j in pt.get("scrape_configs", [])}
    if set(jobs) != set(want):
        err(f"promtail-config.yml: jobs must be {sorted(want)}, got {sorted(jobs)}")
    for job, path in want.items():
        j = jobs.get(job)
        if not j:
            continue
        labels = [s.get("labels", {}) for s in j.get("static_configs", [])]
        if not any(l.get("job") == job and l.get("__path__") == path for l in labels):
            err(f"promtail-config.yml: {job} must carry job={job} and __path__={path}")
        stages = j.get("pipeline_stages", [])
        kinds = [next(iter(s)) for s in stages]
        js = next((s["json"] for s in stages if "json" in s), {}) or {}
        for key in ("level", "user", "vm_name", "timestamp"):
            if key not in (js.get("expressions") or {}):
                err(f"promtail-config.yml: {job}: json stage must extract {key}")
        lab = next((s["labels"] for s in stages if "labels" in s), {}) or {}
        if "level" not in lab:
            err(f"promtail-config.yml: {job}: level must be a label")
        ts = next((s["timestamp"] for s in stages if "timestamp" in s), {}) or {}
        if ts.get("source") != "timestamp" or ts.get("format") != "RFC3339":
            err(f"promtail-config.yml: {job}: timestamp stage must parse 'timestamp' as RFC3339")
        if kinds and kinds[0] != "json":
            err(f"promtail-config.yml: {job}: the json stage must come first")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
}

if need python3 python3; then
  check "structure: dashboard, provisioning, Loki/Promtail YAML, metric names, seed alerts" \
    structure
  if command -v promtool >/dev/null 2>&1 && [ -s "$tmp/dashboard-queries.yml" ]; then
    check "promtool parses every dashboard query" \
      promtool check rules "$tmp/dashboard-queries.yml"
  fi
fi

syntax_check_scripts() {
  local script rc=0
  for script in "$deploy"/scripts/noid-healthcheck.sh "$deploy"/scripts/noid-benchmark.sh; do
    bash -n "$script" || rc=1
  done
  return "$rc"
}
check "bash -n scripts/noid-healthcheck.sh scripts/noid-benchmark.sh" syntax_check_scripts

if [ "$failed" -gt 0 ]; then
  echo "check.sh: $failed check(s) FAILED, $passed passed"
  exit 1
fi
echo "check.sh: all $passed checks passed"
