"""Deployment files: compose stack, image, Prometheus rules, Grafana dashboard.

No Docker engine is needed. External checkers (Debian packages
`docker-compose` 1.29 and `prometheus` for promtool) are used when present;
without them those tests skip, except under CI (`CI=true`), where a missing
checker is a failure.

Every PromQL expression of the dashboard and of the rules is parsed, and each
metric it names must be one the worker really exports (read from
`streams.metrics.REGISTRY`), a notifier or process metric listed below, `up`,
or a recording rule: a misspelt metric name fails here instead of drawing an
empty panel or an alert that can never fire.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROM_DIR = ROOT / "deploy" / "prometheus"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
RULES_DIR = PROM_DIR / "rules"
PROM_TESTS_DIR = PROM_DIR / "tests"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "wardwatch.json"
CREATE_TOPICS = ROOT / "deploy" / "kafka" / "create-topics.sh"
CLI = ROOT / "streams" / "cli" / "__init__.py"
DOC_FILES = (ROOT / "docs" / "operations.md", ROOT / "README.md")

# Subcommands of the `wardwatch` console script, used when streams/cli/ is
# absent or its subcommands cannot be read from it.
KNOWN_SUBCOMMANDS = frozenset({"broker", "worker", "simulate", "alerts", "ack", "notify", "demo", "bench", "evaluate"})

# Metrics not in streams.metrics.REGISTRY that the stack may still query:
# the notifier's (`wardwatch notify`, its own registry in
# streams/notify/metrics.py and port 9109; these two are used when that
# module is absent) and the process collector's per-worker CPU and RSS.
# name -> label names.
NOTIFY_METRICS = {
    "wardwatch_notify_deliveries_total": {"channel", "outcome"},
    "wardwatch_notify_delivery_seconds_bucket": {"channel", "le"},
    "wardwatch_notify_delivery_seconds_sum": {"channel"},
    "wardwatch_notify_delivery_seconds_count": {"channel"},
}
PROCESS_METRICS = {
    "process_cpu_seconds_total": set(),
    "process_resident_memory_bytes": set(),
}
# Labels Prometheus itself attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}

WARDWATCH_SERVICES_REQUIRED = {"worker-1", "worker-2", "simulator", "notify"}
SERVICES_REQUIRED = WARDWATCH_SERVICES_REQUIRED | {
    "kafka",
    "kafka-init",
    "prometheus",
    "alertmanager",
    "grafana",
}

ENV_VAR = re.compile(r"\bWARDWATCH_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


# --------------------------------------------------------------------------
# helpers


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _tool(name: str) -> str:
    """Path of an external checker; skip without it, except under CI."""
    path = shutil.which(name)
    if path is None:
        hint = "apt-get install -y docker-compose prometheus"
        if _ci():
            pytest.fail(f"`{name}` is not on PATH but CI=true: the CI image must provide it ({hint})")
        pytest.skip(f"`{name}` is not installed ({hint}); under CI=true this is a failure")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        f"`{shlex.join(args)}` exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


def _yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _with_defaults(node):
    """Compose interpolation with every variable unset: `${X:-d}` -> d, `${X}` -> ''."""
    if isinstance(node, dict):
        return {k: _with_defaults(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_defaults(v) for v in node]
    if isinstance(node, str):
        return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", node)
    return node


@cache
def compose() -> dict:
    """docker-compose.yml as compose sees it with no variable set (YAML merges applied)."""
    return _with_defaults(_yaml(COMPOSE))


def services() -> dict[str, dict]:
    return compose()["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _command(service: dict) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def wardwatch_services() -> dict[str, dict]:
    """Services that run the wardwatch image (built from this Dockerfile)."""
    return {
        name: svc
        for name, svc in services().items()
        if "build" in svc or str(svc.get("image", "")).split(":")[0].endswith("wardwatch")
    }


@cache
def documentation() -> str:
    texts = [p.read_text(encoding="utf-8") for p in DOC_FILES if p.exists()]
    assert texts, f"none of {[str(p.relative_to(ROOT)) for p in DOC_FILES]} exists"
    return "\n".join(texts)


def documented_env_vars() -> set[str]:
    """WARDWATCH_* names that appear in a markdown table row of the docs."""
    return {
        name for line in documentation().splitlines() if line.lstrip().startswith("|") for name in ENV_VAR.findall(line)
    }


@cache
def cli_commands() -> dict[str, str] | None:
    """streams.cli.COMMANDS (subcommand -> implementing module), if there is one."""
    if not CLI.exists():
        return None
    import streams.cli

    commands = getattr(streams.cli, "COMMANDS", None)
    return dict(commands) if isinstance(commands, dict) else None


@cache
def subcommands() -> frozenset[str]:
    """Subcommands of streams/cli/ (its COMMANDS table, else argparse/click declarations),
    else the known list."""
    if cli_commands():
        return frozenset(cli_commands())
    if not CLI.exists():
        return KNOWN_SUBCOMMANDS
    src = CLI.read_text(encoding="utf-8")
    found = set(re.findall(r"add_parser\(\s*['\"]([a-z][\w-]*)['\"]", src))
    found |= set(re.findall(r"\.command\(\s*(?:name\s*=\s*)?['\"]([a-z][\w-]*)['\"]", src))
    for fn in re.findall(r"\.command\(\s*\)\s*\n(?:\s*@.*\n)*\s*(?:async\s+)?def\s+(\w+)", src):
        found.add(fn.replace("_", "-"))
    return frozenset(found) or KNOWN_SUBCOMMANDS


# --------------------------------------------------------------------------
# PromQL: metric names, label matchers and grouping labels of an expression

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(?:,|$)"
)
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan", "start", "end"}
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}


def _skip_string(expr: str, i: int) -> int:
    quote = expr[i]
    i += 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    return i + 1


def _closing(expr: str, i: int, open_: str, close: str) -> int:
    """Index just past the bracket that closes the one at expr[i]."""
    depth = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {open_!r} in {expr!r}")


def _matchers(body: str) -> list[tuple[str, str, str]]:
    out, pos = [], 0
    body = body.strip()
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            raise ValueError(f"cannot parse label matchers {{{body}}}")
        out.append((m.group(1), m.group(2), m.group(3)[1:-1]))
        pos = m.end()
    return out


def parse_promql(expr: str) -> tuple[list[tuple[str, list[tuple[str, str, str]]]], set[str]]:
    """Return ([(metric name, matchers)], grouping labels) of a PromQL expression.

    A small scanner, not a full parser: it knows strings, `[...]` ranges,
    `{...}` matchers, numbers/durations, `$grafana` variables, keywords and
    the label lists of by/without/on/ignoring/group_*; any other identifier
    not followed by `(` is a metric name.
    """
    selectors: list[tuple[str, list[tuple[str, str, str]]]] = []
    grouping: set[str] = set()
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c == "#":  # comment to end of line
            while i < n and expr[i] != "\n":
                i += 1
        elif c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "[":
            i = _closing(expr, i, "[", "]")
        elif c == "$":  # Grafana variable: $name or ${name}
            i += 1
            if i < n and expr[i] == "{":
                i = _closing(expr, i, "{", "}")
            else:
                while i < n and (expr[i].isalnum() or expr[i] == "_"):
                    i += 1
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            while i < n and (expr[i].isalnum() or expr[i] in "._"):
                i += 1
        elif c == "{":  # selector without a name: {__name__="..."}
            end = _closing(expr, i, "{", "}")
            ms = _matchers(expr[i + 1 : end - 1])
            names = [v for (label, op, v) in ms if label == "__name__" and op == "="]
            selectors.append((names[0] if names else "", ms))
            i = end
        elif c.isalpha() or c in "_:":
            m = _IDENT.match(expr, i)
            word = m.group(0)
            i = m.end()
            j = i
            while j < n and expr[j].isspace():
                j += 1
            nxt = expr[j] if j < n else ""
            if word.lower() in _LABEL_LISTS:
                if nxt == "(":
                    end = _closing(expr, j, "(", ")")
                    grouping |= {g.strip() for g in expr[j + 1 : end - 1].split(",") if g.strip()}
                    i = end
            elif nxt == "(" or word.lower() in _KEYWORDS:
                pass  # function, aggregation or keyword
            elif re.match(r"(?i)(by|without)\s*\(", expr[j:]):
                pass  # aggregation with its modifier first: sum by (x) (...)
            else:
                ms: list[tuple[str, str, str]] = []
                if nxt == "{":
                    end = _closing(expr, j, "{", "}")
                    ms = _matchers(expr[j + 1 : end - 1])
                    i = end
                selectors.append((word, ms))
        else:
            i += 1
    return selectors, grouping


def test_promql_scanner_finds_metrics_labels_and_misspellings():
    sel, grouping = parse_promql(
        "histogram_quantile(0.99, sum by (le, instance) (rate(wardwatch_processing_seconds_bucket"
        '{job="wardwatch-worker",instance=~"$instance"}[$__rate_interval]))) > 0.25 '
        "and on (instance) up == 1 unless wardwatch_sample_processed_total offset 5m"
    )
    assert [s[0] for s in sel] == [
        "wardwatch_processing_seconds_bucket",
        "up",
        "wardwatch_sample_processed_total",
    ]
    assert sel[0][1] == [("job", "=", "wardwatch-worker"), ("instance", "=~", "$instance")]
    assert grouping == {"le", "instance"}
    # the misspelt name above is caught by the allow-list
    assert "wardwatch_sample_processed_total" not in allowed_metrics()


# --------------------------------------------------------------------------
# what the worker exports


def registry_series(module) -> dict[str, set[str]]:
    """Series names a metrics module's REGISTRY exposes -> their label names."""
    from prometheus_client.metrics import MetricWrapperBase

    labels_of = {
        m._name: set(getattr(m, "_labelnames", ()) or ())
        for m in vars(module).values()
        if isinstance(m, MetricWrapperBase)
    }
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
        "info": ("_info",),
    }
    out: dict[str, set[str]] = {}
    for family in module.REGISTRY.collect():
        labels = labels_of.get(family.name, labels_of.get(family.name + "_total", set()))
        for suffix in suffixes.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            out[family.name + suffix] = labels | extra
        for sample in family.samples:
            out.setdefault(sample.name, set(sample.labels))
    return out


