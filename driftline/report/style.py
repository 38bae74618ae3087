"""The page's inline style sheet, and the content security policy that forbids fetching."""

from __future__ import annotations

STYLE = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --bg: #ffffff; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 20px 32px 8px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0 0 12px; color: var(--muted); }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1400px; }
h2 { margin: 28px 0 10px; font-size: 18px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
h4 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 140px;
  background: var(--bg); }
.card .count { font-size: 26px; font-weight: 600; }
.card .what { font-weight: 600; }
.card .detail { color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
td:nth-child(-n+3) code, .when { white-space: nowrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; white-space: nowrap; border: 1px solid; }
.good { color: #1a7f37; border-color: #1a7f37; background: #dafbe1; }
.bad { color: #a40e26; border-color: #cf222e; background: #ffebe9; }
.warn { color: #7d4e00; border-color: #bf8700; background: #fff8c5; }
.info { color: #0550ae; border-color: #0969da; background: #ddf4ff; }
.reasons { margin: 4px 0 0; padding-left: 18px; color: #a40e26; max-width: 560px; }
.empty { color: var(--muted); font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 18px; align-items: flex-end; }
figure { margin: 8px 0; }
figcaption { color: var(--muted); font-size: 12px; }
figure.small figcaption { font-weight: 600; color: var(--fg); }
.note { color: var(--muted); font-weight: 400; }
svg.plot { max-width: 100%; height: auto; display: block; }
svg.plot text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--fg); }
svg.plot text.tick, svg.plot text.note, svg.plot text.category { fill: var(--muted); }
svg.plot text.value { font-weight: 600; }
svg.plot line.grid { stroke: #eaeef2; }
svg.plot line.threshold { stroke: var(--fg); stroke-width: 2; stroke-dasharray: 3 2; }
.key { display: inline-block; width: 10px; height: 10px; vertical-align: middle; }
.key.expected { background: #6e7781; } .key.actual { background: #0969da; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
article.drift { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 12px;
  margin: 12px 0; }
ol.steps { list-style: none; display: flex; flex-wrap: wrap; align-items: stretch; gap: 6px;
  padding: 0; margin: 0 0 12px; }
ol.steps li { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px;
  background: var(--panel); display: flex; flex-direction: column; max-width: 260px; }
ol.steps li + li::before { content: "→"; position: relative; left: -22px; top: 8px; width: 0;
  height: 0; color: var(--muted); }
ol.steps li + li { margin-left: 16px; }
.step .kind { font-size: 11px; text-transform: uppercase; color: var(--muted); }
.step .name { font-weight: 600; overflow-wrap: anywhere; }
.step .detail { font-size: 12px; color: var(--muted); }
"""

# Nothing may be fetched: no script, no remote style, font or image.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
