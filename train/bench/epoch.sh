#!/usr/bin/env bash
# The time a user waits for one epoch of the seed (issue 18): `train train --epochs 1`
# (augmentation and the test evaluation included) against the same epoch in PyTorch
# (`pytorch_epoch.py`: same data, augmentation, optimizer, schedule and evaluation), taking
# turns REPEATS times, on this machine's CPU. Prints each pair and the medians.
#   train/bench/epoch.sh [REPEATS]        default 3; MNIST_DIR as for `train`
# Needs PyTorch (train/bench/setup-pytorch.sh installs it, ~2.5 min) and a release `train`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
repeats=${1:-3}
: "${MNIST_DIR:=$root/data/mnist}"
export MNIST_DIR
python=$("$here/setup-pytorch.sh")
cargo build --quiet --release -p train --manifest-path "$root/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
train="$target/release/train"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
family=$(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
model=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
echo "CPU: $cpu (family $family model $model), $(nproc) cores"
printf '%-4s %12s %12s %14s %14s %8s\n' run "ours s" "PyTorch s" "ours test acc" "torch test acc" ratio
ours_all=() torch_all=()
for run in $(seq 1 "$repeats"); do
  rm -rf "$work/run"
  "$train" train --epochs 1 --out "$work/run" >/dev/null 2>&1
  read -r ours ours_acc < <("$python" -c '
import json, sys
m = json.load(open(sys.argv[1]))[-1]
print(round(m["seconds"] + m["test_seconds"], 2), m["test_accuracy"])' "$work/run/metrics.json")
  read -r torch torch_acc < <("$python" "$here/pytorch_epoch.py" "$MNIST_DIR" 1 | tail -1 |
    "$python" -c 'import json, sys; m = json.loads(sys.stdin.read()); print(m["seconds"], m["test_accuracy"])')
  ratio=$("$python" -c "print(round($torch / $ours, 2))")
  printf '%-4s %12s %12s %14s %14s %8s\n' "$run" "$ours" "$torch" "$ours_acc" "$torch_acc" "$ratio"
  ours_all+=("$ours") torch_all+=("$torch")
done
"$python" - "${ours_all[*]}" "${torch_all[*]}" <<'EOF'
import statistics, sys
ours = [float(v) for v in sys.argv[1].split()]
torch = [float(v) for v in sys.argv[2].split()]
mo, mt = statistics.median(ours), statistics.median(torch)
print(f"median: ours {mo:.2f} s, PyTorch {mt:.2f} s, PyTorch / ours {mt / mo:.2f} "
      "(above 1: our epoch is shorter)")
EOF
