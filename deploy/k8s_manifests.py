"""The Kubernetes manifests generated from the service list (deploy/k8s/,
docs/kubernetes.md): each service's Deployment and Services in the base,
its PodDisruptionBudget and HorizontalPodAutoscaler in the
high-availability component, and the base's kustomization that lists them.

`deploy/services.py generate` writes them and `deploy/services.py check`
compares them with the list, like init.sql and routes.json, so a service
`just new-service` adds gets its manifests with the rest. What is not per
service (the overlays, the Ingress) is written by hand in deploy/k8s/.

Text, not a YAML library: the files are read by people first, and the
standard library is all deploy/services.py may use.
"""
import json

BASE = "deploy/k8s/base"
HA = "deploy/k8s/components/high-availability"
HEADER = ("# Generated from deploy/services.toml by `deploy/services.py generate`; edit the list or\n"
          "# deploy/k8s_manifests.py, not this file.\n")

# The image deploy/Dockerfile builds for each service, before an overlay's
# `images` names its registry and tag. Compose builds the same names.
IMAGE = "switchyard-{name}"
# Where a container finds its own secrets and the public service keys,
# as under compose.
SECRETS_DIR = "/etc/switchyard/secrets"
PUBLIC_DIR = "/etc/switchyard/public"
ROUTES_DIR = "/etc/switchyard/routes"
# The Dockerfile's user; any non-root uid works, this one owns nothing.
UID = 10001

# The ConfigMap each overlay makes from its external.env: where PostgreSQL,
# RabbitMQ (or Kafka) and the trace collector are. They run outside these
# manifests (docs/kubernetes.md names operators for them).
EXTERNAL = "switchyard-external"

# Seconds the pod keeps serving after Kubernetes marks it terminating and
# before SIGTERM, while callers still find it in DNS: CoreDNS may answer
# from its cache for 30 s (kubeadm's and kind's Corefile: `ttl 30`,
# `cache 30`), and each caller asks again every DNS_INTERVAL_SECS (5 s).
PRESTOP_SECS = 35

# Bench figure 8 (bench/results/latest.md): the most resident memory each
# service held over a whole bench run (VmHWM). A service whose own peak
# needs more says so in the list (`k8s_resources`, with why).
MEMORY_FIGURE = ("bench figure 8 of 2026-12-07: peaks (VmHWM) over the whole run of 31-38 MB for\n"
                 "            # every service but user (132 MB, password hashing)")
RESOURCES = {"cpu_request": "50m", "memory_request": "64Mi", "memory_limit": "128Mi", "cpu_limit": None}

# Probe timing. Startup allows a minute for migrations against a slow
# database before liveness takes over; readiness drops a pod after two
# failures (10 s), liveness restarts it after three (30 s).
STARTUP = {"period": 2, "failures": 30}
READINESS = {"period": 5, "failures": 2}
LIVENESS = {"period": 10, "failures": 3}


def files(services, grace_of, uses_broker):
    """Every generated file: {path: text}. `grace_of(service)` is the
    service's drain + deregistration + flush in seconds (deploy/services.py
    computes it the same way for compose); `uses_broker(service)` is the
    list's own answer to whether it has a broker user."""
    out = {}
    for service in services:
        manifest = service_manifest(service, grace_of(service), uses_broker(service))
        out[f"{BASE}/services/{service['name']}.yaml"] = manifest
        out[f"{HA}/{service['name']}.yaml"] = availability(service)
    out[f"{BASE}/kustomization.yaml"] = base_kustomization(services)
    out[f"{HA}/kustomization.yaml"] = ha_kustomization(services)
    return out


def grace_period(service, grace):
    """terminationGracePeriodSeconds: above the preStop delay plus the
    drain, deregistration and flush, with 5 s to spare."""
    return PRESTOP_SECS + grace + 5


def labels(name, indent):
    pad = " " * indent
    return f"{pad}app.kubernetes.io/name: {name}\n{pad}app.kubernetes.io/part-of: switchyard\n"


def ports(service):
    """(name, number, appProtocol) of each port the container listens on."""
    out = [("http", service["http_port"], "http")]
    if "grpc_port" in service:
        # Cleartext HTTP/2, as the Kubernetes-defined value says.
        out.append(("grpc", service["grpc_port"], "kubernetes.io/h2c"))
    return out


