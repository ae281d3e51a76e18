#!/usr/bin/env python3
"""Checks a board build's readings of the sample frames against this machine's.

    cross/same_readings.py REFERENCE.jsonl GOT.jsonl

Both are `edge run --input edge/samples` outputs. The frames (by file name, so a container's
mount point may differ), digits, boxes and numbers must be the same, confidences within
1e-4 (another CPU's float kernels round differently). Prints one line; exits 1 on the first
difference, naming the frame.
"""
import json
import os
import sys


def frames(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(reference, got):
    ref, new = frames(reference), frames(got)
    if len(ref) != len(new):
        sys.exit(f"error: {got}: {len(new)} frames, {reference} has {len(ref)}")
    for a, b in zip(ref, new):
        name = os.path.basename(a["source"])
        if name != os.path.basename(b["source"]):
            sys.exit(f"error: {got}: frame {b['source']} where {reference} has {a['source']}")
        if a["numbers"] != b["numbers"] or len(a["digits"]) != len(b["digits"]):
            sys.exit(f"error: {got}: {name} reads {b['numbers']}, expected {a['numbers']}")
        for x, y in zip(a["digits"], b["digits"]):
            if x["digit"] != y["digit"] or x["bbox"] != y["bbox"]:
                sys.exit(f"error: {got}: {name}: digit {y}, expected {x}")
            if abs(x["confidence"] - y["confidence"]) > 1e-4:
                sys.exit(f"error: {got}: {name}: confidence {y['confidence']}, expected {x['confidence']}")
    digits = sum(len(f["digits"]) for f in ref)
    print(f"same readings as {reference} on {len(ref)} sample frames ({digits} digits)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
