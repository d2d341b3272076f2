"""`rnnlab inspect` end to end on tiny trained runs, the units page in headless Chromium,
and `train.log_grad_flow` during training."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import dry_run_commands
from typer.testing import CliRunner

from rnnlab.cli import app
from rnnlab.config import load_config
from rnnlab.inference.predict import load_model
from rnnlab.models.probe import grad_flow, probe
from rnnlab.runs import Run
from rnnlab.tasks import build_task
from rnnlab.tasks.heldout import grad_flow_batch

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def train(tmp_path_factory, config: str, *overrides: str) -> Path:
    out = tmp_path_factory.mktemp("runs")
    argv = ["train", str(REPO / "configs" / config), *overrides, "--out", str(out), "--quiet"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    return train(tmp_path_factory, "tiny.yaml", "model.cell=lstm", "train.epochs=2")


@pytest.fixture(scope="module")
def cls_run(tmp_path_factory) -> Path:
    """A DigitSum LSTM that logs its gradient flow at each evaluation."""
    return train(
        tmp_path_factory, "tiny_digitsum.yaml", "train.epochs=2", "train.log_grad_flow=true"
    )


def snapshot(folder: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def lm_inspected(lm_run) -> Path:
    """`rnnlab inspect RUN`, which changes nothing in the run folder but RUN/inspect/."""
    before = snapshot(lm_run)
    result = runner.invoke(app, ["inspect", str(lm_run)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(lm_run / "inspect")
    after = {k: v for k, v in snapshot(lm_run).items() if not k.startswith(str(lm_run / "inspect"))}
    assert after == before
    return lm_run / "inspect"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_inspect_a_language_model_writes_every_figure_with_its_data(lm_run, lm_inspected):
    names = {p.name for p in lm_inspected.iterdir()}
    for stem in ("grad_flow", "gates", "units"):
        assert {f"{stem}.png", f"{stem}.csv", f"{stem}.json"} <= names
    assert "units.html" in names
    flow = json.loads((lm_inspected / "grad_flow.json").read_text())[lm_run.name]
    assert set(flow) == {"trained", "init"} and set(flow["trained"]) == {"h1", "c1"}
    assert all(len(v) == 10 for v in flow["trained"].values())  # data.num_steps: 10
    assert flow["trained"]["h1"] != flow["init"]["h1"]
    rows = read_csv(lm_inspected / "grad_flow.csv")
    assert len(rows) == 2 * 2 * 10
    gates = read_csv(lm_inspected / "gates.csv")
    assert [r["gate"] for r in gates] == ["i", "f", "o"]
    for r in gates:
        assert float(r["left"]) + float(r["middle"]) + float(r["right"]) == pytest.approx(
            1, abs=2e-4
        )
    units = read_csv(lm_inspected / "units.csv")
    assert len(units) == 16 and units[0]["unit"] == "1:0"
    top = json.loads((lm_inspected / "units.json").read_text())["top"]
    assert top and abs(top[0]["r"]) >= abs(top[-1]["r"])
    for png in lm_inspected.glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_inspect_with_a_unit_and_text_and_the_last_checkpoint(lm_run, tmp_path):
    argv = ["inspect", str(lm_run), "--text", "the time traveller said", "--unit", "1:5"]
    result = runner.invoke(app, [*argv, "--checkpoint", "last", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "o" / "units.html").read_text()
    assert '"chosen":"1:5"' in page and 'id="shown">1:5<' in page
    assert (
        "".join(re.findall(r'<span style="[^"]*">([^<]*)</span>', page))
        == "the time traveller said"
    )
    flow = json.loads((tmp_path / "o" / "grad_flow.json").read_text())
    assert len(flow[lm_run.name]["trained"]["h1"]) == len("the time traveller said") - 1


def test_inspect_a_classifier_and_overlay_two_runs(lm_run, cls_run, tmp_path):
    result = runner.invoke(
        app, ["inspect", str(cls_run), "--seq", "3 4 0 0 0", "--out", str(tmp_path / "a")]
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert "units.html" not in names and {"grad_flow.png", "gates.csv"} <= names
    out = tmp_path / "both"
    result = runner.invoke(
        app, ["inspect", str(lm_run), str(cls_run), "--grad-flow", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    flow = json.loads((out / "grad_flow.json").read_text())
    assert set(flow) == {lm_run.name, cls_run.name}
    assert {p.name for p in out.iterdir()} == {"grad_flow.png", "grad_flow.csv", "grad_flow.json"}


def test_log_grad_flow_records_the_curve_of_each_evaluation(cls_run):
    """grad_flow.csv holds one curve per evaluation; the last one is the curve of last.pt
    measured again, independently, on the same held-out batch."""
    rows = read_csv(cls_run / "grad_flow.csv")
    metrics = read_csv(cls_run / "metrics.csv")
    evaluated = [r for r in metrics if r.get("dev_acc")]
    steps = sorted({int(r["step"]) for r in rows})
    assert steps == [int(r["step"]) for r in evaluated]
    assert (cls_run / "plots" / "grad_flow.png").read_bytes()[:4] == b"\x89PNG"
    run = Run.open(cls_run)
    cfg = load_config(run.config_path)
    _, _, _, model = load_model(run, "last", torch.device("cpu"))
    expected = grad_flow(
        probe(model, cfg.model), *grad_flow_batch(build_task(cfg, torch.device("cpu")))
    )
    for curve, values in expected.items():
        logged = [
            float(r["grad_norm"])
            for r in rows
            if r["curve"] == curve and int(r["step"]) == steps[-1]
        ]
        np.testing.assert_allclose(logged, values, rtol=1e-5)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_units_page_opens_in_headless_chromium(lm_inspected, tmp_path):
    """Offline, no console errors, and it shows the text, the colour scale and the units."""
    page = lm_inspected / "units.html"
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "<link" not in html
    flags = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    url = page.as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-ready="1"' in dom.stdout, "the page's script did not run to its end"
    assert "data-js-error" not in re.search(r"<html[^>]*>", dom.stdout)[0]
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr, dom.stderr[-2000:]
    assert dom.stdout.count("<span style=") > 100  # the passage, one span per character
    assert 'id="scale"' in dom.stdout and dom.stdout.count("<li data-unit=") >= 5
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1200,900", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]  # (H, W, 3) in 0..1
    red = (pixels[..., 0] > 0.9) & (pixels[..., 2] < 0.6)
    blue = (pixels[..., 2] > 0.9) & (pixels[..., 0] < 0.6)
    assert red.sum() > 200 and blue.sum() > 200, "no coloured text or scale in the screenshot"
    # the error hook is real: a page with a script error is caught
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace("show(data.chosen);", "show(data.chosen); undefinedCall();"))
    dom = subprocess.run(
        [*flags, "--dump-dom", broken.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert "data-js-error" in re.search(r"<html[^>]*>", dom.stdout)[0]
    assert "Uncaught" in dom.stderr  # and the console check sees it too


def test_inspect_demo_trains_and_inspects_with_valid_overrides(tmp_path):
    """scripts/inspect_demo.sh --dry-run: every training's config and overrides pass the
    checks, every inspected run is one it trained, and nothing is written."""
    out = tmp_path / "demo"
    commands = dry_run_commands("inspect_demo.sh", "--out", str(out))
    assert not out.exists()
    trained = [c[c.index("--run-dir") + 1] for c in commands if c[0] == "train"]
    assert len(trained) == 6 and all("train.log_grad_flow=true" in c for c in commands[:6])
    assert sum("train.epochs=200" in c for c in commands) == 4  # the shipped page's epochs
    inspected = [a for c in commands if c[0] == "inspect" for a in c[1:] if a.startswith(str(out))]
    outs = {str(out / "digitsum35"), str(out / "explosion")}
    assert set(inspected) - outs == set(trained)
