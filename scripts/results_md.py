#!/usr/bin/env python
"""Write the results page of a reproduction (scripts/reproduce.sh): per experiment, what
the textbook reported beside what our run measured, the wall time, and small plots.

    python scripts/results_md.py RUNS_DIR [--out docs/results.md] [--note TEXT]

RUNS_DIR holds times.tsv and meta.tsv (written by reproduce.sh) and one folder per
experiment: a run folder (summary.json, metrics.csv, samples.txt) or a sweep folder
(results.csv), read through rnnlab.runs. What the textbooks reported comes from
docs/reported.yaml. Plots go to img/results/ beside the Markdown file, at most ~80 KB
each.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's rnnlab
from rnnlab.runs import Run  # noqa: E402
from rnnlab.runs.tables import read_csv  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REPORTED = REPO / "docs" / "reported.yaml"  # config name -> source, reported
LM_GROUPS = {
    "The Time Machine, character language models (d2l 8.5, 9.1-9.4)": "timemachine",
    "Jay Chou lyrics, character language models (d2l-zh 6.4, 6.7, 6.8)": "jaychou",
}
MAX_PNG = 80_000


def read_reported(path: Path) -> dict[str, tuple[str, str]]:
    """docs/reported.yaml: {config name: (textbook section, what it reported)}."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {name: (e["source"], e["reported"]) for name, e in entries.items()}


def read_tsv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def sample(run: Run) -> str:
    """The first prefix's sample at the last epoch that generated text."""
    if not run.samples_path.exists():
        return ""
    lines = run.samples_path.read_text(encoding="utf-8").splitlines()
    last = lines[-1].split("\t")[0] if lines else ""
    mine = [line.split("\t", 1)[1] for line in lines if line.split("\t")[0] == last]
    return f"`{cell(mine[0])}`" if mine else ""


def savefig(fig, path: Path) -> str:
    """Save `fig` as a PNG under MAX_PNG bytes (lowering the dpi if needed)."""
    for dpi in (80, 64, 50, 40):
        fig.savefig(path, dpi=dpi)
        if path.stat().st_size <= MAX_PNG:
            break
    return path.name


def copy_png(src: Path, dst: Path, plt) -> str:
    """Copy a run's PNG, downscaled until it is under MAX_PNG bytes."""
    if src.stat().st_size <= MAX_PNG:
        shutil.copyfile(src, dst)
        return dst.name
    image = plt.imread(src)
    height, width = image.shape[:2]
    for scale in (0.75, 0.6, 0.5, 0.4):
        fig = plt.figure(figsize=(width * scale / 100, height * scale / 100))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(image, interpolation="antialiased")
        ax.axis("off")
        fig.savefig(dst, dpi=100)
        plt.close(fig)
        if dst.stat().st_size <= MAX_PNG:
            break
    return dst.name


def lm_section(title: str, rows: list[dict], book: dict, img: Path, plt) -> list[str]:
    out = [f"## {title}", ""]
    out.append(
        "| config | textbook | textbook reported | epochs | ours: train ppl | best val ppl | "
        "tokens/s | wall | sample (last epoch) |"
    )
    out.append("|---" * 9 + "|")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r in rows:
        source, said = book[r["config"]]
        run = Run(r["folder"]) if r["folder"] else None
        m = run.read_metrics() if run else []
        if r["status"] != "finished" and not m:
            out.append(f"| {r['config']} | {source} | {said} | {r['status']} |" + " |" * 5)
            continue
        if r["status"] == "finished":
            s = run.read_summary()
            epochs, ppl, val = s["epochs"], s["final"]["train_ppl"], s["best"]["val_ppl"]
            speed, wall = f"{s['tokens_per_s'] / 1000:.1f}k", f"{float(r['wall_s']):.0f} s"
        else:  # stopped: what its metrics.csv has so far
            vals = [x["val_ppl"] for x in m if x.get("val_ppl") is not None]
            epochs, ppl, val = f"{m[-1]['epoch']} ({r['status']})", m[-1]["train_ppl"], min(vals)
            speed, wall = f"{m[-1]['tokens_per_s'] / 1000:.1f}k", ""
        out.append(
            f"| {r['config']} | {source} | {said} | {epochs} | {ppl:.2f} | {val:.2f} | {speed} "
            f"| {wall} | {sample(run)} |"
        )
        ax.plot([x["epoch"] for x in m], [x["train_ppl"] for x in m], label=r["config"])
    ax.set(xlabel="epoch", ylabel="training perplexity", yscale="log", title=title.split(",")[0])
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    low, high = ax.get_ylim()
    if high / low < 30:  # label the minor ticks only when they are few
        ax.yaxis.set_minor_formatter(plain)
    else:
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    name = savefig(fig, img / f"{rows[0]['config'].split('_')[-1]}_train_ppl.png")
    plt.close(fig)
    return out + ["", f"![training perplexity by epoch](img/results/{name})", ""]


