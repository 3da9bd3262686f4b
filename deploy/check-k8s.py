#!/usr/bin/env python3
"""Renders every overlay of deploy/k8s with `kubectl kustomize` and checks
what comes out, offline (no cluster):

- every object validates against the schemas of the Kubernetes version
  kubectl names (kubernetes-validate, strict: an unknown field fails), and
  a kind without a schema fails instead of being skipped;
- every container's variables are ones its binary reads (`<binary>
  settings-keys`), or inputs another of its variables spells `$(NAME)`;
- every probe asks a path comms' health router serves, on the port the
  binary listens on for HTTP; each container has all three probes;
- every service of deploy/services.toml has a Deployment and a Service
  (and a headless one, but the gateway), and no Deployment is unlisted;
- terminationGracePeriodSeconds is above the preStop delay plus the
  service's drain, deregistration and span flush;
- each container runs as non-root on a read-only root filesystem, without
  privilege escalation or any capability, with requests and a memory limit
  above the peak the bench last measured for its service (figure 8's
  VmHWM, bench/results/latest.json);
- the Ingress reaches the gateway's public port only, and no Service
  exposes a /metrics listener (DESIGN.md, rule 4);
- each image carries the tag its overlay gave it;
- no secret material is tracked under deploy/k8s: the overlays' secrets
  folders are ignored by git and no tracked file holds a Secret's data.

The secrets an overlay needs are made in a temporary copy
(deploy/k8s/secrets.sh), never in the tree.

Usage: tools/python/run deploy/check-k8s.py [binary-dir]   (default target/debug)
       (`just check-k8s`; kubernetes-validate comes from the project's .venv)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import kubernetes_validate
import yaml

import services as service_list

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K8S = "deploy/k8s"
OVERLAYS = "deploy/k8s/overlays"
HEALTH_ROUTER = "libs/comms/src/health.rs"
BENCH = "bench/results/latest.json"


def main(args):
    bin_dir = args[0] if args else os.path.join(ROOT, "target", "debug")
    services = service_list.load(ROOT)
    version = kubectl_version()
    paths = health_paths(ROOT)
    keys = settings_keys(bin_dir, services)
    peaks = memory_peaks(ROOT)
    failures = tracked_secret_problems(ROOT)
    for overlay in overlays(ROOT):
        objects, error = render(ROOT, overlay)
        if error:
            failures.append(f"{overlay}: kubectl kustomize failed:\n{error}")
            continue
        problems = check(objects, services, keys, paths, version, peaks)
        failures += [f"{overlay}: {p}" for p in problems]
        if not problems:
            print(f"{overlay}: {len(objects)} objects valid for Kubernetes {version} and agree with the services")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


def check(objects, services, keys, paths, version, peaks):
    return (schema_problems(objects, version) + inventory_problems(objects, services)
            + container_problems(objects, services, keys, paths, peaks) + exposure_problems(objects, services))


def overlays(root):
    return sorted(os.path.join(OVERLAYS, d) for d in os.listdir(os.path.join(root, OVERLAYS))
                  if os.path.isfile(os.path.join(root, OVERLAYS, d, "kustomization.yaml")))


def kubectl_version():
    """`1.32.4` from kubectl's client version (`v1.32.4-dispatcher`)."""
    out = subprocess.run(["kubectl", "version", "--client", "-o", "yaml"], capture_output=True, text=True,
                         check=True).stdout
    git_version = yaml.safe_load(out)["clientVersion"]["gitVersion"]
    return re.match(r"v?(\d+\.\d+\.\d+)", git_version).group(1)


def health_paths(root):
    """The paths comms' health router serves, read from its source."""
    with open(os.path.join(root, HEALTH_ROUTER)) as f:
        return set(re.findall(r'\.route\("(/health/[a-z]+)"', f.read()))


def memory_peaks(root):
    """MB by service: the most each held in the last bench run (VmHWM)."""
    with open(os.path.join(root, BENCH)) as f:
        return json.load(f).get("memory_peak_mb") or {}


