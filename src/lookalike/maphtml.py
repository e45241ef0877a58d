"""The face map as one self-contained interactive HTML page.

Everything is inline: the points as JSON, every face's thumbnail in one JPEG sprite as a
data URI, and a small script that draws on a canvas and shows the name and thumbnail of the
face under the pointer.  No network, no external script.  ``page.html#point=N`` shows point
``N`` as if hovered (a link to one face, and what the tests use).  Once drawn, the page sets
``data-points`` on ``<body>`` to the number of points it drew.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os

import numpy as np

from . import montage
from .facemap import HIGHLIGHT, FaceMap
from .index import Index

#: Thumbnail side in the page: smaller for big maps, so all of LFW stays a few MB.
THUMB_SMALL, THUMB_LARGE, LARGE_MAP = 40, 72, 2000


def write(m: FaceMap, idx: Index, path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(page(m, idx))


def page(m: FaceMap, idx: Index) -> str:
    side = THUMB_SMALL if len(m.space) > LARGE_MAP else THUMB_LARGE
    sheet, cols = montage.sprite(montage.thumbnails(idx, m.space.face_ids, side), side)
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=80)
    data = {
        "title": m.title,
        "notes": m.notes,
        "reading": m.reading,
        "xy": np.round(_unit(m), 4).tolist(),
        "person": m.space.person.tolist(),
        "names": list(m.space.names),
        "colours": m.space.colours(),
        "paths": m.space.paths,
        "sprite": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
        "side": side,
        "cols": cols,
        "query": None,
    }
    if m.query_xy is not None:
        data["query"] = {
            "label": m.query_name,
            "xy": np.round(_unit(m, m.query_xy[None, :])[0], 4).tolist(),
            "neighbours": m.neighbours.tolist(),
            "distances": np.round(m.distances, 3).tolist(),
            "colour": HIGHLIGHT,
        }
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return TEMPLATE.replace("{{title}}", html.escape(m.title)).replace("{{data}}", payload)


def _unit(m: FaceMap, xy: np.ndarray | None = None) -> np.ndarray:
    """Coordinates scaled into [0, 1] by the extent of the map's points (query included)."""
    every = m.xy if m.query_xy is None else np.vstack([m.xy, m.query_xy[None, :]])
    lo, hi = every.min(axis=0), every.max(axis=0)
    return ((m.xy if xy is None else xy) - lo) / np.maximum(hi - lo, 1e-12)


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lookalike: {{title}}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 16px; font-weight: 600; margin: 0 0 4px; }
#notes { color: #666; font-size: 12px; margin: 0 0 8px; min-height: 1em; }
#wrap { position: relative; display: inline-block; border: 1px solid #ddd; }
canvas { display: block; }
#tip { position: absolute; display: none; pointer-events: none; background: #fff;
       border: 1px solid #999; border-radius: 4px; padding: 6px; box-shadow: 0 2px 6px #0003;
       max-width: 260px; }
#tip .thumb { width: 96px; height: 96px; background-repeat: no-repeat; margin-bottom: 4px; }
#tip .name { font-weight: 600; }
#tip .path { color: #666; font-size: 11px; word-break: break-all; }
#legend { font-size: 12px; margin-top: 6px; max-width: 960px; }
#legend span { display: inline-block; margin-right: 12px; }
#legend i { display: inline-block; width: 10px; height: 10px; border-radius: 5px;
            margin-right: 4px; }
</style></head>
<body>
<h1 id="title"></h1>
<p id="notes"></p>
<div id="wrap"><canvas id="map"></canvas>
<div id="tip"><div class="thumb"></div><div class="name"></div><div class="path"></div></div>
</div>
<div id="legend"></div>
<script id="data" type="application/json">{{data}}</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const W = 960, H = 720, M = 24, R = D.xy.length > 2000 ? 2 : 4;
const canvas = document.getElementById("map"), ctx = canvas.getContext("2d");
const tip = document.getElementById("tip"), dpr = window.devicePixelRatio || 1;
canvas.width = W * dpr; canvas.height = H * dpr;
canvas.style.width = W + "px"; canvas.style.height = H + "px";
ctx.scale(dpr, dpr);
const px = p => [M + p[0] * (W - 2 * M), H - M - p[1] * (H - 2 * M)];
const pts = D.xy.map(px);
const colour = i => D.colours[D.person[i] >= 0 ? D.person[i] : D.colours.length - 1];
const label = i => D.person[i] >= 0 ? D.names[D.person[i]] : "(unnamed)";
document.getElementById("title").textContent = D.title;
document.getElementById("notes").textContent = [D.reading, ...D.notes].join(" ");

