#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks of the deployment files in deploy/ (CTest: deploy_checks, label deploy).

Run:  /usr/bin/python3 tests/deploy/check_deploy.py --source-dir . --work-dir /tmp/deploy-checks

Each check prints PASS or FAIL with every problem it found; the exit status is 1 when any check
fails. Tools: promtool (Debian package prometheus) and go + sprig + yaml.v3 (golang-go,
golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v3-dev) are required and installed by
deploy/install-deps.sh; systemd-analyze (systemd) and kubectl are used when present.

The metric names and labels the dashboard and alerts may use are read from the C++ source that
registers them (sinks/prometheus/metrics.cpp), so a renamed metric breaks this check, not a
dashboard in production.
"""

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import traceback

try:
    import yaml
except ImportError:  # the pyenv python3 on PATH may lack it; Debian's /usr/bin/python3 has it
    sys.exit("check_deploy: PyYAML is missing: install the Debian package python3-yaml "
             "(deploy/install-deps.sh does) and run with /usr/bin/python3")

# The contract of sinks/README.md ("Metrics"): metric -> labels. Used to check that the source
# still registers every metric the dashboard needs, and as the label list when the source cannot
# be parsed.
CONTRACT_METRICS = {
    "internvl_frames_total": ("counter", {"stream"}),
    "internvl_frames_sampled_total": ("counter", {"stream", "task"}),
    "internvl_frames_dropped_total": ("counter", {"stream", "reason"}),
    "internvl_inference_duration_seconds": ("histogram", {"task", "stage"}),
    "internvl_batch_size": ("histogram", {"task"}),
    "internvl_queue_depth": ("gauge", {"task"}),
    "internvl_result_latency_seconds": ("histogram", {"stream", "task"}),
    "internvl_caption_tokens_total": ("counter", set()),
    "internvl_messages_published_total": ("counter", {"sink"}),
    "internvl_publish_errors_total": ("counter", {"sink"}),
    "internvl_stream_up": ("gauge", {"stream"}),
    "internvl_stream_restarts_total": ("counter", {"stream"}),
    "internvl_build_info": ("gauge", {"version", "torch", "device"}),
}
# Series Prometheus itself adds to every scrape, and the target labels it attaches.
BUILTIN_METRICS = {"up": ("gauge", set())}
TARGET_LABELS = {"instance", "job"}

# The service config schema of the deployment contract: every key a deploy config may use.
# None = a scalar (or a ${ENV} string), dict = a nested mapping, [dict] = a list of mappings.
CONFIG_SCHEMA = {
    "model": {"path": None, "device": None, "dtype": None, "batch_size": None,
              "batch_timeout_seconds": None},
    "tasks": {
        "classify": {"enabled": None, "mode": None, "labels": None, "labels_file": None,
                     "top_k": None, "selection_fps": None},
        "caption": {"enabled": None, "selection_fps": None, "num_beams": None},
    },
    "streams": [{"id": None, "uri": None, "decode": None, "decode_frames": None}],
    "outputs": {"zmq": {"endpoint": None}, "jsonl": {"path": None}},
    "http": {"listen": None, "auth_token": None, "allow_unauthenticated": None},
    "supervision": {"stall_timeout_seconds": None, "backoff_initial_seconds": None,
                    "backoff_max_seconds": None, "shutdown_timeout_seconds": None},
    "sharding": {"replicas": None, "ordinal": None},
}
CONFIG_ENUMS = {
    ("model", "device"): r"auto|cpu|cuda|cuda:\d+",
    ("model", "dtype"): r"auto|fp32|bf16|fp16",
    ("streams", "decode"): r"auto|gpu|cpu",
    ("streams", "decode_frames"): r"auto|all|keyframes",
    ("tasks", "classify", "mode"): r"c|g",
}
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")

PROMQL_FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes",
    "clamp", "clamp_max", "clamp_min", "count", "count_over_time", "count_values", "delta",
    "deriv", "exp", "floor", "group", "histogram_quantile", "idelta", "increase", "irate",
    "label_join", "label_replace", "last_over_time", "ln", "log2", "log10", "max",
    "max_over_time", "min", "min_over_time", "predict_linear", "quantile",
    "quantile_over_time", "rate", "resets", "round", "scalar", "sort", "sort_desc", "sqrt",
    "stddev", "stdvar", "sum", "sum_over_time", "time", "timestamp", "topk", "vector",
}
PROMQL_AGGREGATIONS = {"avg", "bottomk", "count", "count_values", "group", "max", "min",
                       "quantile", "stddev", "stdvar", "sum", "topk"}
PROMQL_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}

TOOL_PACKAGES = {
    "go": "golang-go (with golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v3-dev)",
    "promtool": "prometheus",
}


class Failure(Exception):
    """A check found problems; args[0] is the list of messages."""


class Context:
    """Paths and shared facts every check reads."""

    def __init__(self, source_dir, work_dir, streamd):
        self.src = os.path.abspath(source_dir)
        self.deploy = os.path.join(self.src, "deploy")
        self.work = os.path.abspath(work_dir)
        self.streamd = streamd
        self.notes = []
        self.metrics = None
        self.rendered = {}

    def path(self, *parts):
        return os.path.join(self.src, *parts)

    def rel(self, path):
        return os.path.relpath(path, self.src)

    def note(self, message):
        self.notes.append(message)
        print(f"  note: {message}")


def run(cmd, timeout=120, env=None, cwd=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def require_tool(name):
    path = shutil.which(name)
    if not path:
        raise Failure([f"`{name}` not found on PATH: install the Debian package "
                       f"{TOOL_PACKAGES[name]} (deploy/install-deps.sh installs it)"])
    return path


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def port_of(address):
    """'0.0.0.0:8080', 'bind:tcp://*:5555', 'http://x:8080/p' -> 8080 / 5555."""
    m = re.search(r":(\d+)(?:/|$)", str(address))
    return int(m.group(1)) if m else None


def duration_seconds(text):
    """'30s', '1m30s', '2m' -> seconds (compose durations)."""
    total, found = 0.0, False
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(text)):
        total += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
        found = True
    return total if found else None


# ------------------------------------------------------------------------------------------
# Metrics known to the service


def source_metrics(ctx):
    """{name: (type, labels)} parsed from sinks/prometheus/metrics.cpp, plus builtins."""
    if ctx.metrics is not None:
        return ctx.metrics
    path = ctx.path("sinks", "prometheus", "metrics.cpp")
    metrics, members = {}, {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for member, kind, name in re.findall(
                r"(\w+)\(&Build(Counter|Gauge|Histogram|Summary)\(\)\s*"
                r"\.Name\(\"(internvl_\w+)\"\)", text):
            metrics[name] = (kind.lower(), set())
            members[member] = name
        for member, labels in re.findall(r"(\w+)->Add\(\{((?:\s*\{[^{}]*\}\s*,?)*)\s*\}", text):
            if member in members:
                metrics[members[member]][1].update(re.findall(r"\{\s*\"(\w+)\"", labels))
    if not metrics:
        ctx.note(f"{ctx.rel(path)}: no metric registrations found; using the sinks/README.md list")
        metrics = {k: (v[0], set(v[1])) for k, v in CONTRACT_METRICS.items()}
    metrics.update(BUILTIN_METRICS)
    ctx.metrics = metrics
    return metrics


def check_metric_source(ctx):
    metrics = source_metrics(ctx)
    errors = []
    for name, (kind, labels) in CONTRACT_METRICS.items():
        if name not in metrics:
            errors.append(f"{name} (sinks/README.md) is not registered in "
                          "sinks/prometheus/metrics.cpp")
        elif metrics[name][0] != kind or metrics[name][1] != labels:
            errors.append(f"{name}: source has {metrics[name][0]} {sorted(metrics[name][1])}, "
                          f"sinks/README.md says {kind} {sorted(labels)}")
    if errors:
        raise Failure(errors)
    return f"{len(metrics) - len(BUILTIN_METRICS)} metrics registered in the source"


# ------------------------------------------------------------------------------------------
# PromQL


def promql_refs(expr):
    """(metric names, label names used in matchers and grouping) of a PromQL expression."""
    text = re.sub(r"\[[^\]]*\]", " ", expr)              # range selectors / subqueries
    matcher_labels = set()
    for body in re.findall(r"\{([^}]*)\}", text):
        matcher_labels.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", body))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', " ", text)
    metrics, grouping, functions = set(), set(), set()
    tokens = re.findall(r"[a-zA-Z_:][\w:]*|\d+(?:\.\d+)?(?:e[+-]?\d+)?|\S", text)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in PROMQL_GROUPING:
            if nxt == "(":
                j = tokens.index(")", i + 2)
                grouping.update(t for t in tokens[i + 2:j] if t != ",")
                i = j
        elif re.match(r"[a-zA-Z_:]", tok) and tok not in PROMQL_KEYWORDS:
            # "sum by (x) (...)": an aggregation may put its grouping before its argument.
            if nxt == "(" or (tok in PROMQL_AGGREGATIONS and nxt in ("by", "without")):
                functions.add(tok)
            else:
                metrics.add(tok)
        i += 1
    return metrics, matcher_labels | grouping, functions, grouping


def check_promql(ctx, expr, where):
    """Problems with one expression's metric names, labels and functions."""
    known = source_metrics(ctx)
    metrics, labels, functions, grouping = promql_refs(expr)
    errors = []
    allowed = set(TARGET_LABELS) | {"__name__"}
    if not metrics:
        errors.append(f"{where}: no metric in {expr!r}")
    for name in sorted(metrics):
        base, suffix = name, ""
        m = re.fullmatch(r"(.+)_(bucket|sum|count)", name)
        if m and m.group(1) in known and known[m.group(1)][0] == "histogram":
            base, suffix = m.group(1), m.group(2)
        if base not in known:
            errors.append(f"{where}: unknown metric {name!r} in {expr!r}")
            continue
        if known[base][0] == "histogram" and not suffix:
            errors.append(f"{where}: histogram {name} used without _bucket/_sum/_count")
        allowed |= known[base][1]
        if suffix == "bucket":
            allowed.add("le")
    for label in sorted(labels - allowed):
        errors.append(f"{where}: label {label!r} is not a label of {sorted(metrics)}")
    for fn in sorted(functions - PROMQL_FUNCTIONS):
        errors.append(f"{where}: unknown PromQL function {fn!r}")
    if "histogram_quantile" in functions and "le" not in grouping:
        errors.append(f"{where}: histogram_quantile without `le` in the aggregation: {expr!r}")
    return errors


