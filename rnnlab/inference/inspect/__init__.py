"""`rnnlab inspect`: why a recurrent network remembers or forgets, as figures and data.

For one run (or several, overlaid, with `--grad-flow`) it writes into RUN/inspect/ (or
--out):

    grad_flow.{png,csv,json}  ||dL/dh_t|| against the distance from the loss, per layer
                              (and LSTM memory cell), trained and at initialisation
    gates.{png,csv,json}      LSTM and GRU gate saturation per layer (`gates.py`)
    units.{html,png,csv,json} language models: what single units track (`units.py`,
                              `page.py`)

Every input is checked, and every model loaded, before the first file is written. The
measuring core is `rnnlab.models.probe` (shared with `train.log_grad_flow`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.device import pick_device
from rnnlab.errors import RnnlabError
from rnnlab.models import CELLS
from rnnlab.runs.fileio import write_atomic

from . import gates, gradflow, page, units
from .source import Subject, open_subject

MAX_TEXT = 20_000  # --text: at most this many tokens are read for the units


def inspect_runs(
    run_dirs: list[Path],
    checkpoint: str,
    given: dict,
    out: Path | None,
    unit: tuple[int, int] | None,
    grad_flow_only: bool,
    device: str = "cpu",
) -> tuple[Path, list[str]]:
    """Write the figures; return (the folder, lines that summarise them)."""
    dev = pick_device(device)
    subjects = [open_subject(d, checkpoint, given, dev, not grad_flow_only) for d in run_dirs]
    first = subjects[0]
    if unit is not None:
        check_unit(first, unit)
    out = Path(out) if out is not None else first.run.dir / "inspect"
    flows = {s.name: gradflow.measure(s) for s in subjects}
    what = f"gradient flow through time ({checkpoint} checkpoint; dashed: at initialisation)"
    gradflow.write(out, flows, f"{title(first)}\n{what}" if len(subjects) == 1 else what)
    lines = gradflow.lines(flows)
    if grad_flow_only:
        return out, lines
    if CELLS.get(first.cfg.model.cell).load_equations().sigmoid_gates:
        rows = gates.fractions(first)
        gates.write(out, rows, f"{title(first)}: gate saturation")
        lines += [
            f"gate {r['gate']} layer {r['layer']} {r['direction']}: left {r['left']:.2f}, "
            f"middle {r['middle']:.2f}, right {r['right']:.2f}"
            for r in rows
        ]
    if first.kind == "lm" and CELLS.get(first.cfg.model.cell).sequence:
        lines.append(f"units: not drawn for model.cell {first.cfg.model.cell} (gated cells only)")
    elif first.kind == "lm":
        lines += write_units(out, first, unit, "--split" in given)
    return out, lines


def title(s: Subject) -> str:
    m = s.cfg.model
    return f"{s.name} ({m.impl} {m.cell} on {s.cfg.data.dataset})"


def check_unit(s: Subject, unit: tuple[int, int]) -> None:
    """--unit L:K must name a unit of this model, and the model must be a language model."""
    if s.kind != "lm":
        raise RnnlabError(
            f"--unit applies to language models (the units page); {s.run.dir} is a classifier "
            f"({s.cfg.data.dataset})"
        )
    m = s.cfg.model
    if CELLS.get(m.cell).sequence:
        raise RnnlabError(f"--unit: the units page is for the gated cells, not model.cell {m.cell}")
    size = m.hidden_size * (2 if m.bidirectional else 1)
    layer, k = unit
    if not (1 <= layer <= m.num_layers and 0 <= k < size):
        raise RnnlabError(
            f"--unit {layer}:{k} is out of range: this model has layers 1-{m.num_layers} of "
            f"units 0-{size - 1}"
        )


def write_units(out: Path, s: Subject, unit, from_split: bool) -> list[str]:
    """units.csv/json/png and units.html; lines naming the top units."""
    ids = s.text[: units.PASSAGE if from_split else MAX_TEXT]
    tokens = s.vocab.decode(ids.tolist())
    layers = units.activations(s, ids)
    names = units.unit_names(layers)
    acts = np.concatenate(layers, 1)  # (N, all units)
    props = units.properties(tokens)
    r = units.correlations(acts, props)
    ranked = units.rank(names, r, list(props))
    chosen = f"{unit[0]}:{unit[1]}" if unit else (ranked[0]["unit"] if ranked else names[0])
    shown = ranked[: units.TOP]
    if chosen not in [u["unit"] for u in shown]:
        mine = [u for u in ranked if u["unit"] == chosen] or [
            {"unit": chosen, "property": "-", "r": 0.0}
        ]
        shown = shown + mine
    units.write(out, tokens, names, r, list(props), ranked, acts, f"{title(s)}: top units")
    html = page.render(
        f"{title(s)}: units",
        tokens,
        s.cfg.data.token,
        {u["unit"]: acts[:, names.index(u["unit"])] for u in shown},
        chosen,
        shown,
    )
    write_atomic(out / "units.html", html)
    return [f"unit {u['unit']}: {u['property']} r={u['r']:+.2f}" for u in ranked[:5]]
