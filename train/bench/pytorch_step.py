"""The seed CNN's training step in PyTorch: the baseline of `train bench --pytorch PYTHON`.

The same network (conv 1->32 3x3, ReLU, max-pool 2, conv 32->64 3x3, ReLU, max-pool 2,
fc 1600->128, ReLU, fc 128->10), the same optimizer (AdamW, lr 1e-3, betas 0.9/0.999,
eps 1e-8, weight decay 1e-4), cross-entropy, random normalised digits and labels, on the CPU.

It is driven over stdin so that `train bench` can alternate it with its own steps in one run:
each line "STEPS" runs that many timed steps and answers one JSON line
{"images_per_s": ...}. The first line written is {"torch": VERSION, "threads": N}.
Set up with train/bench/setup-pytorch.sh.
"""

import json
import sys
import time

import torch
from torch import nn


def seed_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    torch.manual_seed(7)
    model = seed_cnn()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    pixels = torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (batch,))

    def step():
        # Normalised per step, as `train` builds its batch tensor from pixels every step.
        xs = (pixels.float() / 255.0 - 0.1307) / 0.3081
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs), labels)
        loss.backward()
        opt.step()
        return loss.item()

    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        steps = max(1, int(line))
        start = time.perf_counter()
        for _ in range(steps):
            step()
        elapsed = time.perf_counter() - start
        print(json.dumps({"images_per_s": steps * batch / elapsed}), flush=True)


if __name__ == "__main__":
    main()
