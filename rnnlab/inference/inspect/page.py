"""units.html: the passage with each token coloured by one unit's activation (blue -1,
white 0, red +1), the colour scale, and the top units with the property each tracks best;
clicking a unit recolours the text. One file with its style, data and script inline (no
external scripts, fonts or images): it opens offline. The text is coloured in the HTML
itself, so it reads without JavaScript too; a script error is recorded on the page
(`data-js-error` on <html>) so tests can see it.
"""

from __future__ import annotations

import html
import json

import numpy as np

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 70em; }
#text { font-family: monospace; white-space: pre-wrap; line-height: 1.7; font-size: 14px;
        border: 1px solid #ccc; padding: 0.8em; }
#scale { display: flex; align-items: center; gap: 0.5em; margin: 0.6em 0; }
#scale .bar { width: 16em; height: 1em; border: 1px solid #999;
              background: linear-gradient(to right, rgb(0,0,255), rgb(255,255,255), rgb(255,0,0)); }
#units li { cursor: pointer; margin: 0.15em 0; }
#units li.chosen { font-weight: bold; }
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("data").textContent);
  var spans = document.querySelectorAll("#text span");
  function colour(a) {
    var x = Math.max(-1, Math.min(1, a / data.bound));
    var v = Math.round(255 * (1 - Math.abs(x)));
    return x >= 0 ? "rgb(255," + v + "," + v + ")" : "rgb(" + v + "," + v + ",255)";
  }
  function show(unit) {
    var values = data.units[unit];
    for (var i = 0; i < spans.length; i++) {
      spans[i].style.background = colour(values[i]);
      spans[i].title = unit + ": " + values[i];
    }
    document.getElementById("shown").textContent = unit;
    var items = document.querySelectorAll("#units li");
    for (var j = 0; j < items.length; j++) {
      items[j].className = items[j].getAttribute("data-unit") === unit ? "chosen" : "";
    }
  }
  var items = document.querySelectorAll("#units li");
  for (var k = 0; k < items.length; k++) {
    items[k].addEventListener("click", function () { show(this.getAttribute("data-unit")); });
  }
  show(data.chosen);
  document.body.setAttribute("data-ready", "1");
})();
"""


def colour(a: float, bound: float) -> str:
    """The CSS colour of an activation: blue at -bound, white at 0, red at +bound."""
    x = max(-1.0, min(1.0, a / bound))
    v = round(255 * (1 - abs(x)))
    return f"rgb(255,{v},{v})" if x >= 0 else f"rgb({v},{v},255)"


def render(
    title: str,
    tokens: list[str],
    token: str,
    units: dict[str, np.ndarray],
    chosen: str,
    ranked: list[dict],
) -> str:
    """The page: `units` maps unit names to activations (N,) over `tokens`; `ranked` is
    the unit list shown ({unit, property, r}); `chosen` is coloured first."""
    bound = max(1.0, max(float(np.abs(a).max()) for a in units.values()))
    values = units[chosen]
    gap = "" if token == "char" else " "
    spans = gap.join(
        f'<span style="background:{colour(float(a), bound)}">{html.escape(t)}</span>'
        for t, a in zip(tokens, values)
    )
    items = "\n".join(
        f'<li data-unit="{u["unit"]}">unit {u["unit"]}: {html.escape(u["property"])} '
        f"(r = {u['r']:+.2f})</li>"
        for u in ranked
    )
    data = {
        "bound": bound,
        "chosen": chosen,
        "units": {name: [round(float(a), 3) for a in acts] for name, acts in units.items()},
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<script>window.onerror = function (message) {{
  document.documentElement.setAttribute("data-js-error", String(message)); }};</script>
<style>{STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Each {token} is coloured by the activation of unit <b id="shown">{chosen}</b> after reading
it (unit L:K is layer L, unit K). Click a unit below to show it.</p>
<div id="scale"><span>-{bound:g}</span><span class="bar"></span><span>+{bound:g}</span></div>
<h2>Top units by correlation with a property of the text</h2>
<ol id="units">
{items}
</ol>
<div id="text">{spans}</div>
<script type="application/json" id="data">{payload}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
