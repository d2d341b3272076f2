"""Strict JSON: every JSON file and `--json` output rnnlab writes is standard JSON, which
has no NaN or Infinity. A non-finite float (a diverged loss, a limit of 1e400 hours) is
written as null, and the caller is told where, to print one warning line."""

from __future__ import annotations

import json
import math
import sys


def finite(value, path: str = "", found: list[str] | None = None):
    """`value` with every non-finite float replaced by None; the replaced paths
    (`best.val_ppl`) appended to `found`."""
    if isinstance(value, float) and not math.isfinite(value):
        if found is not None:
            found.append(f"{path or 'value'} ({value})")
        return None
    if isinstance(value, dict):
        return {k: finite(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def dumps(value, where: str, warn: bool = True, found: list | None = None, **options) -> str:
    """json.dumps of `value` made finite; with `warn`, one stderr line naming the figures
    written as null (they mean a diverged or unbounded figure); `found` collects them."""
    found = [] if found is None else found
    text = json.dumps(finite(value, "", found), allow_nan=False, **options)
    if found and warn:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        sys.stderr.write(
            f"warning: {where}: {shown} not finite (a diverged or unbounded figure), written as null\n"
        )
    return text