def digitsum_section(rows: list[dict], book: dict, img: Path, plt) -> list[str]:
    out = ["## DigitSum: test accuracy against sequence length (nndl 6.1, 6.3, 6.5)", ""]
    table, lengths = [], set()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r in rows:
        if not r["folder"] or not (Path(r["folder"]) / "results.csv").exists():
            table.append((r, {}))
            continue
        res = [x for x in read_csv(Path(r["folder"]) / "results.csv") if x["status"] == "finished"]
        by_len: dict[int, list[float]] = {}
        for x in res:
            by_len.setdefault(x["data.length"], []).append(x["test_acc"])
        acc = {n: sum(v) / len(v) for n, v in sorted(by_len.items())}
        lengths |= set(acc)
        table.append((r, acc))
        if acc:
            ax.plot(list(acc), list(acc.values()), marker="o", label=r["config"])
    lengths = sorted(lengths)
    out.append(
        "| config | textbook | textbook reported | "
        + " | ".join(f"len {n}" for n in lengths)
        + " | wall |"
    )
    out.append("|---" * (len(lengths) + 4) + "|")
    for r, acc in table:
        source, said = book[r["config"]]
        accs = " | ".join(f"{acc[n]:.2f}" if n in acc else "" for n in lengths)
        wall = f"{float(r['wall_s']):.0f} s" if r["status"] == "finished" else r["status"]
        out.append(f"| {r['config']} | {source} | {said} | {accs} | {wall} |")
    ax.set(xlabel="sequence length", ylabel="test accuracy", ylim=(0, 1.02), title="DigitSum")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    name = savefig(fig, img / "digitsum_test_acc.png")
    plt.close(fig)
    out += [
        "",
        "Test accuracy of each run's best checkpoint by dev accuracy (mean over the"
        " sweep's seeds; chance is about 0.1). Wall: the whole sweep.",
        "",
        f"![test accuracy against length](img/results/{name})",
        "",
    ]
    return out