@cache
def exported_metrics() -> dict[str, set[str]]:
    """What the worker exports: the truth is streams/metrics.py."""
    import streams.metrics

    return registry_series(streams.metrics)


@cache
def notify_metrics() -> dict[str, set[str]]:
    """What `wardwatch notify` exports: streams/notify/metrics.py once it exists."""
    if not (ROOT / "streams" / "notify" / "metrics.py").exists():
        return dict(NOTIFY_METRICS)
    import streams.notify.metrics

    return registry_series(streams.notify.metrics)


@cache
def recording_rules() -> dict[str, str]:
    return {
        r["record"]: r["expr"]
        for path in sorted(RULES_DIR.glob("*.yml"))
        for g in _yaml(path)["groups"]
        for r in g["rules"]
        if "record" in r
    }


@cache
def alerting_rules() -> dict[str, dict]:
    rules: dict[str, dict] = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for g in _yaml(path)["groups"]:
            for r in g["rules"]:
                if "alert" in r:
                    assert r["alert"] not in rules, f"alert {r['alert']} defined twice"
                    rules[r["alert"]] = r
    return rules


@cache
def allowed_metrics() -> dict[str, set[str] | None]:
    """Metric name -> label names (None: a recording rule, labels not checked)."""
    allowed: dict[str, set[str] | None] = {}
    for name, labels in {**PROCESS_METRICS, **notify_metrics(), **exported_metrics()}.items():
        allowed[name] = set(labels) | TARGET_LABELS
    allowed["up"] = set(TARGET_LABELS)
    for name in recording_rules():
        allowed[name] = None
    return allowed