def grafana_to_promql(expr):
    """Replaces Grafana's variables so promtool can parse the expression."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    expr = expr.replace("$__range", "1h")
    return re.sub(r"\$\{?\w+(?::\w+)?\}?", ".*", expr)


def promtool_parse(ctx, exprs, name):
    """Parses expressions with `promtool check rules` (as recording rules); returns errors."""
    rules = {"groups": [{"name": name, "rules": [
        {"record": f"check:expr_{i}", "expr": grafana_to_promql(e)} for i, e in enumerate(exprs)]}]}
    path = os.path.join(ctx.work, f"{name}.rules.yml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(rules, f)
    result = run([require_tool("promtool"), "check", "rules", path])
    if result.returncode != 0:
        return [f"promtool check rules on the {name} expressions ({path}):",
                *(result.stdout + result.stderr).strip().splitlines()]
    return []


# ------------------------------------------------------------------------------------------
# Generic file checks


def check_yaml_parses(ctx):
    files = []
    for base in (ctx.deploy, ctx.path("tests", "deploy")):
        for root, dirs, names in os.walk(base):
            # Chart templates are Go templates, checked after rendering.
            dirs[:] = [d for d in dirs if not (d == "templates" and "helm" in root)]
            files += [os.path.join(root, n) for n in names if n.endswith((".yaml", ".yml"))]
    errors = []
    for path in sorted(files):
        try:
            with open(path, encoding="utf-8") as f:
                list(yaml.safe_load_all(f))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            errors.append(f"{ctx.rel(path)}: {e}")
    if errors:
        raise Failure(errors)
    return f"{len(files)} files"


def check_spdx(ctx):
    errors, count = [], 0
    for base in (ctx.deploy, ctx.path("tests", "deploy")):
        for root, dirs, names in os.walk(base):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for n in names:
                if n.endswith((".json", ".pyc")):
                    continue  # JSON has no comments
                count += 1
                path = os.path.join(root, n)
                with open(path, encoding="utf-8", errors="replace") as f:
                    head = "".join(f.readline() for _ in range(3))
                if "SPDX-License-Identifier: Apache-2.0" not in head:
                    errors.append(f"{ctx.rel(path)}: no SPDX line in the first 3 lines")
    if errors:
        raise Failure(errors)
    return f"{count} files"


# ------------------------------------------------------------------------------------------
# Service configs


def check_config_tree(value, schema, path, errors):
    where = ".".join(path) or "<top>"
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append(f"{where}: expected a mapping, got {type(value).__name__}")
            return
        for key in value:
            if key not in schema:
                errors.append(f"{where}: unknown key {key!r} (allowed: {sorted(schema)})")
            else:
                check_config_tree(value[key], schema[key], path + [key], errors)
    elif isinstance(schema, list):
        if not isinstance(value, list):
            errors.append(f"{where}: expected a list")
            return
        for i, item in enumerate(value):
            check_config_tree(item, schema[0], path + [str(i)], errors)
    else:
        strings = value if isinstance(value, list) else [value]
        for s in strings:
            if isinstance(s, str) and "${" in s and not ENV_REF.search(s):
                errors.append(f"{where}: malformed ${{ENV}} reference in {s!r}")
            if isinstance(s, (dict, list)):
                errors.append(f"{where}: expected a scalar or a list of scalars")
        enum_path = tuple(p for p in path if not p.isdigit())
        pattern = CONFIG_ENUMS.get(enum_path)
        if pattern and isinstance(value, str) and not ENV_REF.search(value) \
                and not re.fullmatch(pattern, value):
            errors.append(f"{where}: {value!r} is not one of {pattern}")


def config_errors(config, name):
    errors = []
    if not isinstance(config, dict):
        return [f"{name}: not a mapping"]
    check_config_tree(config, CONFIG_SCHEMA, [], errors)
    if not (config.get("model") or {}).get("path"):
        errors.append("model.path is required")
    classify = (config.get("tasks") or {}).get("classify") or {}
    if classify.get("enabled") and ("labels" in classify) == ("labels_file" in classify):
        errors.append("tasks.classify needs exactly one of labels and labels_file")
    ids = [s.get("id") for s in config.get("streams") or [] if isinstance(s, dict)]
    for s in config.get("streams") or []:
        if isinstance(s, dict) and not (s.get("id") and s.get("uri")):
            errors.append(f"streams: {s} needs id and uri")
    if len(ids) != len(set(ids)):
        errors.append(f"streams: duplicate ids {ids}")
    sup = config.get("supervision") or {}
    if sup.get("backoff_initial_seconds", 0) > sup.get("backoff_max_seconds", float("inf")):
        errors.append("supervision: backoff_initial_seconds > backoff_max_seconds")
    return [f"{name}: {e}" for e in errors]


def validate_with_streamd(ctx, config_path, errors):
    """`internvl-streamd --validate-config` when the binary was given (--streamd)."""
    if not ctx.streamd:
        return
    env = dict(os.environ, INTERNVL_MODEL_DIR=os.path.join(ctx.work, "no-model"),
               INTERNVL_SHARD_COUNT="1", INTERNVL_SHARD_ORDINAL="0")
    env.pop("INTERNVL_API_TOKEN", None)
    env.pop("INTERNVL_ALLOW_UNAUTHENTICATED", None)
    # Deployments listen on 0.0.0.0: secure by default, they refuse to start without a token.
    refused = run([ctx.streamd, "--validate-config", config_path], env=env)
    if refused.returncode == 0 or "http.allow_unauthenticated" not in refused.stdout + refused.stderr:
        errors.append(f"{ctx.streamd} --validate-config {config_path} without INTERNVL_API_TOKEN "
                      f"did not refuse naming http.allow_unauthenticated (exit {refused.returncode})")
    result = run([ctx.streamd, "--validate-config", config_path],
                 env=dict(env, INTERNVL_API_TOKEN="deploy-check"))
    if result.returncode != 0:
        errors.append(f"{ctx.streamd} --validate-config {config_path} exited "
                      f"{result.returncode}: {(result.stdout + result.stderr).strip()}")


def container_config(ctx):
    return load_yaml(os.path.join(ctx.deploy, "config.container.yaml"))


def check_container_config(ctx):
    path = os.path.join(ctx.deploy, "config.container.yaml")
    config = container_config(ctx)
    errors = config_errors(config, ctx.rel(path))
    listen = (config.get("http") or {}).get("listen", "")
    if not str(listen).startswith("0.0.0.0:"):
        errors.append(f"http.listen {listen!r}: a container must listen on 0.0.0.0")
    if "*" not in str(((config.get("outputs") or {}).get("zmq") or {}).get("endpoint", "")):
        errors.append("outputs.zmq.endpoint must bind to * in a container")
    validate_with_streamd(ctx, path, errors)
    if errors:
        raise Failure(errors)
    return "contract keys only" + ("" if ctx.streamd else "; --streamd not given, "
                                   "internvl-streamd --validate-config not run")


# ------------------------------------------------------------------------------------------
# Compose, Prometheus, Grafana


def compose_mounts(service):
    """[(type, source, target, read_only)] of a compose service (long and short syntax)."""
    mounts = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            mounts.append((v.get("type", "volume"), str(v.get("source", "")), v.get("target"),
                           bool(v.get("read_only"))))
        else:
            parts = str(v).split(":")
            kind = "bind" if parts[0].startswith((".", "/", "$", "~")) else "volume"
            mounts.append((kind, parts[0], parts[1] if len(parts) > 1 else None,
                           len(parts) > 2 and "ro" in parts[2].split(",")))
    return mounts


def compose_container_ports(service):
    ports = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def check_compose(ctx):
    path = os.path.join(ctx.deploy, "compose.yaml")
    compose = load_yaml(path)
    errors = []
    services = compose.get("services") or {}
    for name in ("internvl-streamd", "prometheus", "grafana"):
        if name not in services:
            errors.append(f"service {name!r} missing")
    if errors:
        raise Failure(errors)
    declared_volumes = set((compose.get("volumes") or {}).keys())
    host_paths = {}
    for name, svc in services.items():
        for kind, source, target, _ in compose_mounts(svc):
            if kind == "bind":
                if source.startswith("${"):
                    if ":?" not in source:
                        errors.append(f"{name}: host path {source} should fail when unset "
                                      "(${VAR:?message})")
                    continue
                host = os.path.normpath(os.path.join(ctx.deploy, source))
                if not os.path.exists(host):
                    errors.append(f"{name}: mounted {source} does not exist ({ctx.rel(host)})")
                host_paths[(name, target)] = host
            elif source and source not in declared_volumes:
                errors.append(f"{name}: volume {source!r} is not declared under volumes:")

    svc = services["internvl-streamd"]
    build = svc.get("build") or {}
    context = os.path.normpath(os.path.join(ctx.deploy, build.get("context", ".")))
    if context != ctx.src:
        errors.append(f"build.context {build.get('context')!r} is not the repository root")
    if not os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))):
        errors.append(f"build.dockerfile {build.get('dockerfile')!r} not found in the context")
    config = container_config(ctx)
    http_port = port_of(config["http"]["listen"])
    zmq_port = port_of(config["outputs"]["zmq"]["endpoint"])
    ports = compose_container_ports(svc)
    for port in (http_port, zmq_port):
        if port not in ports:
            errors.append(f"internvl-streamd: container port {port} (from "
                          f"config.container.yaml) not published")
    devices = (((svc.get("deploy") or {}).get("resources") or {}).get("reservations")
               or {}).get("devices") or []
    if not any(d.get("driver") == "nvidia" and "gpu" in (d.get("capabilities") or [])
               for d in devices):
        errors.append("internvl-streamd: no deploy.resources.reservations.devices entry with "
                      "driver nvidia and capability gpu")
    grace = duration_seconds(svc.get("stop_grace_period", "10s"))
    shutdown = config["supervision"]["shutdown_timeout_seconds"]
    if grace is None or grace < max(30, shutdown):
        errors.append(f"internvl-streamd: stop_grace_period {svc.get('stop_grace_period')} "
                      f"< 30 s (shutdown_timeout_seconds {shutdown})")
    mounts = {t: (k, s, ro) for k, s, t, ro in compose_mounts(svc)}
    cfg = mounts.get("/etc/internvl/config.yaml")
    if not cfg or not cfg[2] or os.path.normpath(os.path.join(ctx.deploy, cfg[1])) != \
            os.path.join(ctx.deploy, "config.container.yaml"):
        errors.append("internvl-streamd: deploy/config.container.yaml must be mounted read-only "
                      "at /etc/internvl/config.yaml")
    model_dir = (svc.get("environment") or {}).get("INTERNVL_MODEL_DIR")
    model = mounts.get(model_dir)
    if not model or model[0] != "bind" or not model[2]:
        errors.append(f"internvl-streamd: INTERNVL_MODEL_DIR={model_dir} is not a read-only "
                      "bind mount of the host's model directory")
    command = svc.get("command")
    if command and command != ["--config", "/etc/internvl/config.yaml"]:
        errors.append(f"internvl-streamd: command {command} differs from the image's CMD")

    prom = services["prometheus"]
    prom_config = None
    for arg in prom.get("command") or []:
        if str(arg).startswith("--config.file="):
            prom_config = resolve_in_mounts(prom, str(arg).split("=", 1)[1], ctx)
    if not prom_config or not os.path.isfile(prom_config):
        errors.append("prometheus: --config.file does not resolve to a file in the repository")
    elif os.path.normpath(prom_config) != os.path.join(ctx.deploy, "prometheus", "prometheus.yml"):
        errors.append(f"prometheus: --config.file resolves to {ctx.rel(prom_config)}")
    else:
        targets = [t for job in load_yaml(prom_config).get("scrape_configs", [])
                   for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
        if f"internvl-streamd:{http_port}" not in targets:
            errors.append(f"prometheus.yml does not scrape internvl-streamd:{http_port} "
                          f"(targets: {targets})")

    graf = services["grafana"]
    provider = load_yaml(os.path.join(ctx.deploy, "grafana", "provisioning", "dashboards",
                                      "internvl.yml"))
    dash_dir = provider["providers"][0]["options"]["path"]
    if resolve_in_mounts(graf, dash_dir, ctx) != os.path.join(ctx.deploy, "grafana", "dashboards"):
        errors.append(f"grafana: the dashboard provider path {dash_dir} is not the mount of "
                      "deploy/grafana/dashboards")
    if resolve_in_mounts(graf, "/etc/grafana/provisioning", ctx) != \
            os.path.join(ctx.deploy, "grafana", "provisioning"):
        errors.append("grafana: deploy/grafana/provisioning is not mounted at "
                      "/etc/grafana/provisioning")
    datasource = load_yaml(os.path.join(ctx.deploy, "grafana", "provisioning", "datasources",
                                        "prometheus.yml"))["datasources"][0]
    host = re.sub(r"^\w+://|:\d+.*$", "", datasource["url"])
    if host not in services:
        errors.append(f"grafana datasource url {datasource['url']} names no compose service")
    if errors:
        raise Failure(errors)
    return f"services {sorted(services)}"


def resolve_in_mounts(service, container_path, ctx):
    """Host path (in the repo) of a path inside a compose service's container, or None."""
    best = None
    for kind, source, target, _ in compose_mounts(service):
        if kind != "bind" or source.startswith("${") or not target:
            continue
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[1]):
                best = (source, target)
    if best is None:
        return None
    rest = os.path.relpath(container_path, best[1])
    return os.path.normpath(os.path.join(ctx.deploy, best[0], rest))


