# Debian 12's official Kubernetes client (python3-kubernetes 22) against the emulator: the
# calls a Python operator or script makes. Prints one line per step; exits non-zero on failure.
import sys

from kubernetes import client, config, watch

config.load_kube_config(sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
ns = "default"

created = core.create_namespaced_config_map(
    ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"app": "py"}), data={"a": "1"}))
rv = created.metadata.resource_version
print("created", created.metadata.name, rv)

current = core.read_namespaced_config_map("py", ns)
current.data["a"] = "2"
core.replace_namespaced_config_map("py", ns, current)

listing = core.list_namespaced_config_map(ns, label_selector="app=py")
print("listed", [c.metadata.name for c in listing.items], listing.metadata.resource_version)

# The client sends watch=True (capital T); a real API server reads it as true.
seen = []
w = watch.Watch()
for event in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=10):
    seen.append(event["type"] + ":" + event["object"].data["a"])
    if event["type"] == "MODIFIED":
        w.stop()
print("watched", ",".join(seen))
if seen != ["MODIFIED:2"]:
    sys.exit("expected one MODIFIED event with a=2, got %r" % seen)

deployment = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="py"),
    spec=client.V1DeploymentSpec(
        replicas=1,
        selector=client.V1LabelSelector(match_labels={"app": "py"}),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": "py"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="nginx:1.27")]))))
apps.create_namespaced_deployment(ns, deployment)
print("deployment", apps.read_namespaced_deployment("py", ns).spec.template.spec.containers[0].image)

core.delete_namespaced_config_map("py", ns)
try:
    core.read_namespaced_config_map("py", ns)
    sys.exit("the ConfigMap is still there after delete")
except client.exceptions.ApiException as e:
    print("deleted", e.status)
print("OK")
