"""The service list's check (deploy/services.py check) on a copy of the
files it compares: the copy as it is passes; a service taken out of any one
place, a port changed on one side, or a port or prefix used twice fails,
naming the place. `just test` runs this file."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "deploy", "services.py")

# Everything the check reads; services' crates are added below.
FILES = [
    "deploy/services.toml", "deploy/postgres/init.sql", "deploy/rabbitmq/users", "deploy/gateway/routes.json",
    "deploy/Dockerfile",
    "docker-compose.yml", "deploy/compose/kafka.yml", "Cargo.toml", "tests/e2e/src/system.rs",
    "libs/contracts/build.rs", "libs/contracts/src/lib.rs",
]
DIRECTORIES = ["libs/events/src", "proto", "deploy/k8s"]


def service_files():
    """The file of each crate holding its `ServiceDefaults`."""
    found = []
    for name in os.listdir(os.path.join(ROOT, "services")):
        for directory, _, files in os.walk(os.path.join(ROOT, "services", name, "src")):
            for file in files:
                path = os.path.join(directory, file)
                with open(path) as f:
                    if "ServiceDefaults::new(" in f.read():
                        found.append(os.path.relpath(path, ROOT))
    return found


class ServiceListCheck(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="switchyard-services-")
        self.addCleanup(shutil.rmtree, self.root)
        for path in FILES + service_files():
            os.makedirs(os.path.dirname(os.path.join(self.root, path)), exist_ok=True)
            shutil.copy(os.path.join(ROOT, path), os.path.join(self.root, path))
        for path in DIRECTORIES:
            shutil.copytree(os.path.join(ROOT, path), os.path.join(self.root, path))

    def edit(self, path, old, new="", count=1):
        full = os.path.join(self.root, path)
        with open(full) as f:
            text = f.read()
        changed = re.sub(old, new, text, count=count, flags=re.M | re.S)
        self.assertNotEqual(changed, text, f"{old!r} is not in {path}: the test is out of date")
        with open(full, "w") as f:
            f.write(changed)

    def check(self):
        return subprocess.run([sys.executable, SCRIPT, "check", self.root], capture_output=True, text=True)

    def assert_change_fails(self, path, old, new, *places):
        """On a fresh copy, `old` in `path` becomes `new`, and the check
        fails naming each of `places`."""
        self.setUp()
        self.edit(path, old, new)
        self.assert_fails_naming(*places)

    def assert_fails_naming(self, *places):
        result = self.check()
        self.assertNotEqual(result.returncode, 0, result.stdout)
        for place in places:
            self.assertIn(place, result.stderr)

    def test_the_unchanged_copy_passes(self):
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_service_missing_from_any_one_place_is_named(self):
        removals = {
            "Cargo.toml": [(r'^\s*"services/analytics",\n', "")],
            "docker-compose.yml": [(r"^  analytics:\n.*?\n\n", ""), (r"^\s*analytics: \{ condition.*?\n", "")],
            "deploy/compose/kafka.yml": [(r"^  analytics:.*?\n", "")],
            "tests/e2e/src/system.rs": [(r'"analytics", ', "")],
            "libs/contracts/build.rs": [(r'^\s*\("analytics/.*?\n', "")],
            "libs/contracts/src/lib.rs": [(r"^package!\(analytics,.*?\n", "")],
            "deploy/postgres/init.sql": [(r"^\\set role analytics\n\\set database analytics\n\\ir .*?\n", "")],
            "deploy/rabbitmq/users": [(r"^analytics .*?\n", "")],
            "deploy/gateway/routes.json": [(r',\n    \{ "name": "analytics"[^\n]*', "")],
            "services/analytics/src": [],
        }
        for place, edits in removals.items():
            with self.subTest(place=place):
                self.setUp()
                if edits:
                    for old, new in edits:
                        self.edit(place, old, new)
                else:
                    os.remove(os.path.join(self.root, place, "lib.rs"))
                self.assert_fails_naming(place, "analytics")

    def test_a_service_missing_from_the_list_is_named_where_it_remains(self):
        self.edit("deploy/services.toml", r'^\[\[service\]\]\nname = "analytics".*?(?=^\[\[service\]\])', "")
        self.assert_fails_naming("Cargo.toml: workspace member services/analytics is not in the list",
                                 "docker-compose.yml: service analytics is not in the list")

    def test_a_port_changed_on_one_side_is_named(self):
        lib = "services/analytics/src/lib.rs"
        self.assert_change_fails("deploy/services.toml", r"^http_port = 8085$", "http_port = 8086",
                                 f"{lib}: analytics's http_port is 8085, the list says 8086")
        self.assert_change_fails(lib, r"Some\(9085\)", "Some(9095)", f"{lib}: analytics's grpc_port is Some(9095)")
        self.assert_change_fails(lib, r"7085\)", "7095)", f"{lib}: analytics's metrics_port is 7095, the list says 7085")

    def test_a_port_or_prefix_used_twice_is_refused(self):
        for old, new, named in [
            (r"^http_port = 8085$", "http_port = 8084", "analytics and notification share the port 8084"),
            (r"^metrics_port = 7085$", "metrics_port = 8084", "analytics and notification share the port 8084"),
            (r"^metrics_port = 7085\n", "", "analytics has no metrics_port"),
            (r'^prefix = "ANALYTICS_"$', 'prefix = "NOTIFICATION_"',
             "analytics and notification share the prefix NOTIFICATION_"),
        ]:
            self.assert_change_fails("deploy/services.toml", old, new, named)

    def test_an_event_outside_its_namespace_or_undefined_is_named(self):
        self.edit("deploy/services.toml", r'^publishes = \["user.registered"\]$',
                  'publishes = ["user.registered", "order.lost"]')
        self.assert_fails_naming("deploy/services.toml: user publishes order.lost, outside its namespace user.")

        self.setUp()
        self.edit("deploy/services.toml", r'^publishes = \["user.registered"\]$',
                  'publishes = ["user.registered", "user.forgotten"]')
        self.assert_fails_naming("libs/events: user publishes user.forgotten, which no type there defines")

    def test_a_service_given_another_services_secrets_or_none_is_named(self):
        self.edit("docker-compose.yml", r"\./\.secrets/order:", "./.secrets/user:")
        self.assert_fails_naming("order does not mount its own secrets, .secrets/order",
                                 "order mounts another service's secrets")

        self.setUp()
        self.edit("docker-compose.yml", r"^      ANALYTICS_AUTH__IDENTITY_KEY_FILE: .*?\n", "")
        self.assert_fails_naming("analytics is given no identity key or service keys file")

    def test_compose_that_exposes_infrastructure_holds_a_password_or_kills_a_drain_fails(self):
        cases = [
            ("docker-compose.yml", r'"127\.0\.0\.1:8500:8500"', '"8500:8500"',
             ["consul publishes port 8500 beyond 127.0.0.1"]),
            ("docker-compose.yml", r"^  RUST_LOG: info$", "  RUST_LOG: info\n  ADMIN_PASSWORD: hunter2",
             ["ADMIN_PASSWORD is a literal"]),
            ("docker-compose.yml", r"http://jaeger:4317", "http://otel:hunter2@jaeger:4317",
             ["a URL carries a password"]),
            ("docker-compose.yml", r"^  stop_grace_period: 35s$", "  stop_grace_period: 20s",
             ["gateway's stop_grace_period is 20 s", "user's stop_grace_period is 20 s"]),
            ("deploy/Dockerfile", r"^RUN apt-get .*ca-certificates.*$", "",
             ["the runtime image does not install ca-certificates"]),
        ]
        for path, old, new, named in cases:
            with self.subTest(named[0]):
                self.assert_change_fails(path, old, new, *named)

    def test_a_scalable_service_with_a_host_port_a_container_name_or_a_shared_advertise_host_fails(self):
        cases = [
            ("docker-compose.yml", r"^(  inventory:\n    <<: \*service\n)", r'\1    ports: ["8083:8083"]\n',
             ["inventory is scalable but publishes host port 8083"]),
            ("docker-compose.yml", r"^(  order:\n    <<: \*service\n)", r"\1    container_name: switchyard-order\n",
             ["order is scalable but has a container_name (switchyard-order)"]),
            ("docker-compose.yml", r"^(      ANALYTICS_CONSUL_URL: [^\n]*\n)", r"\1      ANALYTICS_ADVERTISE_HOST: analytics\n",
             ["analytics is scalable but sets ANALYTICS_ADVERTISE_HOST"]),
        ]
        for path, old, new, named in cases:
            with self.subTest(named[0]):
                self.assert_change_fails(path, old, new, *named)
        # The gateway is not scalable: its fixed host port is the system's front door.
        self.setUp()
        self.assertEqual(self.check().returncode, 0, self.check().stderr)

    def test_a_container_with_neither_a_healthcheck_nor_a_commented_service_started_fails(self):
        cases = [
            # Mailpit's healthcheck gone: notification waits for service_healthy on nothing.
            ("docker-compose.yml", r"^(  mailpit:\n[^\n]*\n[^\n]*\n)    # The image's own[^\n]*\n    healthcheck:\n(?:      [^\n]*\n)+",
             r"\1", ["mailpit has no healthcheck"]),
            # tansu waited for with service_started, but nothing says why.
            ("deploy/compose/kafka.yml", r"^(x-kafka-started: &kafka-started\n)(?:  #[^\n]*\n)+", r"\1",
             ["kafka has no healthcheck"]),
            # The image built for the services without its HEALTHCHECK.
            ("deploy/Dockerfile", r"^HEALTHCHECK [^\n]*\n", "", ["the runtime image has no HEALTHCHECK"]),
        ]
        for path, old, new, named in cases:
            with self.subTest(named[0]):
                self.assert_change_fails(path, old, new, *named)

    def test_a_name_the_build_script_cannot_read_is_named(self):
        self.edit("deploy/services.toml", r'^name = "analytics"$', 'name="analytics"')
        self.assert_fails_naming("deploy/build.sh would read the names")


class DevProxy(unittest.TestCase):
    """`just dev` with its fault proxy: every link `just break` may slow or
    cut goes through a proxy route, and that route leads to the right port."""

    def setUp(self):
        sys.path.insert(0, os.path.dirname(SCRIPT))
        import services
        self.services = services
        self.listed = services.load()

    def test_every_upstream_and_the_broker_go_through_a_route_to_the_real_port(self):
        routes = {f"127.0.0.1:{listen}": (name, upstream)
                  for name, listen, upstream in self.services.dev_proxy_routes(self.listed)}
        for service in self.listed:
            env = self.services.dev_env(self.listed, service["name"], "127.0.0.1", "", proxied=True)
            plain = self.services.dev_env(self.listed, service["name"], "127.0.0.1", "")
            upstreams = env.get(f"{service['prefix']}UPSTREAMS")
            for entry in upstreams.split(";") if upstreams else []:
                upstream, address = entry.split("=")
                direct = dict(e.split("=") for e in plain[f"{service['prefix']}UPSTREAMS"].split(";"))[upstream]
                self.assertIn(address, routes, f"{service['name']} calls {upstream} around the proxy")
                self.assertEqual(routes[address], (upstream, int(direct.rsplit(":", 1)[1])))
            if self.services.uses_broker(service):
                address = env["AMQP_URL"].split("@")[1].split("/")[0]
                self.assertEqual(routes[address], ("broker", self.services.BROKER[1]))
            else:
                self.assertNotIn("AMQP_URL", env)

    def test_replicas_get_their_own_ports_and_every_caller_is_told_about_each(self):
        replicas = self.services.parse_replicas(self.listed, ["order=2", "inventory=3"])
        routes = {listen: (name, upstream) for name, listen, upstream
                  in self.services.dev_proxy_routes(self.listed, replicas)}
        inventory = self.services.by_name(self.listed)["inventory"]
        ports = [self.services.instance_ports(inventory, k) for k in (1, 2, 3)]
        self.assertEqual(len({p["http"] for p in ports} | {p["grpc"] for p in ports} | {p["metrics"] for p in ports}), 9)
        order_env = self.services.dev_env(self.listed, "order", "127.0.0.1", "", proxied=True, replicas=replicas)
        inventory_grpc = dict(e.split("=") for e in order_env["ORDER_UPSTREAMS"].split(";"))["inventory-grpc"]
        listed = [int(a.rsplit(":", 1)[1]) for a in inventory_grpc.split(",")]
        self.assertEqual([routes[port] for port in listed],
                         [("inventory-grpc", ports[0]["grpc"]), ("inventory.2-grpc", ports[1]["grpc"]),
                          ("inventory.3-grpc", ports[2]["grpc"])], "order is told about every inventory instance")
        second = self.services.dev_env(self.listed, "order", "127.0.0.1", "", replicas=replicas, k=2)
        self.assertEqual((second["ORDER_HTTP_PORT"], second["ORDER_GRPC_PORT"], second["ORDER_METRICS_PORT"]),
                         ("8182", "9182", "7182"))
        used = {s[key] for s in self.listed for key in ("http_port", "grpc_port", "metrics_port") if key in s}
        self.assertFalse(used & {p[k] for p in ports[1:] for k in p}, "no replica port is another service's")

    def test_replicas_of_a_service_that_does_not_scale_or_too_many_are_refused(self):
        for words, why in [(["gateway=2"], "runs as one instance"), (["order=10"], "1 to 9"),
                           (["shipping=2"], "no service 'shipping'"), (["order=two"], "1 to 9")]:
            with self.subTest(words[0]), self.assertRaisesRegex(ValueError, why):
                self.services.parse_replicas(self.listed, words)

    def test_no_route_listens_on_a_port_a_service_uses(self):
        used = {s[key] for s in self.listed for key in ("http_port", "grpc_port", "metrics_port") if key in s}
        listens = [listen for _, listen, _ in self.services.dev_proxy_routes(self.listed)]
        self.assertEqual(len(listens), len(set(listens)))
        self.assertFalse(used & set(listens) | used & {self.services.PROXY_CONTROL[1]})


if __name__ == "__main__":
    unittest.main()