def gradient_section(rows: list[dict], book: dict, img: Path, plt) -> list[str]:
    out = ["## Gradient explosion and clipping (nndl 6.2)", ""]
    out.append(
        "| config | textbook | textbook reported | largest grad norm (before clipping) "
        "| smallest | train loss, last | test acc | wall |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    plots = []
    for r in rows:
        source, said = book[r["config"]]
        if r["status"] != "finished":
            out.append(f"| {r['config']} | {source} | {said} | {r['status']} | | | | |")
            continue
        run = Run(r["folder"])
        s = run.read_summary()
        table = read_csv(run.grad_norms_path)
        norms = [v for x in table for k, v in x.items() if k != "step" and v is not None]
        out.append(
            f"| {r['config']} | {source} | {said} | {max(norms):.3g} | {min(norms):.3g} "
            f"| {s['final']['train_loss']:.2f} | {s['test']['test_acc']:.2f} "
            f"| {float(r['wall_s']):.0f} s |"
        )
        png = run.plot_path("grad_norms")
        if png.exists():
            name = copy_png(png, img / f"{r['config']}_grad_norms.png", plt)
            plots.append(f"![{r['config']} gradient norms](img/results/{name})")
    return out + [""] + plots + [""]


def imdb_section(rows: list[dict], book: dict, img: Path, plt) -> list[str]:
    out = ["## IMDB sentiment (d2l 16.2)", ""]
    for r in rows:
        source, said = book[r["config"]]
        if r["status"] != "finished":
            return out + [f"Not run: {r['status']}.", ""]
        run = Run(r["folder"])
        s = run.read_summary()
        out += [
            "| textbook | textbook reported | ours: test acc | best epoch (dev acc) | "
            "tokens/s | wall |",
            "|---|---|---|---|---|---|",
            f"| {source} | {said} | {s['test']['test_acc']:.4f} | {s['best']['epoch']} of "
            f"{s['epochs']} ({s['best']['dev_acc']:.4f}) | {s['tokens_per_s'] / 1000:.1f}k "
            f"| {float(r['wall_s']) / 60:.1f} min |",
            "",
            "Ours learns the embedding from scratch (d2l loads frozen 100-d GloVe).",
            "",
        ]
        png = run.plot_path("accuracy")
        if png.exists():
            name = copy_png(png, img / "imdb_bilstm_accuracy.png", plt)
            out += [f"![IMDB accuracy by epoch](img/results/{name})", ""]
    return out


def render(runs: Path, md: Path, note: str = "", reported: Path = REPORTED) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    book = read_reported(reported)
    times = read_tsv(runs / "times.tsv")
    done = {r["config"] for r in times}
    for name in [name for name in book if name not in done and (runs / name).is_dir()]:
        # started but not finished when the reproduction was stopped: what it wrote so far
        folders = sorted(p for p in (runs / name).iterdir() if p.is_dir())
        kind = "sweep" if name.startswith("digitsum_") else "train"
        status = "stopped before it finished"
        folder = str(folders[-1]) if folders else ""
        times.append(dict(experiment=name, kind=kind, config=name, status=status, wall_s="0",
                          folder=folder))  # fmt: skip
    missing = [name for name in book if name not in {r["config"] for r in times}]
    meta = {r["key"]: r["value"] for r in read_tsv_kv(runs / "meta.tsv")}
    img = md.parent / "img" / "results"
    img.mkdir(parents=True, exist_ok=True)
    versions = (Run(p.parent).read_summary().get("versions") for p in runs.glob("*/*/summary.json"))
    torch = next((v["torch"] for v in versions if v and "torch" in v), "?")
    out = [
        f"# Reproducing the textbooks ({meta.get('mode', '?')} run)",
        "",
        f"Made by `scripts/reproduce.sh{' --quick' if meta.get('mode') == 'quick' else ''}` on "
        f"{meta.get('started', '?')}: {meta.get('cores', '?')} CPU cores ({meta.get('cpu', '?')}),"
        f" no GPU, torch {torch}, shared with other engineers' jobs (timings are indicative)."
        f" {meta.get('jobs', '?')} experiments at a time, {meta.get('threads', '?')} torch "
        f"thread(s) each. Total wall time {float(meta.get('total_s', 0)) / 60:.1f} min. Wall "
        "times include start-up and evaluation; the textbooks' speeds are on a GPU.",
        "",
    ]
    if note:
        out += [note, ""]
    for title, key in LM_GROUPS.items():
        rows = [r for r in times if r["config"].endswith(key)]
        if rows:
            out += lm_section(title, rows, book, img, plt)
    rows = [r for r in times if r["kind"] == "sweep"]
    if rows:
        out += digitsum_section(rows, book, img, plt)
    rows = [r for r in times if r["config"].startswith("srn_")]
    if rows:
        out += gradient_section(rows, book, img, plt)
    rows = [r for r in times if r["config"] == "imdb_bilstm"]
    if rows:
        out += imdb_section(rows, book, img, plt)
    out += ["## Wall time per experiment", "", "| experiment | status | wall |", "|---|---|---|"]
    out += [
        f"| {r['experiment']} | {r['status']} | {float(r['wall_s']):.0f} s |"
        if r["status"] == "finished"
        else f"| {r['experiment']} | {r['status']} | |"
        for r in times
    ]
    out += [f"| {name} | not run: the reproduction stopped before it | |" for name in missing]
    return "\n".join(out) + "\n"


def read_tsv_kv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [dict(zip(("key", "value"), line.split("\t", 1))) for line in lines if "\t" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="the reproduction folder (times.tsv)")
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    parser.add_argument("--note", default="", help="a paragraph about this run, under the header")
    parser.add_argument("--reported", type=Path, default=REPORTED, help="the textbooks' figures")
    args = parser.parse_args()
    text = render(args.runs, args.out, args.note, args.reported)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
