"""README.md states what the code and the docs say: its configs table and its --resume
override list are generated (scripts/readme_configs.py), its measured figures are those of
docs/results.md, and the docs speak of the project, not of its issue tracker."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from readme_configs import CONFIGS, RESUME, configs_table, generated, resumable_list  # noqa: E402

from rnnlab.runs.integrity import RESUMABLE  # noqa: E402

README = (REPO / "README.md").read_text("utf-8")


def test_readme_is_what_the_generator_writes():
    """After adding a config or a resumable key: python scripts/readme_configs.py."""
    assert generated(README) == README


def test_every_config_file_is_in_the_table():
    block = README.split(CONFIGS[0])[1].split(CONFIGS[1])[0]
    for path in (REPO / "configs").iterdir():
        if path.suffix in (".yaml", ".yml"):
            assert f"| `{path.name}` |" in block, path.name
    assert block.strip() == configs_table().strip()


def test_the_resume_list_is_the_code_s():
    block = README.split(RESUME[0])[1].split(RESUME[1])[0]
    assert block == resumable_list()
    assert re.findall(r"`([^`]+)`", block) == list(RESUMABLE)


def test_first_sentence_is_taken_and_pipes_escaped(tmp_path):
    (tmp_path / "a.yaml").write_text("# d2l section 9.1: a|b. More text.\n# Run: x\nname: a\n")
    (tmp_path / "b.yaml").write_text("name: b\n")
    table = configs_table(tmp_path)
    assert "| `a.yaml` | d2l section 9.1: a\\|b. |" in table
    assert "| `b.yaml` | (no header comment) |" in table


def test_measured_figures_are_those_of_docs_results():
    results = (REPO / "docs" / "results.md").read_text("utf-8")
    row = next(ln for ln in results.splitlines() if ln.startswith("| gru_timemachine |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    speed, wall = cells[6], cells[7]  # tokens/s, wall
    readme_row = next(ln for ln in README.splitlines() if ln.startswith("| gru_timemachine ("))
    assert f"| {speed} | {wall} |" in readme_row


def test_docs_name_no_issue_numbers():
    for page in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        found = re.findall(r"\b[Ii]ssue[ -]?\d+", page.read_text("utf-8"))
        assert not found, (page.name, found)
