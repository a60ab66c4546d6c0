#!/usr/bin/env bash
# Creates the dev stack's kind cluster "canary" (context kind-canary) with a local registry,
# following kind's "Local Registry" guide. Safe to run again: it only creates what is missing.
#
# The registry is one container, kind-registry, reached under two names:
#   - localhost:5001 from the host (docker push localhost:5001/hello:dev);
#   - kind-registry:5000 from the nodes' containerd and from pods (the build pipeline pushes
#     kind-registry:5000/hello there). Both resolve the name through Docker's embedded DNS:
#     the registry joins the "kind" network, and kind's node entrypoint forwards the node's
#     DNS, and the pods' through CoreDNS, to Docker's embedded DNS.
#
# Environment: KIND_CLUSTER_NAME (default canary), REGISTRY_IMAGE (default registry:2).
set -euo pipefail

cluster="${KIND_CLUSTER_NAME:-canary}"
registry_name="kind-registry"
registry_port="5000"
host_port="5001"
registry_image="${REGISTRY_IMAGE:-registry:2}"
config="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster.yaml"

for tool in docker kind kubectl; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "error: ${tool} is not installed" >&2
    exit 1
  fi
done

# 1. The registry container, unless it is running.
if [ "$(docker inspect -f '{{.State.Running}}' "${registry_name}" 2>/dev/null || true)" != "true" ]; then
  if docker inspect "${registry_name}" >/dev/null 2>&1; then
    docker start "${registry_name}" >/dev/null
  else
    docker run -d --restart=always --name "${registry_name}" \
      -p "127.0.0.1:${host_port}:${registry_port}" --network bridge "${registry_image}" >/dev/null
  fi
  echo "registry ${registry_name} running (host: localhost:${host_port})"
fi

# 2. The cluster, unless it exists.
# grep without -q reads all input: with pipefail, an early exit would fail the pipeline.
if kind get clusters 2>/dev/null | grep -x "${cluster}" >/dev/null; then
  echo "cluster ${cluster} exists"
else
  kind create cluster --name "${cluster}" --config "${config}"
fi

# 3. Registry aliases for containerd on every node: plain HTTP to the registry container.
for node in $(kind get nodes --name "${cluster}"); do
  for alias in "${registry_name}:${registry_port}" "localhost:${host_port}"; do
    dir="/etc/containerd/certs.d/${alias}"
    docker exec "${node}" mkdir -p "${dir}"
    printf '[host."http://%s:%s"]\n' "${registry_name}" "${registry_port}" |
      docker exec -i "${node}" cp /dev/stdin "${dir}/hosts.toml"
  done
done

# 4. The registry on the cluster's network, where Docker's embedded DNS resolves its name.
if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "${registry_name}")" = "null" ]; then
  docker network connect kind "${registry_name}"
fi

# 5. Document the registry for tools in the cluster (KEP-1755).
kubectl --context "kind-${cluster}" apply -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:${host_port}"
    hostFromContainerRuntime: "${registry_name}:${registry_port}"
    hostFromClusterNetwork: "${registry_name}:${registry_port}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
EOF

echo "ready: kubectl --context kind-${cluster}; push to localhost:${host_port}/<image>," \
  "pull in the cluster as ${registry_name}:${registry_port}/<image>"
