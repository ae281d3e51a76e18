#!/usr/bin/env bash
# Soak (issue 15): `edge run --mjpeg` against ffmpeg's HTTP MJPEG server, which is killed and
# started again every 20–60 s (down for 1–4 s, as a phone's camera app restarting), with the
# live page under a bounded client load (a /latest.json poll every 0.2 s, a /stream.mjpg
# viewer that comes and goes) for SECONDS (default 600). It passes when edge never exits,
# every restart of the server was followed by a reconnection, frames kept coming, the page
# answered, and edge's memory stayed flat (RSS at the end within 20 MiB of its RSS after the
# first 5 s). CI runs it for 30 s (restarts every 5–10 s then).
#
#   edge/scripts/soak.sh [SECONDS]        EDGE=path/to/edge to soak another build
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mnist-edge/target}
if [ -z "${EDGE:-}" ]; then
  # The whole workspace, as the test suite builds it: -p edge alone unifies other features
  # and rebuilds the dependencies.
  cargo build -q --workspace
  EDGE=$CARGO_TARGET_DIR/debug/edge
fi
for tool in ffmpeg curl; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is needed (apt install $tool)"; exit 2; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -P $$ 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cam_port=$(free_port)
page_port=$(free_port)
url="http://127.0.0.1:$cam_port/stream.mjpg"
if [ "$seconds" -le 60 ]; then up=(5 10); else up=(20 60); fi

# The camera: the sample frames looped at 10 fps, as ffmpeg serves MJPEG over HTTP.
camera() {
  exec ffmpeg -loglevel quiet -re -stream_loop -1 -framerate 10 -pattern_type glob \
    -i 'edge/samples/scene-*.jpg' -c:v mjpeg -q:v 5 -f mpjpeg \
    -content_type 'multipart/x-mixed-replace;boundary=ffmpeg' -listen 1 "$url"
}
restarts=0
(
  while true; do
    camera &
    cam=$!
    sleep $(( up[0] + RANDOM % (up[1] - up[0] + 1) ))
    kill "$cam" 2>/dev/null || true
    wait "$cam" 2>/dev/null || true
    echo restart >>"$work/restarts"
    sleep $(( 1 + RANDOM % 4 ))
  done
) &
pids+=($!)
sleep 1

RUST_LOG=info "$EDGE" run --mjpeg "$url" --serve "127.0.0.1:$page_port" \
  >"$work/frames.jsonl" 2>"$work/edge.log" &
edge_pid=$!
pids+=("$edge_pid")
rss() { awk '/VmRSS/ {print $2}' "/proc/$edge_pid/status" 2>/dev/null || echo 0; }

# The page's visitors, once it is up: a poll of the readings, and a viewer of the stream for
# 3 s at a time.
for _ in $(seq 100); do
  curl -s -o /dev/null -m 1 "http://127.0.0.1:$page_port/latest.json" && break
  sleep 0.1
done
(
  while true; do
    if curl -s -o /dev/null -m 2 -w '%{http_code}\n' "http://127.0.0.1:$page_port/latest.json" >>"$work/polls"; then :; else echo fail >>"$work/polls"; fi
    sleep 0.2
  done
) &
pids+=($!)
(
  while true; do
    curl -s -o /dev/null -m 3 "http://127.0.0.1:$page_port/stream.mjpg" || true
    sleep 1
  done
) &
pids+=($!)

sleep 5
rss_start=$(rss)
start=$(date +%s)
alive=yes
while [ $(( $(date +%s) - start )) -lt $(( seconds - 5 )) ]; do
  sleep 5
  kill -0 "$edge_pid" 2>/dev/null || { alive=no; break; }
  frames=$(wc -l <"$work/frames.jsonl")
  echo "soak: $(( $(date +%s) - start + 5 )) s, $frames frames, RSS $(rss) KiB, $(wc -l <"$work/restarts" 2>/dev/null || echo 0) server restarts"
done
rss_end=$(rss)
frames=$(wc -l <"$work/frames.jsonl")
restarts=$(wc -l <"$work/restarts" 2>/dev/null || echo 0)
reconnects=$(grep -c 'reconnected after' "$work/edge.log" || true)
polls=$(wc -l <"$work/polls")
answered=$(grep -c '^200$' "$work/polls" || true)
echo "soak: ${seconds} s; edge alive: $alive; frames read: $frames; server restarts: $restarts; reconnections: $reconnects;" \
  "page polls answered: $answered of $polls; RSS start ${rss_start} KiB, end ${rss_end} KiB"
ok=yes
[ "$alive" = yes ] || { ok=no; echo "soak: edge exited"; tail -5 "$work/edge.log"; }
[ "$frames" -gt 0 ] || { ok=no; echo "soak: no frames"; }
# The last restart may still be waiting out its back-off.
[ "$reconnects" -ge $(( restarts - 1 )) ] || { ok=no; echo "soak: $restarts restarts but $reconnects reconnections"; }
[ "$restarts" -ge 1 ] || { ok=no; echo "soak: the server never restarted (too short a soak?)"; }
# A poll may time out on a loaded machine; one in a hundred at most.
[ $(( (polls - answered) * 100 )) -le "$polls" ] || { ok=no; echo "soak: the page failed $(( polls - answered )) polls"; }
[ "$rss_end" -le $(( rss_start + 20480 )) ] || { ok=no; echo "soak: RSS grew from $rss_start to $rss_end KiB"; }
[ "$ok" = yes ] && echo "soak: passed" || { echo "soak: FAILED"; exit 1; }