function star(x, y, r) {
  ctx.beginPath();
  for (let k = 0; k < 10; k++) {
    const a = -Math.PI / 2 + k * Math.PI / 5, rr = k % 2 ? r / 2.5 : r;
    ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath();
  // hollow, so that the dots under it still show: gold on a black outline
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#000"; ctx.lineWidth = 4.5; ctx.stroke();
  ctx.strokeStyle = D.query.colour; ctx.lineWidth = 2.5; ctx.stroke();
  ctx.lineWidth = 1;
}

function draw() {
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  ctx.globalAlpha = D.xy.length > 2000 ? 0.6 : 0.9;
  pts.forEach((p, i) => {
    ctx.fillStyle = colour(i);
    ctx.beginPath(); ctx.arc(p[0], p[1], R, 0, 2 * Math.PI); ctx.fill();
  });
  ctx.globalAlpha = 1;
  const q = D.query;
  if (!q) return;
  const [qx, qy] = px(q.xy);
  ctx.font = "12px system-ui, sans-serif"; ctx.lineWidth = 1;
  // labels on a ring around the query (apart however close the neighbours are), each with a
  // line to its dot
  // (the ring's centre moves in from the edges so that it fits)
  const r = Math.max(90, 18 * q.neighbours.length);
  // left-to-right marks around the name: a right-to-left one leaves the numbers in place
  const texts = q.neighbours.map(
    (n, k) => `${k + 1}. \\u200e${label(n)}\\u200e (${q.distances[k].toFixed(2)})`);
  const half = Math.max(0, ...texts.map(t => ctx.measureText(t).width)) / 2 + 6;
  const cx = Math.min(Math.max(qx, 1.9 * r + half), W - 1.9 * r - half);
  const cy = Math.min(Math.max(qy, r + 12), H - r - 12);
  q.neighbours.forEach((n, k) => {
    const [x, y] = pts[n], text = texts[k], w = ctx.measureText(text).width;
    const a = Math.PI / 2 - k * 2 * Math.PI / q.neighbours.length;
    const lx = cx + 1.9 * r * Math.cos(a), ly = cy - r * Math.sin(a);
    ctx.strokeStyle = "#555";
    ctx.beginPath(); ctx.moveTo(lx, ly); ctx.lineTo(x, y); ctx.stroke();
    ctx.beginPath(); ctx.arc(x, y, R + 4, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "rgba(255, 255, 255, 0.9)"; ctx.strokeStyle = "#999";
    ctx.fillRect(lx - w / 2 - 4, ly - 9, w + 8, 18);
    ctx.strokeRect(lx - w / 2 - 4, ly - 9, w + 8, 18);
    ctx.fillStyle = "#000"; ctx.fillText(text, lx - w / 2, ly + 4);
  });
  star(qx, qy, 14);
  const w = ctx.measureText(q.label).width;
  ctx.fillStyle = "#000";
  ctx.fillText(q.label, Math.min(Math.max(qx - w / 2, 2), W - w - 2), qy + 24);
}

function show(i, x, y) {
  if (i < 0) { tip.style.display = "none"; return; }
  const t = tip.querySelector(".thumb"), scale = 96 / D.side;
  t.style.backgroundImage = `url(${D.sprite})`;
  t.style.backgroundSize = `${D.cols * 96}px auto`;
  t.style.backgroundPosition = `${-(i % D.cols) * D.side * scale}px ` +
                               `${-Math.floor(i / D.cols) * D.side * scale}px`;
  tip.querySelector(".name").textContent = label(i);
  tip.querySelector(".path").textContent = D.paths[i];
  tip.style.display = "block";
  tip.style.left = Math.min(x + 14, W - 200) + "px";
  tip.style.top = Math.min(y + 14, H - 150) + "px";
  tip.dataset.point = i;
}

function nearest(x, y) {
  let best = -1, bestD = (R + 6) * (R + 6);
  pts.forEach((p, i) => {
    const d = (p[0] - x) ** 2 + (p[1] - y) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  });
  return best;
}

canvas.addEventListener("mousemove", e => {
  const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
  show(nearest(x, y), x, y);
});
canvas.addEventListener("mouseleave", () => show(-1));

function fromHash() {
  const m = /point=(\\d+)/.exec(location.hash);
  if (m && +m[1] < pts.length) show(+m[1], ...pts[+m[1]]);
}

const legend = document.getElementById("legend");
if (new Set(D.colours).size > 2) {
  D.names.forEach((name, c) => {
    if (!D.person.includes(c)) return;
    const s = document.createElement("span"), dot = document.createElement("i");
    dot.style.background = D.colours[c];
    s.append(dot, name); legend.append(s);
  });
  if (D.person.some(p => p < 0)) {
    const s = document.createElement("span"), dot = document.createElement("i");
    dot.style.background = D.colours[D.colours.length - 1];
    s.append(dot, "(unnamed)"); legend.append(s);
  }
}
draw();
fromHash();
window.addEventListener("hashchange", fromHash);
document.body.dataset.points = pts.length;
</script>
</body></html>
"""