@cache
def label_values() -> dict[str, set[str]]:
    """Closed label value sets: the alert model's enums and the scrape job names."""
    from alerts.model import Kind, Priority, Status

    jobs = {sc["job_name"] for sc in _yaml(PROM_CONFIG)["scrape_configs"]}
    return {
        "status": {s.value for s in Status},
        "priority": {p.value for p in Priority},
        "kind": {k.value for k in Kind},
        "job": jobs,
    }


def check_promql(expr: str, where: str) -> list[str]:
    """Problems of one expression: unknown metrics, labels or label values."""
    problems = []
    selectors, grouping = parse_promql(expr)
    if not selectors:
        problems.append(f"{where}: no metric in {expr!r}")
    allowed = allowed_metrics()
    all_labels = set().union(*(v for v in allowed.values() if v)) | {"le"}
    for label in grouping - all_labels:
        problems.append(f"{where}: groups by unknown label {label!r}")
    for name, matchers in selectors:
        if name not in allowed:
            problems.append(
                f"{where}: metric {name!r} is not exported by the worker (streams/metrics.py), "
                "the notifier, the process collector, nor a recording rule"
            )
            continue
        known = allowed[name]
        for label, op, value in matchers:
            if known is not None and label not in known:
                problems.append(f"{where}: {name} has no label {label!r} (has {sorted(known)})")
            closed = label_values().get(label)
            if closed and op in ("=", "!=") and value not in closed:
                problems.append(f"{where}: {label}={value!r} is none of {sorted(closed)}")
            if closed and op in ("=~", "!~") and re.fullmatch(r"[\w-]+(\|[\w-]+)*", value):
                for v in value.split("|"):
                    if v not in closed:
                        problems.append(f"{where}: {label}=~ names {v!r}, none of {sorted(closed)}")
    return problems


