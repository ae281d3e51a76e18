"""Runs an exported digit model with onnxruntime and compares its predictions on the MNIST
test images with tract's (written by `train verify --predictions`): every one must agree.

On an x86 CPU without VNNI, onnxruntime multiplies u8 activations by s8 weights with
vpmaddubsw, which sums pairs of products in 16 bits and saturates (the documented reason for
onnxruntime's `reduce_range` option), while tract sums in 32 bits: there the int8 default gave
51 of 10,000 predictions apart (an AMD EPYC Zen 3; onnxruntime 99.00%, tract 99.31%, the
model's published figure). So on such a CPU an int8 model's s8 weights are written as u8
(w + 128, zero point + 128: the same arithmetic) before onnxruntime runs it, which takes its
u8 x u8 kernels, and every prediction must still agree.

usage: onnxruntime_check.py MODEL.onnx TRACT_PREDICTIONS MNIST_DIR
"""
import gzip
import os
import platform
import sys

import numpy as np
import onnxruntime as ort


def read(path):
    raw = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def saturating_cpu():
    """An x86 CPU without VNNI, where onnxruntime's u8 x s8 kernels saturate 16-bit sums."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return False
    try:
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return not {"avx512_vnni", "avx_vnni"} & set(flags)


def unsigned_weights(path):
    """The model's bytes with the s8 weights of its QLinearConv and QLinearMatMul nodes as u8."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(path)
    inits = {i.name: i for i in m.graph.initializer}

    def shift(name):
        a = numpy_helper.to_array(inits[name])
        inits[name].CopyFrom(numpy_helper.from_array((a.astype(np.int16) + 128).astype(np.uint8), name))

    for node in m.graph.node:
        if node.op_type in ("QLinearConv", "QLinearMatMul"):
            w, zero = node.input[3], node.input[5]
            if w in inits and numpy_helper.to_array(inits[w]).dtype == np.int8:
                shift(w)
                shift(zero)
    return m.SerializeToString()


model, tract_file, mnist = sys.argv[1:4]
images = np.frombuffer(read(os.path.join(mnist, "t10k-images-idx3-ubyte"))[16:], np.uint8)
labels = np.frombuffer(read(os.path.join(mnist, "t10k-labels-idx1-ubyte"))[8:], np.uint8)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
note = ""
if meta.get("mnist_edge.precision") == "int8" and saturating_cpu():
    session = ort.InferenceSession(unsigned_weights(model), providers=["CPUExecutionProvider"])
    note = " (s8 weights run as u8: this x86 CPU has no VNNI)"
mean, std = float(meta.get("mnist_edge.mean", 0.1307)), float(meta.get("mnist_edge.std", 0.3081))
x = ((images.reshape(-1, 1, 28, 28) / 255.0 - mean) / std).astype(np.float32)
name = session.get_inputs()[0].name
ours = np.concatenate([session.run(None, {name: x[i : i + 1000]})[0].argmax(1) for i in range(0, len(x), 1000)])
tract = np.frombuffer(open(tract_file).read().strip().encode(), np.uint8) - ord("0")
differ = int((ours != tract).sum())
print(f"{model}: onnxruntime {ort.__version__} accuracy {(ours == labels).mean():.4f}, "
      f"tract {(tract == labels).mean():.4f}, {differ} of {len(ours)} predictions differ{note}")
sys.exit(1 if differ else 0)
