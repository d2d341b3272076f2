"""The cost of a cold start for a character LSTM trained on carried state (sequential
batches): along training, the loss on the first 16 characters read from a zero state
("cold") against the same characters read after 256 characters of context ("warm"), on
64 random places of the held-out text, and a greedy sample (docs/language_models.md).

    python scripts/experiments/cold_start/cold_start.py HIDDEN STEPS LR DATASET RESTART_EVERY|null
"""

import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from rnnlab.config import load_config
from rnnlab.tasks import build_task
from rnnlab.tasks.generate import generate

torch.set_num_threads(1)
COLD_YAML = tempfile.mktemp(suffix=".yaml")
H, STEPS, LR, DATA, RE = (
    int(sys.argv[1]),
    int(sys.argv[2]),
    float(sys.argv[3]),
    sys.argv[4],
    sys.argv[5],
)
open(COLD_YAML, "w").write(f"""
data: {{dataset: {DATA}, batch_size: 32, num_steps: 64, restart_every: {RE}}}
model: {{cell: lstm, hidden_size: {H}}}
""")
cfg = load_config(COLD_YAML)
torch.manual_seed(0)
task = build_task(cfg, torch.device("cpu"))
model = task.build_model()
opt = torch.optim.Adam(model.parameters(), lr=LR)
valid = task.valid
g = torch.Generator().manual_seed(0)
starts = torch.randint(300, len(valid) - 400, (64,), generator=g)


def cold_gap(m):
    m.eval()
    with torch.no_grad():
        idx = starts[:, None] + torch.arange(65)
        warm_idx = starts[:, None] - 256 + torch.arange(256 + 65)
        lc, _ = m(valid[idx[:, :-1]])
        lw, _ = m(valid[warm_idx[:, :-1]])
        cold = F.cross_entropy(lc[:16].permute(1, 2, 0), valid[idx[:, 1:17]])
        warm = F.cross_entropy(lw[256:272].permute(1, 2, 0), valid[warm_idx[:, 257:273]])
    text = "".join(generate(m, task.vocab, list("the time "), 30))
    m.train()
    return cold.item(), warm.item(), text


step = 0
t0 = time.time()
while step < STEPS:
    for batch in task.epoch_batches():
        r = task.loss(model, batch)
        opt.zero_grad()
        r.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 25 == 0:
            c, w, text = cold_gap(model)
            print(
                step,
                f"cold {c:.3f} warm {w:.3f} gap {c - w:.3f}",
                repr(text),
                round(time.time() - t0),
                flush=True,
            )
        if step >= STEPS:
            break
    print("epoch end at", step, flush=True)
