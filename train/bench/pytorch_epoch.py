"""The seed CNN's training epochs in PyTorch: the baseline of `train/bench/epoch.sh`.

What `train train` does by default, the PyTorch way: the official MNIST IDX files (gzipped or
raw, from the folder in argv[1] or MNIST_DIR), shuffled every epoch, batches of 64, each
batch augmented with a random rotation (±10°) and shift (±10% of the side) per image
(bilinear, zero outside, one `affine_grid` + `grid_sample` per batch: the fastest form on a
CPU, faster than a per-image DataLoader transform), normalised (mean 0.1307, std 0.3081);
the seed network, AdamW (weight decay 1e-4), peak rate 2e-3 on the one-cycle schedule of
`train` (warm-up from 4% to 100% over the first 20% of steps, then cosine to 0.1%), and the
test set evaluated after every epoch. Prints one JSON line per epoch with its time
(augmentation and evaluation included) and the test accuracy.

Usage: python pytorch_epoch.py [MNIST_DIR] [EPOCHS]
"""

import gzip
import json
import math
import os
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

from pytorch_step import seed_cnn  # the same network as the step's baseline


def read_idx(folder, stem):
    """The IDX file `stem` of `folder` (`.gz` or raw) as a uint8 tensor of its shape."""
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"{os.path.join(folder, stem)}(.gz): no such file")
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    body = bytearray(data[4 + 4 * dims:])
    return torch.frombuffer(body, dtype=torch.uint8).reshape(shape)


def onecycle(step, total, base=2e-3):
    p = min(max(step / max(total, 1), 0.0), 1.0)
    if p < 0.2:
        return base * (0.04 + 0.96 * p / 0.2)
    q = (p - 0.2) / 0.8
    low = base * 0.001
    return low + (base - low) * 0.5 * (1.0 + math.cos(math.pi * q))


def augment(images, gen):
    """Random rotation (±10°) and shift (±10%) of each image of a [B, 1, 28, 28] batch."""
    b = images.shape[0]
    angle = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(10)
    # affine_grid works in [-1, 1] coordinates: a shift of 10% of the side is 0.2.
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * 0.2
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, images.shape, align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MNIST_DIR", "data/mnist")
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    batch = 64
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    train_x = read_idx(folder, "train-images-idx3-ubyte").unsqueeze(1)
    train_y = read_idx(folder, "train-labels-idx1-ubyte").long()
    test_x = read_idx(folder, "t10k-images-idx3-ubyte").unsqueeze(1)
    test_y = read_idx(folder, "t10k-labels-idx1-ubyte").long()
    model = seed_cnn()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = math.ceil(len(train_x) / batch)
    total = steps_per_epoch * epochs
    norm = lambda x: (x - 0.1307) / 0.3081
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}),
          flush=True)
    step = 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_x), generator=gen)
        for i in range(steps_per_epoch):
            idx = order[i * batch:(i + 1) * batch]
            xs = norm(augment(train_x[idx].float() / 255.0, gen))
            for g in opt.param_groups:
                g["lr"] = onecycle(step, total)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs), train_y[idx])
            loss.backward()
            opt.step()
            step += 1
        model.eval()
        right = 0
        with torch.no_grad():
            for i in range(0, len(test_x), 1000):
                xs = norm(test_x[i:i + 1000].float() / 255.0)
                right += (model(xs).argmax(1) == test_y[i:i + 1000]).sum().item()
        seconds = time.perf_counter() - start
        print(json.dumps({"epoch": epoch, "seconds": round(seconds, 2),
                          "test_accuracy": right / len(test_x)}), flush=True)


if __name__ == "__main__":
    main()
