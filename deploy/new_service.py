#!/usr/bin/env python3
"""`just new-service NAME [--grpc] [--publishes TYPE...] [--consumes TYPE...]`:
adds a wired, tested service by copying the template crate (template/)
under NAME and adding it to every place that names the services.

  --grpc               keep the gRPC service (proto/NAME/v1/NAME.proto)
  --publishes TYPE...  event types it defines and publishes through its
                       outbox, each NAME.something; creating an item
                       publishes the first
  --consumes TYPE...   existing event types its consumer records, once each

Everything is checked before anything is written: a refusal changes
nothing. docs/adding-a-service.md says what is written where, and how to
remove a service again.
"""
import argparse
import os
import re
import subprocess
import sys

import services as service_list

ROOT = service_list.ROOT
TEMPLATE = "template"
# The template's own default ports (HTTP, gRPC, metrics), which a generated
# service never takes.
TEMPLATE_PORTS = (8089, 9089, 7089)
# Rust's keywords (strict, reserved and edition 2024's `gen`): not a crate name.
KEYWORDS = set("""
    as async await break const continue crate dyn else enum extern false fn for gen if impl in let loop match mod
    move mut pub ref return self static struct super trait true try type unsafe use where while abstract become
    box do final macro override priv typeof unsized virtual yield""".split())
# Names that already mean something here: `all` (deploy/build.sh), the
# libraries, the standard library's crates, PostgreSQL's own databases.
RESERVED = {"all", "comms", "contracts", "events", "testkit", "std", "core", "alloc", "test", "proc_macro",
            "postgres", "template0", "template1"}
# A name is a crate, a directory, a compose service, a host name and a
# settings prefix at once: lower-case letters and digits only.
VALID_NAME = service_list.NAME
MARKER = re.compile(r"\s*(?://|#) new-service: ([a-z|]+)$")
OPTIONS = ("grpc", "publishes", "consumes")
# Files of the template that only one option needs.
OPTION_FILES = {
    "grpc": ["src/grpc.rs", "tests/api/grpc.rs"],
    "publishes": ["tests/api/outbox.rs"],
    "consumes": ["src/consumer.rs", "tests/api/consumer.rs"],
}


class Refused(Exception):
    pass


def camel(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def defined_events(root):
    """Event type → payload type, as libs/events defines them."""
    found = {}
    directory = os.path.join(root, "libs/events/src")
    for file in sorted(os.listdir(directory)):
        with open(os.path.join(directory, file)) as f:
            for struct, event in re.findall(r'event!\((\w+), "([^"]+)"', f.read()):
                found[event] = struct
    return found


def validate(root, name, publishes, consumes):
    """Every reason to refuse, before anything is written."""
    if not VALID_NAME.match(name):
        raise Refused(f"{name!r} is not a valid service name: 2 to 31 lower-case letters and digits, "
                      "starting with a letter (it is also a crate, a host and a settings prefix)")
    if name in KEYWORDS:
        raise Refused(f"{name!r} is a Rust keyword, so it cannot name a crate")
    if name in RESERVED:
        raise Refused(f"{name!r} is reserved: it already names a library, tool, recipe argument or database here")
    services = service_list.load(root)
    if name in {s["name"] for s in services}:
        raise Refused(f"{name!r} exists: it is in deploy/services.toml")
    with open(os.path.join(root, "Cargo.toml")) as f:
        members = re.findall(r'^\s*"([^"]+)",', f.read(), re.M)
    crates = {os.path.basename(m) for m in members}
    if name in crates or os.path.exists(os.path.join(root, "services", name)):
        raise Refused(f"{name!r} exists: a crate or directory of that name is in the workspace")
    taken = {s.get(k) for s in services for k in ("database",)}
    if name in taken:
        raise Refused(f"{name!r} is already a service's database")
    events = defined_events(root)
    template_events = {e for e in events if e.startswith(TEMPLATE + ".")}
    for event in consumes:
        if event not in events or event in template_events:
            known = ", ".join(sorted(set(events) - template_events))
            raise Refused(f"cannot consume {event!r}: no such event type (known: {known})")
    for event in publishes:
        if not re.match(rf"^{name}\.[a-z][a-z0-9_]*$", event):
            raise Refused(f"cannot publish {event!r}: a service publishes only in its own namespace, "
                          f"{name}.something (lower case, digits, underscores)")
        if event in events:
            raise Refused(f"cannot publish {event!r}: libs/events already defines it")
    if len(set(publishes)) != len(publishes):
        raise Refused("a published event type is given twice")
    return services, events


class Changes:
    """The files the generator writes, kept until all of them are ready, so
    that a failure half way leaves the tree as it was."""

    def __init__(self, root):
        self.root = root
        self.files = {}

    def read(self, path):
        if path in self.files:
            return self.files[path]
        with open(os.path.join(self.root, path)) as f:
            return f.read()

    def write(self, path, text):
        self.files[path] = text

    def edit(self, path, pattern, replacement, count=1):
        text = self.read(path)
        changed, n = re.subn(pattern, replacement, text, count=count, flags=re.M)
        if n == 0:
            raise RuntimeError(f"{path}: cannot find where to add the service ({pattern!r}); "
                               "was the file rearranged? docs/adding-a-service.md lists the places")
        self.write(path, changed)

    def apply(self):
        """Writes everything; returns an undo for the commands run after."""
        originals = {}
        for path, text in self.files.items():
            full = os.path.join(self.root, path)
            originals[path] = open(full).read() if os.path.exists(full) else None
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)

        def undo():
            for path, text in originals.items():
                full = os.path.join(self.root, path)
                if text is None:
                    os.remove(full)
                else:
                    with open(full, "w") as f:
                        f.write(text)
        return undo


