#!/usr/bin/env bash
# Installs PyTorch from PyPI in a virtual environment for `train bench --pytorch` (the baseline
# of issue 6), and prints the python to pass it. Not needed by CI or by training itself.
#   train/bench/setup-pytorch.sh [VENV]       default ~/.cache/mnist-edge/torch-venv
set -euo pipefail
venv=${1:-$HOME/.cache/mnist-edge/torch-venv}
TORCH=2.15.0
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH')" 2>/dev/null \
  || "$venv/bin/pip" install --quiet "torch==$TORCH" numpy >&2
echo "$venv/bin/python"