# --------------------------------------------------------------------------
# (a) docker-compose.yml


def test_compose_config_is_valid_for_docker_compose_1_29():
    _run(_tool("docker-compose"), "-f", str(COMPOSE), "config", "-q")


def test_compose_has_the_stack_services():
    missing = SERVICES_REQUIRED - set(services())
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"
    assert set(wardwatch_services()) >= WARDWATCH_SERVICES_REQUIRED


def test_workers_share_one_consumer_group_with_their_own_state():
    workers = {n: s for n, s in wardwatch_services().items() if _command(s)[:1] == ["worker"]}
    assert {"worker-1", "worker-2"} <= set(workers)
    app_ids = {_environment(s).get("WARDWATCH_APP_ID") for s in workers.values()}
    assert len(app_ids) == 1 and None not in app_ids, f"workers must share WARDWATCH_APP_ID: {app_ids}"
    volumes = []
    for name, svc in workers.items():
        data_dir = _environment(svc).get("WARDWATCH_DATA_DIR")
        assert data_dir, f"{name}: WARDWATCH_DATA_DIR not set"
        mounts = [str(v).split(":") for v in svc.get("volumes", [])]
        sources = [m[0] for m in mounts if len(m) >= 2 and m[1] == data_dir]
        assert sources, f"{name}: no volume mounted at WARDWATCH_DATA_DIR={data_dir}"
        volumes += sources
        assert _environment(svc).get("WARDWATCH_STORE", "").startswith("rocksdb"), name
    assert len(volumes) == len(set(volumes)), f"workers share a data volume: {volumes}"
    # The notifier shares the app id (it creates the same topics) and derives
    # its own consumer group from it, unless WARDWATCH_NOTIFY_GROUP names one.
    notify_env = _environment(services()["notify"])
    assert notify_env.get("WARDWATCH_APP_ID") in app_ids, "the notifier needs the workers' WARDWATCH_APP_ID"
    notify_group = notify_env.get("WARDWATCH_NOTIFY_GROUP") or f"{notify_env['WARDWATCH_APP_ID']}-notify"
    assert notify_group not in app_ids, "the notifier must not join the workers' consumer group"