def rename(text, name):
    # Also inside generated names: `template_service_server`.
    text = re.sub(rf"(?<![A-Za-z0-9]){TEMPLATE}(?![A-Za-z0-9])", name, text)
    text = re.sub(rf"\b{camel(TEMPLATE)}", camel(name), text)
    return re.sub(rf"\b{TEMPLATE.upper()}_", name.upper() + "_", text)


def keep_options(text, chosen):
    """Drops the lines marked for an option not chosen; strips the marker
    from the rest."""
    lines = []
    for line in text.splitlines(keepends=True):
        marker = MARKER.search(line.rstrip("\n"))
        if marker:
            if not any(option in chosen for option in marker.group(1).split("|")):
                continue
            line = line[:marker.start()] + "\n"
        lines.append(line)
    return "".join(lines)


def service_crate(changes, root, name, chosen, ports, publishes, consumes, events):
    """services/NAME: the template, renamed, with what the options leave out dropped."""
    source = os.path.join(root, TEMPLATE)
    dropped = {f for option, files in OPTION_FILES.items() if option not in chosen for f in files}
    for directory, _, files in os.walk(source):
        if "target" in directory.split(os.sep):
            continue
        for file in sorted(files):
            relative = os.path.relpath(os.path.join(directory, file), source)
            if relative in dropped or ("consumes" not in chosen and relative.endswith("_create_received.sql")):
                continue
            with open(os.path.join(directory, file)) as f:
                text = keep_options(f.read(), chosen)
            text = rename(text, name)
            if relative == "src/lib.rs":
                text = re.sub(r"\A(//!.*\n)+?//!\n", f"//! The {name} service, written by `just new-service`\n"
                              "//! (docs/adding-a-service.md).\n//!\n", text, count=1)
            if "grpc" not in chosen:
                text = text.replace(f"Some({TEMPLATE_PORTS[1]})", "None")
            for old, new in zip(TEMPLATE_PORTS, ports):
                text = re.sub(rf"\b{old}\b", str(new), text)
            flags = tuple(str(flag in chosen).lower() for flag in ("publishes", "consumes"))
            if flags == ("false", "false"):  # no broker at all
                text = text.replace("\n    .messaging(true, true)", "")
            text = text.replace(".messaging(true, true)", f".messaging({flags[0]}, {flags[1]})")
            if publishes:
                text = text.replace(f'"{name}.item_created"', f'"{publishes[0]}"')
                text = re.sub(r"\bItemCreated\b", camel(publishes[0].split(".", 1)[1]), text)
            if consumes:
                types = [events[e] for e in consumes]
                text = text.replace("use events::UserRegistered;\n",
                                    "".join(f"use events::{t};\n" for t in sorted(types)))
                text = re.sub(r"^(\s*)\.on\(record::<UserRegistered>\)\n",
                              lambda m: "".join(f"{m.group(1)}.on(record::<{t}>)\n" for t in types), text, flags=re.M)
            changes.write(os.path.join("services", name, rename(relative, name)), text)


def events_crate(changes, name, publishes):
    """libs/events: one payload type per published event, which analytics counts."""
    types = [camel(e.split(".", 1)[1]) for e in publishes]
    body = [f"//! The {name} service's events.\n\nuse serde::{{Deserialize, Serialize}};\nuse uuid::Uuid;\n"]
    for event, struct in zip(publishes, types):
        body.append(f"\n/// `{event}`: an item was created.\n#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]\n"
                    f"pub struct {struct} {{\n    pub item_id: Uuid,\n    pub owner_id: Uuid,\n"
                    f"    pub name: String,\n}}\n")
    body.append("\n" + "".join(f'crate::event!({t}, "{e}", item_id);\n' for e, t in zip(publishes, types)))
    changes.write(f"libs/events/src/{name}.rs", "".join(body))
    lib = "libs/events/src/lib.rs"
    changes.edit(lib, r"^(pub mod user;\n)", rf"\1pub mod {name};\n")
    changes.edit(lib, r"^(pub use user::.*\n)", rf"\1pub use {name}::{{{', '.join(types)}}};\n")
    changes.edit(lib, r"^(    <LowStock as comms::messaging::Event>::TYPE,\n)",
                 r"\1" + "".join(f"    <{t} as comms::messaging::Event>::TYPE,\n" for t in types))
    # Analytics counts every event type (its unit test compares with ALL_TYPES).
    changes.edit("services/analytics/src/consumer.rs", r"^(\s*\.on\(record::<LowStock>\)\n)",
                 r"\1" + "".join(f"        .on(record::<events::{t}>)\n" for t in types))
    changes.edit("services/analytics/src/domain/fact.rs", r"^counted!\((.*)\);$",
                 r"counted!(\1, " + ", ".join(f"events::{t}" for t in types) + ");")