def env_entries(service, broker):
    """The container's variables, in order: the values `$(NAME)` refers to
    come first, as Kubernetes requires."""
    name, prefix = service["name"], service["prefix"]
    from_external = []
    plain = [(f"{prefix}DISCOVERY", "dns")]
    # Prometheus scrapes the pod's address; no Service or Ingress exposes it.
    plain.append((f"{prefix}METRICS_HOST", "0.0.0.0"))
    from_external.append(("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"))
    if "database" in service:
        db = service["database"]
        from_external += [("POSTGRES_AUTHORITY", "POSTGRES_AUTHORITY"), ("POSTGRES_OPTIONS", "POSTGRES_OPTIONS")]
        plain += [(f"{prefix}DATABASE_URL", f"postgres://{db}@$(POSTGRES_AUTHORITY)/{db}?$(POSTGRES_OPTIONS)"),
                  (f"{prefix}DATABASE_PASSWORD_FILE", f"{SECRETS_DIR}/db-password")]
    if broker:
        from_external += [("BROKER", "BROKER"), ("KAFKA_BROKERS", "KAFKA_BROKERS"),
                          ("AMQP_SCHEME", "AMQP_SCHEME"), ("AMQP_AUTHORITY", "AMQP_AUTHORITY")]
        plain += [("AMQP_URL", f"$(AMQP_SCHEME)://{name}@$(AMQP_AUTHORITY)/%2f"),
                  ("AMQP_PASSWORD_FILE", f"{SECRETS_DIR}/broker-password")]
    plain += [(f"{prefix}AUTH__IDENTITY_KEY_FILE", f"{SECRETS_DIR}/identity.pem"),
              (f"{prefix}AUTH__SERVICE_KEYS_FILE", f"{PUBLIC_DIR}/service-keys.json")]
    if name != "user":
        # Configured, never taken from discovery (docs/patterns/identity.md).
        plain.append((f"{prefix}AUTH__USER_KEYS_URLS", "http://user:8081/.well-known/jwks.json"))
    if name == "gateway":
        from_external.append(("GATEWAY_TRUSTED_PROXIES", "GATEWAY_TRUSTED_PROXIES"))
        plain.append(("GATEWAY_ROUTES_FILE", f"{ROUTES_DIR}/routes.json"))
    plain += list(service.get("k8s_env", {}).items())
    lines = []
    for key, source in from_external:
        lines += [f"            - name: {key}",
                  f"              valueFrom: {{configMapKeyRef: {{name: {EXTERNAL}, key: {source}}}}}"]
    for key, value in plain:
        lines += [f"            - name: {key}", f"              value: {json.dumps(value)}"]
    return "\n".join(lines) + "\n"


def probe(kind, path, timing):
    return (f"          {kind}:\n"
            f"            httpGet: {{path: {path}, port: http}}\n"
            f"            periodSeconds: {timing['period']}\n"
            f"            timeoutSeconds: 2\n"
            f"            failureThreshold: {timing['failures']}\n")