def check_prometheus(ctx):
    promtool = require_tool("promtool")
    errors = []
    result = run([promtool, "check", "config",
                  os.path.join(ctx.deploy, "prometheus", "prometheus.yml")])
    if result.returncode != 0:
        errors += ["promtool check config:", *(result.stdout + result.stderr).splitlines()]
    result = run([promtool, "test", "rules", ctx.path("tests", "deploy", "alerts_test.yml")])
    if result.returncode != 0:
        errors += ["promtool test rules:", *(result.stdout + result.stderr).splitlines()]
    alerts = load_yaml(os.path.join(ctx.deploy, "prometheus", "alerts.yml"))
    count = 0
    for group in alerts["groups"]:
        for rule in group["rules"]:
            count += 1
            errors += check_promql(ctx, rule["expr"], f"alerts.yml {rule.get('alert')}")
    if errors:
        raise Failure(errors)
    return f"config + rule files valid, {count} alerts, rule unit tests pass"


DASHBOARD_NEEDS = [
    ("stream up", r"internvl_stream_up\b"),
    ("stream restarts", r"internvl_stream_restarts_total"),
    ("fps = rate(frames_total)", r"rate\(internvl_frames_total\b"),
    ("drops by reason", r"by \([^)]*reason[^)]*\) \(rate\(internvl_frames_dropped_total"),
    ("inference latency p50",
     r"histogram_quantile\(0\.5, .*internvl_inference_duration_seconds_bucket"),
    ("inference latency p95",
     r"histogram_quantile\(0\.95, .*internvl_inference_duration_seconds_bucket"),
    ("batch size", r"internvl_batch_size_(bucket|sum|count)"),
    ("queue depth", r"internvl_queue_depth\b"),
    ("result latency", r"internvl_result_latency_seconds_bucket"),
    ("messages published", r"internvl_messages_published_total"),
    ("publish errors", r"internvl_publish_errors_total"),
    ("alert events", r"internvl_events_total\b"),
    ("alerts active", r"internvl_alert_active\b"),
    ("alert probability", r"internvl_alert_probability\b"),
]