def mebibytes(quantity):
    """A Kubernetes memory quantity in MiB: `256Mi`, `1Gi`, `300M`."""
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity)).groups()
    factor = {"": 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20,
              "G": 1e9 / 2**20}[unit]
    return float(number) * factor


def settings_keys(bin_dir, services):
    return {s["name"]: set(subprocess.run([os.path.join(bin_dir, s["name"]), "settings-keys"], capture_output=True,
                                          text=True, check=True).stdout.split())
            for s in services}


def render(root, overlay):
    """(objects, None), or (None, kubectl's error). In a copy of deploy/,
    with the overlay's secrets made there."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(os.path.join(root, "deploy"), os.path.join(tmp, "deploy"),
                        ignore=shutil.ignore_patterns("secrets", "__pycache__"))
        name = os.path.basename(overlay)
        made = subprocess.run([os.path.join(tmp, K8S, "secrets.sh"), name], capture_output=True, text=True)
        if made.returncode != 0:
            return None, made.stderr
        result = subprocess.run(["kubectl", "kustomize", os.path.join(tmp, overlay)], capture_output=True, text=True)
        if result.returncode != 0:
            return None, result.stderr.strip()
        return [o for o in yaml.safe_load_all(result.stdout) if o], None


def name_of(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def schema_problems(objects, version):
    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{name_of(obj)}: no schema for {obj.get('apiVersion')} {obj.get('kind')} in "
                            f"Kubernetes {version}: a custom resource this check cannot validate")
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{name_of(obj)}: invalid for Kubernetes {version}: {error.message} at "
                            f"{'/'.join(str(p) for p in error.path)}")
    return problems


def of_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o.get("kind") == kind}


def inventory_problems(objects, services):
    deployments, svcs = of_kind(objects, "Deployment"), of_kind(objects, "Service")
    names = {s["name"] for s in services}
    problems = [f"Deployment/{n} is no service of {service_list.LIST}" for n in sorted(set(deployments) - names)]
    for s in services:
        name = s["name"]
        if name not in deployments:
            problems.append(f"{name} has no Deployment")
        if name not in svcs:
            problems.append(f"{name} has no Service")
        if name != service_list.GATEWAY:
            headless = svcs.get(f"{name}-headless")
            if headless is None or headless["spec"].get("clusterIP") != "None":
                problems.append(f"{name} has no headless Service {name}-headless, which its callers resolve")
    return problems


def container_problems(objects, services, keys, paths, peaks):
    problems = []
    by_name = service_list.by_name(services)
    for name, deployment in sorted(of_kind(objects, "Deployment").items()):
        service = by_name.get(name)
        if service is None:
            continue
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            label = f"{name}'s container {container['name']}"
            problems += env_problems(label, container, keys[name])
            problems += probe_problems(label, container, service, paths)
            problems += security_problems(label, pod, container)
            problems += memory_problems(label, container, peaks.get(name))
            if not re.search(r":[^/]+$|@sha256:", container.get("image", "")):
                problems.append(f"{label}: image {container.get('image')} has no tag: its overlay's `images` "
                                "names none")
        problems += grace_problems(name, pod, service)
    return problems


def env_problems(label, container, keys):
    env = container.get("env") or []
    inputs = {ref for e in env for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value") or "")}
    problems = [f"{label} is given {e['name']}, which its binary does not read" for e in env
                if e["name"] not in keys and e["name"] not in inputs]
    if container.get("envFrom"):
        problems.append(f"{label} takes envFrom, whose keys this check cannot compare with its settings")
    return problems


def probe_problems(label, container, service, paths):
    problems = []
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(kind)
        if probe is None:
            problems.append(f"{label} has no {kind}")
            continue
        get = probe.get("httpGet")
        if get is None:
            problems.append(f"{label}'s {kind} is not an HTTP GET of a health path")
            continue
        if get.get("path") not in paths:
            problems.append(f"{label}'s {kind} asks {get.get('path')}, which the service does not serve "
                            f"({', '.join(sorted(paths))} do)")
        port = ports.get(get["port"], get["port"])
        if port != service["http_port"]:
            problems.append(f"{label}'s {kind} asks port {get['port']} ({port}), not its HTTP port "
                            f"{service['http_port']}")
    return problems


def prestop_secs(container):
    command = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    if len(command) == 2 and command[0] == "sleep":
        return int(command[1])
    sleep = ((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep")
    return int(sleep["seconds"]) if sleep else 0


def grace_problems(name, pod, service):
    problems = []
    for container in pod["containers"]:
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        drain = int(env.get(f"{service['prefix']}SHUTDOWN_GRACE_SECS") or service_list.DEFAULT_SHUTDOWN_GRACE_SECS)
        needed = prestop_secs(container) + service_list.shutdown_secs(service, drain)
        given = pod.get("terminationGracePeriodSeconds", 30)
        if given <= needed:
            problems.append(f"{name}'s terminationGracePeriodSeconds is {given}, not above its preStop delay, drain, "
                            f"deregistration and flush ({needed} s)")
    return problems


def security_problems(label, pod, container):
    pod_context, context = pod.get("securityContext") or {}, container.get("securityContext") or {}
    problems = []
    if not (context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))):
        problems.append(f"{label} may run as root (runAsNonRoot)")
    if context.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{label}'s root filesystem is writable (readOnlyRootFilesystem)")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{label} may escalate privileges (allowPrivilegeEscalation)")
    if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
        problems.append(f"{label} keeps capabilities (drop: [ALL])")
    resources = container.get("resources") or {}
    if not (resources.get("requests") or {}).get("memory") or not (resources.get("limits") or {}).get("memory"):
        problems.append(f"{label} has no memory request and limit")
    return problems


def memory_problems(label, container, peak_mb):
    """The limit leaves room for the service's measured peak (MB, as
    /proc reports kB / 1024: MiB)."""
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit is None or peak_mb is None or mebibytes(limit) > peak_mb:
        return []
    return [f"{label}'s memory limit {limit} is not above its peak of {peak_mb} MB in the last bench run "
            f"({BENCH}, figure 8)"]


def exposure_problems(objects, services):
    """Only the gateway's public port leaves the cluster; no Service carries
    a metrics port."""
    problems = []
    gateway = service_list.by_name(services).get(service_list.GATEWAY)
    for name, ingress in sorted(of_kind(objects, "Ingress").items()):
        for rule in ingress["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path["backend"].get("service") or {}
                port = backend.get("port") or {}
                if backend.get("name") != service_list.GATEWAY or port.get("name", port.get("number")) not in (
                        "http", gateway and gateway["http_port"]):
                    problems.append(f"Ingress/{name} reaches {backend.get('name')} port {port}, not the gateway's "
                                    "public port")
    metrics = {s["metrics_port"] for s in services}
    for name, svc in sorted(of_kind(objects, "Service").items()):
        for port in svc["spec"].get("ports") or []:
            if port.get("name") == "metrics" or port.get("port") in metrics or port.get("targetPort") == "metrics":
                problems.append(f"Service/{name} exposes a metrics listener (port {port.get('port')})")
    return problems


def tracked_secret_problems(root):
    """Nothing an overlay's secrets folder holds is tracked, git ignores the
    folders, and no tracked manifest carries a Secret's data."""
    problems = []
    tracked = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", K8S], capture_output=True, text=True,
                             check=True).stdout.split("\0")
    for path in filter(None, tracked):
        if re.match(rf"{OVERLAYS}/[^/]+/secrets/", path):
            problems.append(f"{path}: an overlay's secret file is tracked by git")
        elif path.endswith((".yaml", ".yml")) and os.path.exists(os.path.join(root, path)):
            with open(os.path.join(root, path)) as f:
                try:
                    documents = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
                except yaml.YAMLError:
                    continue
            problems += [f"{path}: a Secret with its data in a tracked file" for d in documents
                         if d.get("kind") == "Secret" and (d.get("data") or d.get("stringData"))]
    for overlay in overlays(root):
        probe = f"{overlay}/secrets/user/identity.pem"
        if subprocess.run(["git", "-C", root, "check-ignore", "-q", probe]).returncode != 0:
            problems.append(f"{probe}: not ignored by git; add {OVERLAYS}/*/secrets/ to .gitignore")
    return problems


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
