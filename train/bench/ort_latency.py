"""onnxruntime's batch-1 latency: the baseline of `train latency --onnxruntime PYTHON`.

Driven over stdin so that `train latency` can alternate it with tract in one run: each line
"RUNS PATH" times RUNS single-image inferences of the ONNX model at PATH (after 30 warm-up
runs; sessions are kept) on one thread and answers one JSON line {"us": MEDIAN}. The first
line written is {"onnxruntime": VERSION, "threads": 1}. Any python with onnxruntime and numpy
does (CI's: ~/.cache/mnist-edge/ort-venv).
"""

import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sessions = {}
    x = np.random.default_rng(7).standard_normal((1, 1, 28, 28)).astype(np.float32)
    print(json.dumps({"onnxruntime": ort.__version__, "threads": 1}), flush=True)
    for line in sys.stdin:
        runs, path = line.strip().split(" ", 1)
        if path not in sessions:
            s = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            sessions[path] = (s, s.get_inputs()[0].name)
            for _ in range(30):
                s.run(None, {sessions[path][1]: x})
        s, name = sessions[path]
        times = []
        for _ in range(max(1, int(runs))):
            t = time.perf_counter()
            s.run(None, {name: x})
            times.append((time.perf_counter() - t) * 1e6)
        print(json.dumps({"us": statistics.median(times)}), flush=True)


if __name__ == "__main__":
    main()