def check_dashboard(ctx):
    path = os.path.join(ctx.deploy, "grafana", "dashboards", "internvl-stream.json")
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    datasource = load_yaml(os.path.join(ctx.deploy, "grafana", "provisioning", "datasources",
                                        "prometheus.yml"))["datasources"][0]
    errors, exprs, ids = [], [], set()
    if not dash.get("uid") or not dash.get("title"):
        errors.append("dashboard needs uid and title")
    for panel in dash.get("panels", []):
        title = panel.get("title", "?")
        if panel.get("id") in ids:
            errors.append(f"panel {title!r}: duplicate id {panel.get('id')}")
        ids.add(panel.get("id"))
        if "gridPos" not in panel:
            errors.append(f"panel {title!r}: no gridPos")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            errors.append(f"panel {title!r}: no queries")
        for t in targets + [panel]:
            uid = (t.get("datasource") or {}).get("uid")
            if uid != datasource["uid"]:
                errors.append(f"panel {title!r}: datasource uid {uid!r} is not the provisioned "
                              f"{datasource['uid']!r}")
        for t in targets:
            errors += check_promql(ctx, t["expr"], f"panel {title!r}")
            exprs.append(t["expr"])
    for var in (dash.get("templating") or {}).get("list", []):
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", str(query))
        if not m:
            errors.append(f"variable {var.get('name')}: unexpected query {query!r}")
        else:
            errors += check_promql(ctx, f'{m.group(1)}{{{m.group(2)}=""}}',
                                   f"variable {var.get('name')}")
    for need, pattern in DASHBOARD_NEEDS:
        if not any(re.search(pattern, e) for e in exprs):
            errors.append(f"no panel shows {need} (/{pattern}/)")
    errors += promtool_parse(ctx, exprs, "dashboard")
    if errors:
        raise Failure(errors)
    return f"{len(exprs)} queries over known metrics and labels, parsed by promtool"


# ------------------------------------------------------------------------------------------
# Helm chart


def build_renderer(ctx):
    go = require_tool("go")
    out = os.path.join(ctx.work, "helm_render")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOFLAGS="",
               GOCACHE=os.path.join(ctx.work, "go-cache"), GOTMPDIR="", CGO_ENABLED="0")
    env.pop("GOROOT", None)
    result = run([go, "build", "-o", out,
                  ctx.path("tests", "deploy", "helm_render", "main.go")], timeout=300, env=env)
    if result.returncode != 0:
        hint = ""
        if "cannot find package" in result.stderr:
            hint = (" (install golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v3-dev;"
                    " deploy/install-deps.sh does)")
        raise Failure([f"go build of tests/deploy/helm_render failed{hint}:",
                       *result.stderr.splitlines()])
    return out