def service_manifest(service, grace, broker):
    name = service["name"]
    container_ports = "".join(f"            - {{name: {p}, containerPort: {n}}}\n" for p, n, _ in ports(service))
    container_ports += f"            - {{name: metrics, containerPort: {service['metrics_port']}}}\n"
    service_ports = "".join(f"    - {{name: {p}, port: {n}, targetPort: {p}, appProtocol: {a}}}\n"
                            for p, n, a in ports(service))
    routes = routes_volume = ""
    if name == "gateway":
        routes = f"            - {{name: routes, mountPath: {ROUTES_DIR}, readOnly: true}}\n"
        routes_volume = "        - name: routes\n          configMap: {name: gateway-routes}\n"
    text = HEADER + f"""# {name}: its Deployment, the Service other pods and the Ingress reach it
# through{'' if name == 'gateway' else ', and the headless Service its callers discover its pods with'}.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
{labels(name, 4)}spec:
  replicas: 1
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
  strategy:
    # A new pod is ready before an old one goes: no capacity lost in a rollout.
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels:
{labels(name, 8)}      annotations:
        # The internal /metrics listener, on the pod's address only.
        prometheus.io/scrape: "true"
        prometheus.io/port: "{service['metrics_port']}"
        prometheus.io/path: /metrics
    spec:
      # It never calls the Kubernetes API: discovery reads DNS.
      automountServiceAccountToken: false
      # Kubernetes would otherwise set USER_PORT, USER_SERVICE_HOST... for
      # every Service, inside the services' own settings prefixes.
      enableServiceLinks: false
      # preStop ({PRESTOP_SECS} s) + drain, deregistration and flush ({grace} s) + 5 s.
      terminationGracePeriodSeconds: {grace_period(service, grace)}
      securityContext:
        runAsNonRoot: true
        runAsUser: {UID}
        runAsGroup: {UID}
        # The secret files are group-readable by this group only.
        fsGroup: {UID}
        seccompProfile: {{type: RuntimeDefault}}
      containers:
        - name: {name}
          image: {IMAGE.format(name=name)}
          # An overlay pins a tag; a tag is never pushed twice.
          imagePullPolicy: IfNotPresent
          ports:
{container_ports}          env:
{env_entries(service, broker)}          volumeMounts:
            - {{name: secrets, mountPath: {SECRETS_DIR}, readOnly: true}}
            - {{name: service-keys, mountPath: {PUBLIC_DIR}, readOnly: true}}
{routes}{probe("startupProbe", "/health/live", STARTUP)}{probe("readinessProbe", "/health/ready", READINESS)}{probe("livenessProbe", "/health/live", LIVENESS)}          lifecycle:
            # Readiness turns 503 at SIGTERM, but callers learn it only
            # through DNS; the pod keeps serving until they have.
            preStop:
              exec: {{command: [sleep, "{PRESTOP_SECS}"]}}
{resources(service)}          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
      volumes:
        - name: secrets
          secret: {{secretName: {name}-secrets, defaultMode: 0440}}
        - name: service-keys
          configMap: {{name: service-keys}}
{routes_volume}---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
{labels(name, 4)}spec:
  selector: {{app.kubernetes.io/name: {name}}}
  ports:
{service_ports}"""
    if name != "gateway":
        text += f"""---
# Its ready pods, one DNS record each (`_http._tcp.{name}-headless`): what
# callers balance over (comms' DNS discovery).
apiVersion: v1
kind: Service
metadata:
  name: {name}-headless
  labels:
{labels(name, 4)}spec:
  clusterIP: None
  selector: {{app.kubernetes.io/name: {name}}}
  ports:
{service_ports}"""
    return text


def resources(service):
    """Requests and limits: the defaults, or the service's own with its
    reason. No CPU limit by default: throttling costs tail latency, and
    the request already decides placement."""
    own = dict(service.get("k8s_resources", {}))
    why = own.pop("why", None)
    r = dict(RESOURCES, **own)
    limits = f"memory: {r['memory_limit']}" + (f", cpu: \"{r['cpu_limit']}\"" if r["cpu_limit"] else "")
    comment = f"            # From {MEMORY_FIGURE}.\n"
    if why:
        comment += "".join(f"            # {line}\n" for line in why.strip().splitlines())
    return (f"          resources:\n{comment}"
            f"            requests: {{cpu: {r['cpu_request']}, memory: {r['memory_request']}}}\n"
            f"            limits: {{{limits}}}\n")


def availability(service):
    name = service["name"]
    if not service.get("scale"):
        # The rate-limit buckets live in the gateway's process: a second
        # replica would double every client's rate (docs/scaling.md). One
        # pod, and a budget that still lets a node drain.
        return HEADER + budget(name, "maxUnavailable: 1")
    return HEADER + budget(name, "# A voluntary eviction (a node drain, an upgrade) leaves one pod serving.\n"
                                 "  minAvailable: 1") + f"""---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
  labels:
{labels(name, 4)}spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {{type: Utilization, averageUtilization: 70}}
"""


def budget(name, rule):
    return f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
  labels:
{labels(name, 4)}spec:
  {rule}
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
"""


def base_kustomization(services):
    resources = "".join(f"  - services/{s['name']}.yaml\n" for s in services)
    return HEADER + f"""# The whole system, one replica each, without its secrets and its external
# addresses: an overlay adds both (deploy/k8s/overlays, docs/kubernetes.md).
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs: {{app.kubernetes.io/part-of: switchyard}}
resources:
{resources}  - ingress.yaml
configMapGenerator:
  # The route table, a copy of deploy/gateway/routes.json (checked).
  - name: gateway-routes
    files: [routes.json]
"""


def ha_kustomization(services):
    resources = "".join(f"  - {s['name']}.yaml\n" for s in services)
    scaled = [s["name"] for s in services if s.get("scale")]
    return HEADER + f"""# At least two replicas of every service that may run as several, scaled on
# CPU (a metrics server needed), and a budget that keeps one serving
# through a drain.
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
{resources}patches:
  # The autoscaler owns their count (two at least): a replicas field would
  # set it back at every apply.
  - target: {{kind: Deployment, name: "^({'|'.join(scaled)})$"}}
    patch: |-
      - op: remove
        path: /spec/replicas
"""