def contracts(changes, name):
    changes.edit("libs/contracts/build.rs", r'^(    \("template/v1/template\.proto", "template_v1"\),\n)',
                 rf'    ("{name}/v1/{name}.proto", "{name}_v1"),\n\1')
    changes.edit("libs/contracts/src/lib.rs", r'^(package!\(template, .*\n)',
                 rf'package!({name}, "{name}.v1", "{name}_v1");\n\1')
    with open(os.path.join(changes.root, "proto/template/v1/template.proto")) as f:
        changes.write(f"proto/{name}/v1/{name}.proto", rename(f.read(), name))


def next_ports(services):
    used = {s[k] for s in services for k in ("http_port", "grpc_port", "metrics_port") if k in s}
    http = max(s["http_port"] for s in services if s["name"] != service_list.GATEWAY) + 1
    while {http, http + 1000, http - 1000} & used or http == TEMPLATE_PORTS[0]:
        http += 1
    return http, http + 1000, http - 1000


def toml_list(values):
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def service_entry(name, chosen, ports, publishes, consumes):
    grpc = f"grpc_port = {ports[1]}\n" if "grpc" in chosen else ""
    return (f'[[service]]\nname = "{name}"\nscale = true\nprefix = "{name.upper()}_"\nhttp_port = {ports[0]}\n'
            f'metrics_port = {ports[2]}\n{grpc}'
            f'database = "{name}"\npublishes = {toml_list(publishes)}\nconsumes = {toml_list(consumes)}\n'
            f"upstreams = []\nroutes = [\n"
            f'    {{ name = "{name}", path = "/api/{name}/{{*rest}}", methods = ["GET", "POST"], '
            f'rewrite = "/{name}/{{rest}}", auth = "required" }},\n]\ndev_env = {{}}\n\n')


def compose(changes, name, broker):
    env = "<<: [*messaging, *telemetry]" if broker else "<<: *telemetry"
    prefix = name.upper() + "_"
    block = (f"  {name}:\n    <<: *service\n    build: {{ <<: *build, args: {{ SERVICE: {name} }} }}\n"
             f"    volumes:\n      - ./.secrets/{name}:/etc/switchyard/secrets:ro\n"
             f"      - ./.secrets/public:/etc/switchyard/public:ro\n"
             f"    environment:\n      {env}\n"
             f"      {prefix}DATABASE_URL: postgres://{name}@postgres:5432/{name}\n"
             f"      {prefix}DATABASE_PASSWORD_FILE: /etc/switchyard/secrets/db-password\n"
             + (f"      AMQP_URL: amqp://{name}@rabbitmq:5672/%2f\n"
                f"      AMQP_PASSWORD_FILE: /etc/switchyard/secrets/broker-password\n" if broker else "")
             + f"      {prefix}CONSUL_URL: http://consul:8500\n"
             f"      {prefix}AUTH__IDENTITY_KEY_FILE: /etc/switchyard/secrets/identity.pem\n"
             f"      {prefix}AUTH__SERVICE_KEYS_FILE: /etc/switchyard/public/service-keys.json\n"
             f"      {prefix}AUTH__USER_KEYS_URLS: http://user:8081/.well-known/jwks.json\n\n")
    changes.edit("docker-compose.yml", r"^(  gateway:\n)", block.replace("\\", "\\\\") + r"\1")
    changes.edit("docker-compose.yml", r"^(      - \./\.secrets/analytics/db-password:/run/secrets/db/analytics:ro\n)",
                 rf"\1      - ./.secrets/{name}/db-password:/run/secrets/db/{name}:ro\n")
    changes.edit("docker-compose.yml",
                 r"^(  gateway:\n(?:    .*\n|      .*\n)*?      analytics: \{ condition: service_healthy \}\n)",
                 rf"\1      {name}: {{ condition: service_healthy }}\n")
    if broker:
        changes.edit("docker-compose.yml",
                     r"^(      - \./\.secrets/analytics/broker-password:/run/secrets/broker/analytics/broker-password:ro\n)",
                     rf"\1      - ./.secrets/{name}/broker-password:/run/secrets/broker/{name}/broker-password:ro\n")
        changes.edit("deploy/compose/kafka.yml", r"^(  analytics: .*\n)",
                     rf"\1  {name}: {{ environment: *kafka, depends_on: *kafka-started }}\n")


