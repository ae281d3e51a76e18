#!/usr/bin/env bash
# The README's two opening commands as a newcomer meets them (issue 16), by hand, not in CI
# (two cold builds): a fresh clone of this checkout's HEAD, an empty HOME and CARGO_HOME
# (rustup's toolchain shared), no MNIST_DIR or CARGO_TARGET_DIR. MNIST comes through
# MNIST_MIRROR from a local HTTP server over MNIST_SOURCE (default ../shared/data/mnist), so
# the real download path runs where the public mirrors cannot be reached. Prints each
# command's status and time.
#
#   .ci/fresh-machine.sh [WORKDIR]          default /tmp/mnist-edge-fresh
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
source_dir=$(cd "${MNIST_SOURCE:-$repo/../shared/data/mnist}" && pwd)
work=${1:-/tmp/mnist-edge-fresh}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=$(dirname "$(command -v cargo)")
rm -rf "$work"; mkdir -p "$work/home" "$work/cargo"
git clone -q "$repo" "$work/repo"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$source_dir" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 1
cd "$work/repo"
export HOME=$work/home CARGO_HOME=$work/cargo RUSTUP_HOME=$rustup_home
export PATH=$cargo_bin:/usr/local/bin:/usr/bin:/bin MNIST_MIRROR=http://127.0.0.1:$port/
unset MNIST_DIR CARGO_TARGET_DIR
s=$(date +%s)
cargo run --release -p edge -- run --input edge/samples >"$work/run.jsonl" 2>"$work/run.err"
echo "fresh: run: status $?, $(( $(date +%s) - s )) s, $(wc -l <"$work/run.jsonl") frames read"
s=$(date +%s)
cargo test --workspace >"$work/test.log" 2>&1
echo "fresh: test: status $?, $(( $(date +%s) - s )) s," \
  "$(grep -E '^test result' "$work/test.log" | awk '{p+=$4; f+=$6} END {print p" passed, "f" failed"}')"
ls data/mnist
