"""Runs an exported digit model with onnxruntime and compares its predictions on the MNIST
test images with tract's (written by `train verify --predictions`).

usage: onnxruntime_check.py MODEL.onnx TRACT_PREDICTIONS MNIST_DIR
"""
import gzip
import os
import sys

import numpy as np
import onnxruntime as ort


def read(path):
    raw = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


model, tract_file, mnist = sys.argv[1:4]
images = np.frombuffer(read(os.path.join(mnist, "t10k-images-idx3-ubyte"))[16:], np.uint8)
labels = np.frombuffer(read(os.path.join(mnist, "t10k-labels-idx1-ubyte"))[8:], np.uint8)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
mean, std = float(meta.get("mnist_edge.mean", 0.1307)), float(meta.get("mnist_edge.std", 0.3081))
x = ((images.reshape(-1, 1, 28, 28) / 255.0 - mean) / std).astype(np.float32)
name = session.get_inputs()[0].name
ours = np.concatenate([session.run(None, {name: x[i : i + 1000]})[0].argmax(1) for i in range(0, len(x), 1000)])
tract = np.frombuffer(open(tract_file).read().strip().encode(), np.uint8) - ord("0")
differ = int((ours != tract).sum())
print(f"{model}: onnxruntime {ort.__version__} accuracy {(ours == labels).mean():.4f}, "
      f"tract {(tract == labels).mean():.4f}, {differ} of {len(ours)} predictions differ")
sys.exit(1 if differ else 0)