def kubernetes(changes, name):
    """Its image in each overlay, beside analytics'. Its Deployment,
    Services, budget and autoscaler are generated from the list
    (deploy/k8s_manifests.py), its Secret by deploy/k8s/secrets.sh."""
    for overlay in ("dev", "production"):
        changes.edit(f"deploy/k8s/overlays/{overlay}/kustomization.yaml", r"^(  - \{name: switchyard-analytics, (.*)\}\n)",
                     lambda m: m.group(1) + f"  - {{name: switchyard-{name}, "
                     + m.group(2).replace("switchyard/analytics", f"switchyard/{name}") + "}\n")


def readme(changes, name, chosen, ports, publishes, consumes):
    grpc = f"{ports[1]}" if "grpc" in chosen else "–"
    protocol = f"REST, gRPC `{name}.v1`" if "grpc" in chosen else "REST"
    published = ", ".join(f"`{e}`" for e in publishes) or "–"
    consumed = ", ".join(f"`{e}`" for e in consumes) or "–"
    changes.edit("README.md", r"^(\| analytics \| 8085 / 9085 .*\n)",
                 rf"\1| {name} | {ports[0]} / {grpc} | {protocol} | `{name}` database: items | {published} | {consumed} |\n")
    rpc = "`GetItem`" if "grpc" in chosen else "–"
    changes.edit("README.md", r"^(\| analytics \| `GET /api/analytics/summary`.*\n)",
                 rf"\1| {name} | `POST /api/{name}/items`, `GET /api/{name}/items/{{id}}` | {rpc} |\n")


def write_generated(root):
    """init.sql, the broker users, routes.json and the Kubernetes manifests,
    from the list as it now is."""
    service_list.generate(root)


def generate(root, name, grpc, publishes, consumes, cargo=True):
    services, events = validate(root, name, publishes, consumes)
    chosen = {o for o, on in (("grpc", grpc), ("publishes", publishes), ("consumes", consumes)) if on}
    ports = next_ports(services)
    changes = Changes(root)
    service_crate(changes, root, name, chosen, ports, publishes, consumes, events)
    if publishes:
        events_crate(changes, name, publishes)
    if grpc:
        contracts(changes, name)
    changes.edit(service_list.LIST, r'^(\[\[service\]\]\nname = "gateway"\n)',
                 service_entry(name, chosen, ports, publishes, consumes).replace("\\", "\\\\") + r"\1")
    changes.edit("Cargo.toml", r'^(    "services/analytics",\n)', rf'\1    "services/{name}",\n')
    changes.edit("tests/e2e/src/system.rs", r'"gateway"\]', f'"{name}", "gateway"]')
    compose(changes, name, bool(publishes or consumes))
    kubernetes(changes, name)
    readme(changes, name, chosen, ports, publishes, consumes)
    undo = changes.apply()
    if not cargo:  # the generator's own tests, on a copy without the crates
        write_generated(root)
        return ports, sorted(changes.files)
    try:
        write_generated(root)
        rust = [os.path.join(root, p) for p in changes.files if p.endswith(".rs")]
        subprocess.run(["rustfmt", "--edition", "2024", *rust], cwd=root, check=True)
        # Only the new package joins the lock file; no version moves.
        subprocess.run(["cargo", "update", "--workspace", "--offline", "--quiet"], cwd=root, check=True)
    except (subprocess.CalledProcessError, OSError):
        undo()
        write_generated(root)
        raise
    return ports, sorted(changes.files)


def main(argv):
    parser = argparse.ArgumentParser(prog="just new-service", description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--grpc", action="store_true")
    parser.add_argument("--publishes", nargs="+", default=[], metavar="TYPE")
    parser.add_argument("--consumes", nargs="+", default=[], metavar="TYPE")
    parser.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--no-cargo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        ports, written = generate(args.root, args.name, args.grpc, args.publishes, args.consumes,
                                 cargo=not args.no_cargo)
    except Refused as refusal:
        print(f"new-service: refused: {refusal}; nothing was changed", file=sys.stderr)
        return 1
    print(f"new-service: {args.name} on ports {ports[0]} (HTTP)" + (f", {ports[1]} (gRPC)" if args.grpc else "")
          + f" and {ports[2]} (metrics, internal)")
    print("\n".join(f"  wrote {p}" for p in written + ["Cargo.lock"]))
    print(f"next: cargo test -p {args.name}, then just dev (docs/adding-a-service.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