def render_chart(ctx, name, sets, expect_failure=False, values=None):
    """Renders the chart with --set overrides; returns (docs by kind, notes) or the error."""
    out = os.path.join(ctx.work, f"chart-{name}.yaml")
    notes = os.path.join(ctx.work, f"chart-{name}-NOTES.txt")
    cmd = [ctx.renderer, "--chart", os.path.join(ctx.deploy, "helm", "internvl-stream"),
           "--release", "demo", "--namespace", "video", "--output", out, "--notes", notes]
    if values:
        cmd += ["--values", values]
    for s in sets:
        cmd += ["--set", s]
    result = run(cmd, timeout=60)
    if expect_failure:
        return result
    if result.returncode != 0:
        raise Failure([f"rendering the chart ({' '.join(sets)}) failed:",
                       *result.stderr.splitlines()])
    with open(out, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    ctx.rendered[name] = out
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    with open(notes, encoding="utf-8") as f:
        return by_kind, f.read()


def chart_errors(ctx, by_kind, replicas, expect_monitor=False, gpu=True):
    errors = []
    for kind in ("StatefulSet", "Service", "ConfigMap"):
        if len(by_kind.get(kind, [])) != 1:
            errors.append(f"expected one {kind}, got {len(by_kind.get(kind, []))}")
    if errors:
        return errors
    sts, svc, cm = by_kind["StatefulSet"][0], by_kind["Service"][0], by_kind["ConfigMap"][0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    if spec.get("replicas") != replicas:
        errors.append(f"StatefulSet replicas {spec.get('replicas')} != {replicas}")
    if spec.get("serviceName") != svc["metadata"]["name"]:
        errors.append("StatefulSet serviceName is not the headless Service")
    if svc["spec"].get("clusterIP") != "None":
        errors.append("Service is not headless (clusterIP: None)")
    pod_labels = spec["template"]["metadata"]["labels"]
    if spec["selector"]["matchLabels"].items() - pod_labels.items():
        errors.append("StatefulSet selector does not match the pod labels")
    if svc["spec"]["selector"].items() - pod_labels.items():
        errors.append("Service selector does not match the pod labels")
    if pod.get("terminationGracePeriodSeconds") != 30:
        errors.append(f"terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds')}")
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    for name in ("http", "zmq"):
        if name not in ports or name not in svc_ports:
            errors.append(f"port {name} missing from the container or the Service")
        elif svc_ports[name]["targetPort"] not in (name, ports[name]):
            errors.append(f"Service port {name} does not target the container port")
    env = {e["name"]: e for e in container.get("env", [])}
    ordinal = env.get("INTERNVL_SHARD_ORDINAL", {}).get("valueFrom", {}).get("fieldRef", {})
    if ordinal.get("fieldPath") != "metadata.labels['apps.kubernetes.io/pod-index']":
        errors.append(f"INTERNVL_SHARD_ORDINAL is not the pod-index label: {ordinal}")
    count = env.get("INTERNVL_SHARD_COUNT", {}).get("value")
    if count != str(replicas):
        errors.append(f"INTERNVL_SHARD_COUNT {count!r} != {str(replicas)!r}")
    limits = (container.get("resources") or {}).get("limits") or {}
    if gpu and limits.get("nvidia.com/gpu") != 1:
        errors.append(f"resources.limits nvidia.com/gpu is {limits.get('nvidia.com/gpu')!r}, not 1")
    if not gpu and "nvidia.com/gpu" in limits:
        errors.append("gpu.enabled=false still requests nvidia.com/gpu")
    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"),
                        ("startupProbe", "/health/live")):
        get = (container.get(probe) or {}).get("httpGet") or {}
        port = ports.get(get.get("port"), get.get("port"))
        if get.get("path") != path or port != ports.get("http"):
            errors.append(f"{probe}: {get} is not GET {path} on the http port")
    if container.get("args") != ["--config", "/etc/internvl/config.yaml"]:
        errors.append(f"args {container.get('args')}")
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claim_templates = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    for m in mounts.values():
        if m["name"] not in volumes and m["name"] not in claim_templates:
            errors.append(f"volumeMount {m['name']} has no volume")
    cfg_mount = mounts.get("/etc/internvl")
    if not cfg_mount or volumes.get(cfg_mount["name"], {}).get("configMap", {}).get("name") \
            != cm["metadata"]["name"]:
        errors.append("the ConfigMap is not mounted at /etc/internvl")
    model_dir = env.get("INTERNVL_MODEL_DIR", {}).get("value")
    if not mounts.get(model_dir, {}).get("readOnly"):
        errors.append(f"INTERNVL_MODEL_DIR {model_dir} is not a read-only volume mount")
    annotations = spec["template"]["metadata"].get("annotations") or {}
    if annotations.get("prometheus.io/scrape") != "true" or \
            annotations.get("prometheus.io/port") != str(ports.get("http")) or \
            annotations.get("prometheus.io/path") != "/metrics":
        errors.append(f"prometheus.io annotations wrong: {annotations}")
    if "checksum/config" not in annotations:
        errors.append("no checksum/config annotation (pods would not restart on config change)")
    uid = pod.get("securityContext", {}).get("runAsUser")
    if uid != dockerfile_uid(ctx):
        errors.append(f"runAsUser {uid} is not the image's user {dockerfile_uid(ctx)}")

    config = yaml.safe_load(cm["data"]["config.yaml"])
    errors += config_errors(config, "ConfigMap config.yaml")
    if port_of(config["http"]["listen"]) != ports.get("http") or \
            not config["http"]["listen"].startswith("0.0.0.0:"):
        errors.append(f"config http.listen {config['http']['listen']} != 0.0.0.0:<http port>")
    if port_of(config["outputs"]["zmq"]["endpoint"]) != ports.get("zmq"):
        errors.append("config outputs.zmq.endpoint does not bind the zmq port")
    if config.get("sharding") != {"replicas": "${INTERNVL_SHARD_COUNT}",
                                  "ordinal": "${INTERNVL_SHARD_ORDINAL}"}:
        errors.append(f"config sharding {config.get('sharding')} does not read the env vars")
    if config["model"]["path"] != "${INTERNVL_MODEL_DIR}":
        errors.append(f"config model.path {config['model']['path']}")

    monitors = by_kind.get("ServiceMonitor", [])
    if expect_monitor:
        if len(monitors) != 1:
            errors.append("metrics.serviceMonitor.enabled=true rendered no ServiceMonitor")
        else:
            mon = monitors[0]["spec"]
            if mon["selector"]["matchLabels"].items() - svc["metadata"]["labels"].items():
                errors.append("ServiceMonitor selector does not match the Service labels")
            if not any(e.get("port") == "http" and e.get("path") == "/metrics"
                       for e in mon["endpoints"]):
                errors.append("ServiceMonitor does not scrape http /metrics")
    elif monitors:
        errors.append("a ServiceMonitor is rendered although it is off by default")
    return errors


def dockerfile_uid(ctx):
    with open(os.path.join(ctx.deploy, "Dockerfile"), encoding="utf-8") as f:
        m = re.search(r"useradd\b[^\n]*--uid (\d+)", f.read())
    return int(m.group(1)) if m else None


def check_helm(ctx):
    ctx.renderer = build_renderer(ctx)
    errors = []
    chart = load_yaml(os.path.join(ctx.deploy, "helm", "internvl-stream", "Chart.yaml"))
    with open(ctx.path("CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(\s*\w+\s+VERSION\s+([\d.]+)", f.read())
    if m and str(chart.get("appVersion")) != m.group(1):
        errors.append(f"Chart appVersion {chart.get('appVersion')} != project VERSION {m.group(1)}")

    by_kind, notes = render_chart(ctx, "default", ["model.hostPath=/srv/models/internvl"])
    errors += [f"default values: {e}" for e in chart_errors(ctx, by_kind, 1)]
    if by_kind.get("ConfigMap"):
        rendered_config = os.path.join(ctx.work, "chart-default-config.yaml")
        with open(rendered_config, "w", encoding="utf-8") as f:
            f.write(by_kind["ConfigMap"][0]["data"]["config.yaml"])
        validate_with_streamd(ctx, rendered_config, errors)
    by_kind, notes = render_chart(ctx, "replicas3", [
        "replicaCount=3", "model.existingClaim=internvl-models",
        "metrics.serviceMonitor.enabled=true", "results.persistence.enabled=true"])
    errors += [f"replicaCount=3: {e}" for e in chart_errors(ctx, by_kind, 3, expect_monitor=True)]
    sts = by_kind["StatefulSet"][0]["spec"]
    if [t["metadata"]["name"] for t in sts.get("volumeClaimTemplates", [])] != ["state"]:
        errors.append("replicaCount=3: results.persistence.enabled rendered no 'state' claim")
    model_vol = [v for v in sts["template"]["spec"]["volumes"] if v["name"] == "model"]
    if not model_vol or model_vol[0].get("persistentVolumeClaim", {}).get("claimName") \
            != "internvl-models":
        errors.append("replicaCount=3: model.existingClaim is not the model volume")
    if notes.count(":5555") != 3:
        errors.append("replicaCount=3: NOTES.txt does not list 3 ZeroMQ endpoints")
    by_kind, _ = render_chart(ctx, "cpu", ["model.hostPath=/m", "gpu.enabled=false"])
    errors += [f"gpu.enabled=false: {e}" for e in chart_errors(ctx, by_kind, 1, gpu=False)]
    errors += [f"helm-values-full.yaml: {e}" for e in full_values_errors(ctx)]

    # The chart's own guards must reject bad values with a message naming the key.
    for sets, needle in ((["replicaCount=2"], "model.existingClaim"),
                         (["model.hostPath=/m", "model.existingClaim=x"], "only one of"),
                         (["model.hostPath=/m", "config.model.path=/x"], "config.model.path"),
                         (["model.hostPath=/m", "config.sharding.replicas=2"], "config.sharding")):
        result = render_chart(ctx, "guard", sets, expect_failure=True)
        if result.returncode == 0 or needle not in result.stderr:
            errors.append(f"--set {' '.join(sets)} should fail mentioning {needle!r}; got rc "
                          f"{result.returncode}: {result.stderr.strip()}")
    if errors:
        raise Failure(errors)
    kubectl_dry_run(ctx)
    return ("default, replicaCount=3 (+ServiceMonitor, PVCs), gpu off, every optional branch, "
            "4 rejected value sets")


def full_values_errors(ctx):
    """Every optional branch of the chart at once (tests/deploy/helm-values-full.yaml)."""
    by_kind, _ = render_chart(ctx, "full", [],
                              values=ctx.path("tests", "deploy", "helm-values-full.yaml"))
    errors = chart_errors(ctx, by_kind, 2, expect_monitor=True)
    if errors:
        return errors
    cm = by_kind["ConfigMap"][0]
    config = yaml.safe_load(cm["data"]["config.yaml"])
    if "kinetics400.txt" not in cm["data"]:
        errors.append("configFiles did not add kinetics400.txt to the ConfigMap")
    classify = config["tasks"]["classify"]
    if classify.get("labels_file") != "kinetics400.txt" or "labels" in classify:
        errors.append(f"a null in values did not remove tasks.classify.labels: {classify}")
    pod = by_kind["StatefulSet"][0]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    if container["image"] != "registry.example/internvl-stream:0.1.0-cuda":
        errors.append(f"image {container['image']}")
    env = {e["name"]: e for e in container["env"]}
    token = env.get("INTERNVL_API_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {})
    if token != {"name": "internvl-api", "key": "token"} or "GST_DEBUG" not in env:
        errors.append("apiToken.existingSecret / extraEnv not rendered into env")
    model = [m for m in container["volumeMounts"] if m["name"] == "model"]
    if not model or model[0].get("subPath") != "InternVL-14B-224px":
        errors.append("model.subPath not on the model mount")
    for key in ("tolerations", "nodeSelector", "affinity", "imagePullSecrets"):
        if not pod.get(key):
            errors.append(f"{key} not rendered")
    if pod.get("runtimeClassName") != "nvidia":
        errors.append("runtimeClassName not rendered")
    monitor = by_kind["ServiceMonitor"][0]["metadata"]["labels"]
    if monitor.get("release") != "kube-prometheus-stack":
        errors.append("metrics.serviceMonitor.labels not on the ServiceMonitor")
    return errors


def kubectl_dry_run(ctx):
    """Client-side dry run when kubectl exists; informative only (it wants an API server)."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        ctx.note("kubectl not on PATH: client-side dry run skipped")
        return
    # An empty kubeconfig: never talk to whatever cluster the user's kubeconfig points at.
    kubeconfig = os.path.join(ctx.work, "kubeconfig-empty")
    with open(kubeconfig, "w", encoding="utf-8") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters:\n"
                "- name: none\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                "contexts:\n- name: none\n  context: {cluster: none, user: none}\n"
                "current-context: none\nusers:\n- name: none\n  user: {token: none}\n")
    env = dict(os.environ, KUBECONFIG=kubeconfig)
    try:
        result = run([kubectl, "apply", "--dry-run=client", "--validate=false",
                      "--request-timeout=5s", "-f", ctx.rendered["replicas3"]], timeout=30, env=env)
    except subprocess.TimeoutExpired:
        ctx.note("kubectl apply --dry-run=client timed out (no cluster); not a failure")
        return
    output = result.stdout + result.stderr
    if result.returncode == 0 and "(dry run)" in output and "unable to" not in output:
        ctx.note("kubectl apply --dry-run=client accepted the rendered chart")
    else:
        last = output.strip().splitlines()[-1:]
        ctx.note("kubectl apply --dry-run=client could not run without a cluster (not a "
                 f"failure): {last[0][:200] if last else 'no output'}")


# ------------------------------------------------------------------------------------------
# Dockerfile


def parse_dockerfile(text):
    """[(line, INSTRUCTION, arguments)] with continuations joined and comments dropped."""
    out, buf, start = [], "", None
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if start is None:
            start = lineno
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        keyword, _, rest = buf.partition(" ")
        out.append((start, keyword.upper(), rest.strip()))
        buf, start = "", None
    return out


def shell_segments(command):
    """Simple commands of a RUN line (split on && || ; |), each as a token list."""
    segments = []
    for part in re.split(r"&&|\|\||;|\|", command):
        try:
            tokens = shlex.split(part)
        except ValueError:
            tokens = part.split()
        while tokens and re.fullmatch(r"\w+=\S*", tokens[0]):  # VAR=value prefixes
            tokens = tokens[1:]
        if tokens:
            segments.append(tokens)
    return segments


def substitute(text, args):
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), text)


def makefile_commands(ctx):
    """The cmake configure / build command lines of the Makefile, variables substituted."""
    with open(ctx.path("Makefile"), encoding="utf-8") as f:
        text = f.read()
    defaults = dict(re.findall(r"^(\w+)\s*\?=\s*(.*)$", text, re.M))
    defaults["CMAKE_ARGS"] = ""
    commands = {}
    for target in ("configure", "build"):
        m = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M)
        if m:
            line = m.group(1).strip()
            line = re.sub(r"\$\((\w+)\)", lambda v: defaults.get(v.group(1), v.group(0)), line)
            commands[target] = shlex.split(line)
    return commands


def cmake_cache_names(ctx):
    """option() and CACHE variables declared by the project."""
    names = set()
    for root, dirs, files in os.walk(ctx.src):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build", "out"))]
        for n in files:
            if n == "CMakeLists.txt" or n.endswith(".cmake"):
                with open(os.path.join(root, n), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                names.update(re.findall(r"\boption\(\s*(\w+)", text))
                names.update(re.findall(r"\bset\(\s*(\w+)[^)]*\bCACHE\b", text))
    return names


def project_installs_streamd(ctx):
    """(declared, installed) for the internvl-streamd executable in the project's CMake."""
    declared = installed = False
    for root, dirs, files in os.walk(ctx.src):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build", "out"))]
        if "CMakeLists.txt" in files:
            with open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8") as f:
                text = f.read()
            declared |= bool(re.search(r"add_executable\(\s*internvl-streamd\b", text))
            installed |= bool(re.search(r"install\(\s*TARGETS[^)]*\binternvl-streamd\b", text))
    return declared, installed


def ignored_by(patterns, path):
    for p in patterns:
        p = p.strip("/")
        variants = {p, p.replace("**/", "")}
        parts = path.split("/")
        for v in variants:
            for i in range(1, len(parts) + 1):
                if fnmatch.fnmatchcase("/".join(parts[:i]), v):
                    return True
    return False


def apt_packages_existing(names):
    """The subset of names that are real packages in the apt archive (one apt-cache call)."""
    result = run(["apt-cache", "show", "--no-all-versions", *names], timeout=120)
    return set(re.findall(r"^Package: (\S+)$", result.stdout, re.M))


def install_deps_packages(ctx):
    with open(os.path.join(ctx.deploy, "install-deps.sh"), encoding="utf-8") as f:
        m = re.search(r"^packages=\((.*?)^\)", f.read(), re.S | re.M)
    body = re.sub(r"#.*", "", m.group(1)) if m else ""
    return body.split()


def check_dockerfile(ctx):
    path = os.path.join(ctx.deploy, "Dockerfile")
    with open(path, encoding="utf-8") as f:
        instructions = parse_dockerfile(f.read())
    errors = []
    global_args, stage_args, stage, stages, stage_images = {}, {}, None, [], {}
    apt, nvidia, copies, cmake_runs, runs_by_stage = [], [], [], [], {}
    final = {}
    keyring_in_stage = set()
    for line, keyword, rest in instructions:
        where = f"Dockerfile:{line}"
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            (stage_args if stage else global_args)[name] = default.strip('"')
        elif keyword == "FROM":
            m = re.fullmatch(r"(?:--\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            image, name = m.group(1), m.group(2)
            image = substitute(image, global_args)
            stage = name or f"stage{len(stages)}"
            stages.append(stage)
            stage_images[stage] = image
            stage_args = {}
            final = {}
            if image not in stages and not re.fullmatch(r"debian:(12|bookworm)(-slim)?", image):
                errors.append(f"{where}: base {image} is not Debian 12 (GStreamer 1.22 and the "
                              "packages of install-deps.sh)")
        elif keyword == "RUN":
            args = dict(global_args, **stage_args)
            for mount in re.findall(r"--mount=(\S+)", rest):
                opts = dict(o.partition("=")[::2] for o in mount.split(","))
                if opts.get("type") == "bind" and "from" not in opts:
                    copies.append((where, opts.get("source", "."), opts.get("target")))
            command = re.sub(r"^(--\S+\s+)+", "", rest)
            runs_by_stage.setdefault(stage, []).append(command)
            if "cuda-keyring" in command:
                keyring_in_stage.add(stage)
            for tokens in shell_segments(command):
                if "apt-get" in tokens:
                    i = tokens.index("apt-get")
                    verb = next((t for t in tokens[i + 1:] if not t.startswith("-")), None)
                    if verb in ("install", "purge", "remove"):
                        j = tokens.index(verb, i + 1)
                        for pkg in tokens[j + 1:]:
                            if pkg.startswith("-") or pkg.startswith("$("):
                                continue
                            pkg = substitute(pkg, args)
                            if stage in keyring_in_stage and \
                                    re.match(r"(cuda|libcu|libnv|nvidia)", pkg):
                                nvidia.append(pkg)
                            else:
                                apt.append((where, pkg))
                if tokens[0] == "cmake":
                    cmake_runs.append((where, [substitute(t, args) for t in tokens]))
        elif keyword in ("COPY", "ADD"):
            try:
                parts = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            except ValueError:
                parts = rest.split()
            flags = [p for p in parts if p.startswith("--")]
            paths = [p for p in parts if not p.startswith("--")]
            if any(f.startswith("--from=") for f in flags):
                if keyword == "COPY":
                    final.setdefault("copies_from", []).append(paths)
                continue
            for src in paths[:-1]:
                if re.match(r"https?://", src):
                    if not src.startswith("https://"):
                        errors.append(f"{where}: {src} is not https")
                    continue
                copies.append((where, src, paths[-1]))
                final.setdefault("copies", []).append((src, paths[-1]))
        elif keyword in ("ENTRYPOINT", "CMD", "USER", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL"):
            final[keyword] = rest

    # Stages and the variant switch.
    variant = global_args.get("TORCH_VARIANT")
    if variant not in ("cuda", "cpu") or not {"torch-cuda", "torch-cpu"} <= set(stages):
        errors.append("ARG TORCH_VARIANT (cuda|cpu) and stages torch-cuda/torch-cpu expected")
    if "torch-${TORCH_VARIANT}" not in stage_images.values() and \
            f"torch-{variant}" not in stage_images.values():
        errors.append("no stage is built FROM torch-${TORCH_VARIANT}")

    # Packages: every name the build installs must exist in Debian 12's archive.
    deps = install_deps_packages(ctx)
    if not deps:
        errors.append("no packages=(...) list found in deploy/install-deps.sh")
    names = sorted({p for _, p in apt} | set(deps))
    existing = apt_packages_existing(names)
    missing = [n for n in names if n not in existing]
    for n in missing:
        origin = "install-deps.sh" if n in deps else \
            ", ".join(w for w, p in apt if p == n)
        errors.append(f"{origin}: package {n!r} does not exist (apt-cache show)")
    if nvidia:
        ctx.note("NVIDIA repository packages not checkable offline: "
                 + " ".join(sorted(set(nvidia))))

    # COPY sources exist and are not excluded by the Dockerfile's ignore file.
    ignore_path = path + ".dockerignore"
    patterns = []
    if os.path.exists(ignore_path):
        with open(ignore_path, encoding="utf-8") as f:
            patterns = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    else:
        errors.append("deploy/Dockerfile.dockerignore missing (the context would include build/)")
    for where, src, _ in copies:
        if not os.path.exists(ctx.path(src)):
            errors.append(f"{where}: COPY source {src} does not exist in the repository")
        elif src != "." and ignored_by(patterns, os.path.normpath(src)):
            errors.append(f"{where}: COPY source {src} is excluded by Dockerfile.dockerignore")
    for needed in ("CMakeLists.txt", "model", "sinks", "pipeline", "plugins", "cmake", "deploy",
                   "configs"):
        if ignored_by(patterns, needed):
            errors.append(f"Dockerfile.dockerignore excludes {needed}, which the build needs")
    for junk in ("build", "build-foo", ".git"):
        if not ignored_by(patterns, junk):
            errors.append(f"Dockerfile.dockerignore does not exclude {junk}")

    # deploy/install-deps.sh is copied and run (not a second package list).
    if not any(src == "deploy/install-deps.sh" for _, src, _ in copies) or not any(
            "install-deps.sh" in c for cmds in runs_by_stage.values() for c in cmds):
        errors.append("deploy/install-deps.sh is not COPYed and RUN")

    # The project's build: the Makefile's cmake configure/build, plus known cache variables.
    make = makefile_commands(ctx)
    configure = [t for w, t in cmake_runs if "-S" in t]
    builds = [t for w, t in cmake_runs if "--build" in t]
    installs = [t for w, t in cmake_runs if "--install" in t]
    if not configure or not builds or not installs:
        errors.append("expected cmake configure, --build and --install commands")
    else:
        want = make.get("configure", [])
        got = configure[0]
        if got[:len(want)] != want:
            errors.append(f"configure {' '.join(got)} does not start with the Makefile's "
                          f"{' '.join(want)}")
        known = cmake_cache_names(ctx)
        extra = got[len(want):] if got[:len(want)] == want else [t for t in got if t not in want]
        for tok in extra:
            for name in re.findall(r"-D(\w+)", tok):
                if not name.startswith("CMAKE_") and name not in known:
                    errors.append(f"configure sets -D{name}, which the project does not declare")
            if not re.search(r"-D\w+", tok):
                errors.append(f"configure: unexpected argument {tok!r}")
        build_dir = want[want.index("-B") + 1] if "-B" in want else "build"
        make_build = make.get("build", [])
        if builds[0][:3] != make_build[:3] or builds[0][2] != build_dir:
            errors.append(f"build {' '.join(builds[0])} differs from the Makefile's "
                          f"{' '.join(make_build)}")
        if installs[0][:3] != ["cmake", "--install", build_dir]:
            errors.append(f"install {' '.join(installs[0])} is not cmake --install {build_dir}")
    declared, installed = project_installs_streamd(ctx)
    if declared and not installed:
        errors.append("the project declares internvl-streamd but has no install(TARGETS "
                      "internvl-streamd ...): `cmake --install` would not install the ENTRYPOINT")
    if not declared:
        ctx.note("internvl-streamd is not declared in the CMake tree yet: its install rule is "
                 "checked once it is")

    # Runtime stage: entrypoint, ports, user, health check, config.
    config = container_config(ctx)
    http_port = port_of(config["http"]["listen"])
    zmq_port = port_of(config["outputs"]["zmq"]["endpoint"])
    if not stages or not stage_images[stages[-1]].startswith("debian:"):
        errors.append("the last stage should be the runtime image, FROM debian:12(-slim)")
    try:
        entry = json.loads(final.get("ENTRYPOINT", "null"))
        cmd = json.loads(final.get("CMD", "null"))
    except ValueError:
        entry = cmd = None
    if entry != ["internvl-streamd"]:
        errors.append(f"ENTRYPOINT {final.get('ENTRYPOINT')} is not [\"internvl-streamd\"]")
    if cmd != ["--config", "/etc/internvl/config.yaml"]:
        errors.append(f"CMD {final.get('CMD')} is not --config /etc/internvl/config.yaml")
    if not any(dst == "/etc/internvl/config.yaml" for _, dst in final.get("copies", [])):
        errors.append("the runtime stage does not COPY a config to /etc/internvl/config.yaml")
    exposed = {int(p.split("/")[0]) for p in final.get("EXPOSE", "").split()}
    if {http_port, zmq_port} - exposed:
        errors.append(f"EXPOSE {final.get('EXPOSE')} lacks {http_port} and/or {zmq_port}")
    user = final.get("USER", "root").split(":")[0]
    if user in ("root", "0") or not user.isdigit() or int(user) != dockerfile_uid(ctx):
        errors.append(f"USER {final.get('USER')} is not the numeric non-root user created by "
                      "useradd")
    health = final.get("HEALTHCHECK", "")
    m = re.search(r"CMD\s+(\[.*\])", health)
    tool = json.loads(m.group(1))[0] if m else None
    runtime_start = last_from_line(instructions)
    runtime_pkgs = {p for w, p in apt if int(w.split(":")[1]) > runtime_start}
    m = re.search(r"https?://[^/\s\"]+:(\d+)/health/live", health)
    if not m or int(m.group(1)) != http_port:
        errors.append(f"HEALTHCHECK {health!r} does not GET /health/live on port {http_port}")
    if tool and tool not in runtime_pkgs and tool != "internvl-streamd":
        errors.append(f"HEALTHCHECK uses {tool}, which the runtime stage does not install")
    if final.get("STOPSIGNAL", "SIGTERM") != "SIGTERM":
        errors.append("STOPSIGNAL must be SIGTERM (graceful shutdown)")

    errors += check_runtime_packages_script(ctx)
    if errors:
        raise Failure(errors)
    return (f"{len(stages)} stages, {len(names)} Debian package names exist, "
            f"{len(copies)} COPY sources, cmake = Makefile")


def last_from_line(instructions):
    return max(line for line, keyword, _ in instructions if keyword == "FROM")


def check_runtime_packages_script(ctx):
    script = os.path.join(ctx.deploy, "docker", "runtime-packages.sh")
    errors = []
    result = run(["bash", "-n", script])
    if result.returncode != 0:
        return [f"bash -n {ctx.rel(script)}: {result.stderr.strip()}"]
    python = os.path.realpath(sys.executable)
    result = run(["bash", script, python], timeout=120)
    if result.returncode != 0 or "libc6" not in result.stdout.split():
        errors.append(f"runtime-packages.sh {python}: rc {result.returncode}, expected libc6 in "
                      f"{result.stdout.split()} {result.stderr.strip()}")
    result = run(["bash", script, os.path.join(ctx.work, "does-not-exist")])
    if result.returncode == 0:
        errors.append("runtime-packages.sh accepts a missing file")
    return errors


# ------------------------------------------------------------------------------------------
# systemd


def parse_unit(path):
    """{section: {key: [values]}} of a systemd unit file."""
    sections, current = {}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
            elif "=" in line and current is not None:
                key, value = line.split("=", 1)
                current.setdefault(key.strip(), []).append(value.strip())
            else:
                raise Failure([f"{path}: cannot parse {raw.rstrip()!r}"])
    return sections


def check_systemd(ctx):
    path = os.path.join(ctx.deploy, "systemd", "internvl-streamd.service")
    unit = parse_unit(path)
    errors = []
    service = unit.get("Service", {})

    def one(section, key):
        values = unit.get(section, {}).get(key, [])
        return values[-1] if values else None

    expectations = [
        ("Unit", "Description", lambda v: bool(v)),
        ("Service", "Type", lambda v: v == "simple"),
        ("Service", "ExecStart", lambda v: v and v.split()[0] == "/usr/local/bin/internvl-streamd"
         and "--config /etc/internvl/config.yaml" in v),
        ("Service", "KillSignal", lambda v: v == "SIGTERM"),
        ("Service", "TimeoutStopSec", lambda v: v and duration_seconds(v if not v.isdigit()
                                                                      else v + "s") >= 30),
        ("Service", "Restart", lambda v: v == "on-failure"),
        ("Service", "ProtectSystem", lambda v: v == "strict"),
        ("Service", "NoNewPrivileges", lambda v: v == "yes"),
        ("Install", "WantedBy", lambda v: v == "multi-user.target"),
    ]
    for section, key, ok in expectations:
        value = one(section, key)
        if not ok(value):
            errors.append(f"[{section}] {key}={value!r} is not what the service needs")
    if not (one("Service", "DynamicUser") == "yes" or one("Service", "User")):
        errors.append("[Service] needs DynamicUser=yes or User=")
    if not (service.get("StateDirectory") or service.get("ReadWritePaths")):
        errors.append("[Service] needs StateDirectory= or ReadWritePaths= for results.jsonl")
    if one("Service", "PrivateDevices") == "yes":
        errors.append("[Service] PrivateDevices=yes hides /dev/nvidia*")
    env_files = service.get("EnvironmentFile", [])
    if any(not f.startswith("-") for f in env_files):
        errors.append("EnvironmentFile must be optional (prefix '-')")
    method = "INI keys"

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        ctx.note("systemd-analyze not found (Debian package systemd): only the INI keys were "
                 "checked")
    else:
        # verify checks that ExecStart's binary exists: point a copy at an executable stub.
        stub_dir = os.path.join(ctx.work, "systemd")
        os.makedirs(stub_dir, exist_ok=True)
        stub = os.path.join(stub_dir, "internvl-streamd")
        with open(stub, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(stub, 0o755)
        copy = os.path.join(stub_dir, "internvl-streamd.service")
        with open(path, encoding="utf-8") as f:
            text = f.read().replace("/usr/local/bin/internvl-streamd", stub)
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text)
        result = run([analyze, "verify", "--man=no", copy], timeout=60)
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0 or output:
            errors += [f"systemd-analyze verify (rc {result.returncode}):", *output.splitlines()]
        result = run([analyze, "security", "--offline=yes", "--threshold=40", copy], timeout=60)
        if result.returncode != 0:
            score = re.findall(r"Overall exposure level.*", result.stdout)
            errors.append(f"systemd-analyze security: exposure above 4.0: {score}")
        method = "INI keys + systemd-analyze verify + security --offline (<= 4.0)"
    if errors:
        raise Failure(errors)
    return method


# ------------------------------------------------------------------------------------------
# README


def check_readme(ctx):
    path = os.path.join(ctx.deploy, "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    errors = []
    refs = set(re.findall(r"\b((?:deploy|tests/deploy|configs)/[\w./-]*[\w/])", text))
    for ref in sorted(refs):
        if not os.path.exists(ctx.path(ref)):
            errors.append(f"README.md mentions {ref}, which does not exist")
    for needed in ("deploy/Dockerfile", "deploy/compose.yaml", "deploy/helm/internvl-stream",
                   "deploy/systemd/internvl-streamd.service", "tests/deploy/check_deploy.py"):
        if needed not in text:
            errors.append(f"README.md does not explain {needed}")
    if errors:
        raise Failure(errors)
    return f"{len(refs)} paths exist"


CHECKS = [
    ("SPDX headers", check_spdx),
    ("YAML files parse", check_yaml_parses),
    ("metrics in the source match sinks/README.md", check_metric_source),
    ("container config (contract keys)", check_container_config),
    ("compose file", check_compose),
    ("Prometheus config, alerts and their unit tests (promtool)", check_prometheus),
    ("Grafana dashboard queries", check_dashboard),
    ("Helm chart rendered without helm", check_helm),
    ("Dockerfile", check_dockerfile),
    ("systemd unit", check_systemd),
    ("deploy/README.md", check_readme),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True, help="repository root")
    parser.add_argument("--work-dir", required=True, help="scratch directory (created)")
    parser.add_argument("--streamd", help="internvl-streamd binary: also run --validate-config "
                        "on the deploy configs")
    parser.add_argument("--only", help="run only the checks whose name contains this text")
    args = parser.parse_args()
    ctx = Context(args.source_dir, args.work_dir, args.streamd)
    os.makedirs(ctx.work, exist_ok=True)
    started = time.monotonic()
    failed, ran = [], 0
    for name, check in CHECKS:
        if args.only and args.only.lower() not in name.lower():
            continue
        ran += 1
        t0 = time.monotonic()
        print(f"[ RUN  ] {name}", flush=True)
        try:
            summary = check(ctx)
            print(f"[ PASS ] {name}: {summary} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Failure as e:
            failed.append(name)
            print(f"[ FAIL ] {name} ({time.monotonic() - t0:.1f} s)")
            for line in e.args[0]:
                print(f"    {line}")
        except Exception:  # a crash in a check is a failure with its traceback, not a pass
            failed.append(name)
            print(f"[ FAIL ] {name}: the check crashed")
            print("    " + traceback.format_exc().replace("\n", "\n    "))
        sys.stdout.flush()
    print(f"\n{ran - len(failed)} passed, {len(failed)} failed in "
          f"{time.monotonic() - started:.1f} s (work dir {ctx.work})")
    for name in failed:
        print(f"  FAILED: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
