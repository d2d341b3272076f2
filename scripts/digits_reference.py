"""Non-recurrent references for the sequential digits (docs/memory.md): scikit-learn's
LogisticRegression and SVC (RBF kernel) trained on the same training split that rnnlab's
digits task trains on (`rnnlab gen-data digits` / the folder made on first use: seed 0,
1,257 / 270 / 270) and scored on its dev and test splits. They see the 64 pixels at once,
so the pixel order (`--permute`) changes nothing for them: the figures hold for the
sequential and the permuted task alike. Prints one JSON object per model.

    python scripts/digits_reference.py                 # seed 0, the default split
    python scripts/digits_reference.py --seed 1 --permute 0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's rnnlab

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from rnnlab.data.digits import PIXELS, SIZES, Digits  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the split's seed (gen-data --seed)")
    parser.add_argument("--permute", type=int, default=None, help="the pixel order's seed")
    args = parser.parse_args()
    splits = Digits.split_arrays(PIXELS, {"permute": args.permute}, dict(SIZES), args.seed)
    (x_train, y_train) = splits["train"]
    models = {
        "LogisticRegression": LogisticRegression(max_iter=5000),
        "SVC": SVC(),  # RBF kernel, C=1, gamma="scale": scikit-learn's defaults
    }
    for name, model in models.items():
        model.fit(x_train[:, :, 0], y_train)
        scores = {
            f"{split}_acc": round(float(model.score(x[:, :, 0], y)), 4)
            for split, (x, y) in splits.items()
            if split != "train"
        }
        print(json.dumps({"model": name, "seed": args.seed, "permute": args.permute, **scores}))


if __name__ == "__main__":
    main()