def test_startup_order_waits_for_kafka_and_topic_creation():
    init = services()["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "healthcheck" in services()["kafka"]
    for name in WARDWATCH_SERVICES_REQUIRED:
        dep = services()[name]["depends_on"]
        assert dep["kafka-init"]["condition"] == "service_completed_successfully", name
    mounted = [str(v).split(":")[0] for v in init.get("volumes", [])]
    assert "./deploy/kafka/create-topics.sh" in mounted
    assert any("create-topics.sh" in part for part in init.get("entrypoint", []) + _command(init))


def test_create_topics_script_is_valid_sh():
    _run("sh", "-n", str(CREATE_TOPICS))


def test_create_topics_script_against_a_fake_kafka(tmp_path):
    """Run the script with stub kafka-topics.sh/kafka-configs.sh: what it creates."""
    state = tmp_path / "topics"
    state.mkdir()
    (state / "vitals").write_text("3")  # a pre-existing vitals topic with 3 partitions
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kafka-topics.sh").write_text(
        f"""#!/bin/sh
echo "topics $*" >> {calls}
topic=$(echo "$*" | sed -n 's/.*--topic \\([^ ]*\\).*/\\1/p')
case " $* " in
  *" --list "*) ls {state} ;;
  *" --create "*) echo "$*" | sed 's/.*--partitions \\([0-9]*\\).*/\\1/' > {state}/$topic ;;
  *" --describe "*) [ -n "$topic" ] || exit 0; [ -f {state}/$topic ] || exit 1
     printf 'Topic: %s\\tTopicId: x\\tPartitionCount: %s\\tReplicationFactor: 1\\n' "$topic" "$(cat {state}/$topic)" ;;
esac
"""
    )
    (bin_dir / "kafka-configs.sh").write_text(f'#!/bin/sh\necho "configs $*" >> {calls}\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "KAFKA_BIN": str(bin_dir), "WARDWATCH_APP_ID": "ww", "WARDWATCH_PARTITIONS": "6"}
    proc = subprocess.run(["sh", str(CREATE_TOPICS)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    created = {p.name: int(p.read_text()) for p in state.iterdir()}
    assert created == {
        "vitals": 3,  # existing: left as it is, with a warning
        "alert-acks": 3,
        "ww-patient-repartition": 3,
        "ww-patient_state-changelog": 3,
        "alerts": 3,
        "audit": 3,
        "vitals-dlq": 1,
        "notify-dlq": 1,
        "notify-state": 1,
        "patient-wards": 1,
        "adt": 3,
        "patients": 3,
    }
    assert "WARNING: vitals exists with 3 partitions" in proc.stdout
    log = calls.read_text()
    for compacted in ("ww-patient_state-changelog", "notify-state", "patient-wards", "patients"):
        assert re.search(rf"--create .*--topic {compacted} .*--config cleanup.policy=compact", log), compacted

    # A second run creates nothing and re-applies the configs of existing topics.
    calls.write_text("")
    proc = subprocess.run(["sh", str(CREATE_TOPICS)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = calls.read_text()
    assert "--create" not in log
    assert "--entity-name ww-patient_state-changelog --add-config cleanup.policy=compact" in log


def test_create_topics_script_follows_topic_names_of_the_code():
    """Every topic the worker's settings name (streams/config.py Topics) is created."""
    src = CREATE_TOPICS.read_text(encoding="utf-8")
    if not (ROOT / "streams" / "config.py").exists():
        pytest.skip("streams/config.py not written yet")
    import dataclasses

    from streams.config import Topics

    for f in dataclasses.fields(Topics):
        var = f"WARDWATCH_TOPIC_{f.name.upper()}"
        assert f'"${{{var}:-{f.default}}}"' in src, f"create-topics.sh does not create {var} (default {f.default})"


# --------------------------------------------------------------------------
# (b) commands and environment of the wardwatch services


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def test_compose_commands_are_wardwatch_subcommands(capsys):
    """Each wardwatch service's command parses with the real CLI parser.

    A subcommand whose module is not written yet is only checked by name.
    """
    commands = cli_commands()
    parser = None
    if commands is not None:
        import streams.cli

        parser = streams.cli.build_parser()
    for name, svc in wardwatch_services().items():
        cmd = _command(svc)
        assert cmd, f"{name}: runs the wardwatch image without a command"
        assert "entrypoint" not in svc, f"{name}: keep the image's `wardwatch` entrypoint"
        assert cmd[0] in subcommands(), f"{name}: `wardwatch {cmd[0]}` is not one of {sorted(subcommands())}"
        if parser is None or _module_file(commands[cmd[0]]) is None:
            continue
        try:
            args = parser.parse_args(cmd)
        except SystemExit:
            pytest.fail(f"{name}: `wardwatch {shlex.join(cmd)}` is rejected by the CLI: {capsys.readouterr().err}")
        assert getattr(args, "run", None), f"{name}: `wardwatch {cmd[0]}` has no run function"


def test_compose_env_vars_are_documented():
    documented = documented_env_vars()
    assert documented, "no WARDWATCH_* variable in a table of docs/operations.md or README.md"
    used = {var for svc in services().values() for var in _environment(svc) if var.startswith("WARDWATCH_")}
    raw = COMPOSE.read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", raw))
    used |= {v for v in interpolated if v.startswith("WARDWATCH_")}
    assert not used - documented, f"undocumented in the docs' env table: {sorted(used - documented)}"
    other = {v for v in interpolated if not v.startswith("WARDWATCH_")}
    undocumented = {v for v in other if f"`{v}`" not in documentation()}
    assert not undocumented, f"compose variables not documented: {sorted(undocumented)}"


def test_env_vars_read_by_the_code_and_image_are_documented():
    """Drift guard: a WARDWATCH_* variable the code reads is in the docs' table.

    WARDWATCH_TEST_* (fault-injection hooks of the test suite) are exempt.
    """
    sources = [DOCKERFILE, CREATE_TOPICS, *sorted((ROOT / "streams").glob("**/*.py"))]
    used = {
        v
        for p in sources
        for v in ENV_VAR.findall(p.read_text(encoding="utf-8"))
        if not v.startswith("WARDWATCH_TEST_")
    }
    missing = used - documented_env_vars()
    assert not missing, f"WARDWATCH_* variables used but not in the docs' env table: {sorted(missing)}"


def test_dockerfile_shape():
    src = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", src, re.M)
    users = re.findall(r"^USER\s+(\S+)", src, re.M)
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"
    assert re.search(r"pip install[^\n]* \.\s*$", src, re.M)
    health = re.search(r"^HEALTHCHECK\b(?:.*\\\n)*.*", src, re.M)
    assert health and "/healthz" in health.group(0) and "urllib" in health.group(0)
    assert re.search(r'^ENTRYPOINT \["wardwatch"\]', src, re.M)
    cmd = re.search(r"^CMD (\[.*\])", src, re.M)
    assert cmd and json.loads(cmd.group(1))[0] in subcommands()
    # everything the build COPYs from the context exists and is not ignored
    ignored = DOCKERIGNORE.read_text(encoding="utf-8")
    for line in re.findall(r"^COPY (?!--from)(.+)$", src, re.M):
        for item in line.split()[:-1]:
            if item.startswith("--"):
                continue
            assert (ROOT / item).exists(), f"Dockerfile copies {item}, which does not exist"
            assert f"!{item}" in ignored.split() or "*" not in ignored.split(), f".dockerignore excludes {item}"


# --------------------------------------------------------------------------
# (c) Prometheus: promtool and rule hygiene


def test_promtool_check_config():
    out = _run(_tool("promtool"), "check", "config", str(PROM_CONFIG))
    assert "rule files found" in out.stdout + out.stderr


def test_promtool_check_rules():
    _run(_tool("promtool"), "check", "rules", *map(str, sorted(RULES_DIR.glob("*.yml"))))


def test_promtool_test_rules():
    _run(_tool("promtool"), "test", "rules", *map(str, sorted(PROM_TESTS_DIR.glob("*.yml"))))


def test_prometheus_config_is_relative_and_scrapes_the_compose_services():
    cfg = _yaml(PROM_CONFIG)
    for pattern in cfg["rule_files"]:
        assert not Path(pattern).is_absolute(), f"rule_files must be relative to prometheus.yml: {pattern}"
        assert list(PROM_DIR.glob(pattern)), f"rule_files {pattern} matches nothing"
    targets = {
        sc["job_name"]: [t for st in sc.get("static_configs", []) for t in st["targets"]]
        for sc in cfg["scrape_configs"]
    }
    assert sorted(targets["wardwatch-worker"]) == ["worker-1:9108", "worker-2:9108"]
    assert targets["wardwatch-notify"] == ["notify:9109"]
    for job, hosts in targets.items():
        for target in hosts:
            host, port = target.rsplit(":", 1)
            if host == "localhost":
                continue
            assert host in services(), f"{job}: target {target} is no compose service"
            env = _environment(services()[host])
            for var in ("WARDWATCH_METRICS_PORT", "WARDWATCH_NOTIFY_METRICS_PORT"):
                if var in env:
                    assert env[var] == port, f"{job}: {host} serves metrics on {var}={env[var]}, not {port}"
    prom = services()["prometheus"]
    mounts = {str(v).split(":")[0]: str(v).split(":")[1] for v in prom["volumes"]}
    config_flag = next(a for a in prom["command"] if a.startswith("--config.file="))
    assert mounts.get("./deploy/prometheus") == str(Path(config_flag.split("=", 1)[1]).parent)


def test_alerting_rules_are_actionable():
    rules = alerting_rules()
    expected = {
        "WardwatchWorkerDown",
        "WardwatchNoData",
        "WardwatchConsumerLagGrowing",
        "WardwatchEventLagHigh",
        "WardwatchDLQRate",
        "WardwatchUnacknowledgedEscalations",
        "WardwatchRecoveryStuck",
        "WardwatchNotifyFailures",
    }
    assert expected <= set(rules), f"missing alerts {sorted(expected - set(rules))}"
    for name, rule in rules.items():
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, name
        ann = rule.get("annotations", {})
        assert ann.get("summary"), f"{name}: no summary"
        assert "Next:" in ann.get("description", ""), f"{name}: description must say what to do next"


def test_every_rule_has_promtool_unit_tests():
    firing: set[str] = set()
    quiet: set[str] = set()
    exprs: list[str] = []
    for path in sorted(PROM_TESTS_DIR.glob("*.yml")):
        for group in _yaml(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
            exprs += [case["expr"] for case in group.get("promql_expr_test", [])]
    for name in alerting_rules():
        assert name in firing, f"{name}: no promtool test where it fires"
        assert name in quiet, f"{name}: no promtool test where it does not fire"
    for record in recording_rules():
        assert any(record in e for e in exprs), f"recording rule {record}: no promql_expr_test"


def test_rule_expressions_use_exported_metrics():
    problems = []
    for name, expr in recording_rules().items():
        problems += check_promql(expr, f"record {name}")
    for name, rule in alerting_rules().items():
        problems += check_promql(rule["expr"], f"alert {name}")
    assert not problems, "\n".join(problems)


def test_alertmanager_config():
    cfg = _yaml(ALERTMANAGER)
    receivers = {r["name"] for r in cfg["receivers"]}

    def walk(route):
        if "receiver" in route:
            assert route["receiver"] in receivers, f"route to unknown receiver {route['receiver']}"
        for sub in route.get("routes", []):
            walk(sub)

    walk(cfg["route"])
    severities = {r["labels"]["severity"] for r in alerting_rules().values()}
    routed = {m.split("=")[1].strip("\"'") for r in cfg["route"].get("routes", []) for m in r.get("matchers", [])}
    assert "critical" in severities and "critical" in routed, "critical alerts need their own route"
    for rule in cfg.get("inhibit_rules", []):
        for m in rule.get("source_matchers", []) + rule.get("target_matchers", []):
            for name in re.findall(r"Wardwatch\w+", m):
                assert name in alerting_rules(), f"inhibit rule names unknown alert {name}"
    amtool = shutil.which("amtool")  # optional: Debian package prometheus-alertmanager
    if amtool:
        _run(amtool, "check-config", str(ALERTMANAGER))


# --------------------------------------------------------------------------
# (d) Grafana


@cache
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels() -> list[dict]:
    out = []
    for p in dashboard()["panels"]:
        out.append(p)
        out += p.get("panels", [])  # panels of a collapsed row
    return out


@cache
def prometheus_datasource_uid() -> str:
    ds = _yaml(GRAFANA_PROVISIONING / "datasources" / "wardwatch.yml")["datasources"]
    prom = [d for d in ds if d["type"] == "prometheus"]
    assert len(prom) == 1 and prom[0]["url"] == "http://prometheus:9090"
    return prom[0]["uid"]


def test_dashboard_structure():
    d = dashboard()
    assert d.get("uid") and d.get("title") and isinstance(d.get("schemaVersion"), int)
    panels = all_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    uid = prometheus_datasource_uid()
    for p in panels:
        gp = p["gridPos"]
        assert gp["x"] >= 0 and gp["x"] + gp["w"] <= 24 and gp["h"] > 0, f"{p['title']}: bad gridPos {gp}"
        if p["type"] == "row":
            continue
        assert p.get("title"), f"panel {p['id']} has no title"
        assert p.get("datasource", {}).get("uid") == uid, f"{p['title']}: datasource is not {uid!r}"
        targets = p.get("targets") or []
        assert targets, f"{p['title']}: no targets"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), f"{p['title']}: duplicate refId"
        for t in targets:
            assert t.get("expr", "").strip(), f"{p['title']}: target {t['refId']} has no expr"
            assert t.get("datasource", {}).get("uid", uid) == uid, f"{p['title']}: target datasource"
    for var in d.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            assert var.get("datasource", {}).get("uid") == uid, f"variable {var['name']}: datasource"


def _template_queries() -> list[tuple[str, str]]:
    out = []
    for var in dashboard().get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var["query"]["query"] if isinstance(var.get("query"), dict) else var.get("query", "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q, re.S)
        out.append((f"variable {var['name']}", m.group(1) if m else q))
    return out


def test_dashboard_queries_use_exported_metrics():
    problems = []
    for p in all_panels():
        for t in p.get("targets", []):
            problems += check_promql(t["expr"], f"panel {p['title']!r} {t['refId']}")
    for where, q in _template_queries():
        problems += check_promql(q, where)
    assert not problems, "\n".join(problems)


def test_dashboard_covers_the_operations_signals():
    used = {name for p in all_panels() for t in p.get("targets", []) for name, _ in parse_promql(t["expr"])[0]}
    required = {
        "wardwatch_samples_processed_total",  # flow
        "wardwatch_consumer_lag_messages",
        "wardwatch_event_lag_seconds",
        "wardwatch_alerts_total",  # alerts by priority
        "wardwatch_time_to_acknowledge_seconds_bucket",
        "wardwatch_inputs_rejected_total",  # DLQ by reason
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "wardwatch_processing_seconds_bucket",  # latency p99
        "wardwatch_state_bytes",
        "wardwatch_ready",
    }
    assert not required - used, f"dashboard lacks panels for {sorted(required - used)}"


def test_grafana_provisioning_matches_compose_mounts():
    providers = _yaml(GRAFANA_PROVISIONING / "dashboards" / "wardwatch.yml")["providers"]
    grafana = services()["grafana"]
    mounts = {str(v).split(":")[0]: str(v).split(":")[1] for v in grafana["volumes"]}
    assert mounts.get("./deploy/grafana/provisioning") == "/etc/grafana/provisioning"
    dash_dir = mounts.get("./deploy/grafana/dashboards")
    assert dash_dir and any(p["options"]["path"] == dash_dir for p in providers)
    home = _environment(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home.startswith(dash_dir + "/") and (DASHBOARD.parent / Path(home).name).exists()
