// lookalike serve: the page.  Plain DOM, no build step; every answer comes from the JSON
// API the command line's --json mirrors, every change from the endpoints `name` and
// `cluster` mirror.  Text from the index is set with textContent, never as HTML.
"use strict";

const TOKEN = document.querySelector('meta[name="token"]').content;
const $ = (id) => document.getElementById(id);
let source = null; // what the server answers from: {kind: "index" | "builtin", ...}

// -- talking to the server ---------------------------------------------------------------
async function ask(path, options = {}) {
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

function change(path, body) {
  return ask(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Lookalike-Token": TOKEN },
    body: JSON.stringify(body),
  });
}

// A change that may merge two people: sent, and where the name is someone's already, asked.
async function changeAsking(path, body) {
  try {
    return await change(path, body);
  } catch (e) {
    if (e.status !== 409 || !e.data.person) throw e;
    const p = e.data.person;
    if (!confirm(`${p.name} is already in the index (${p.faces} faces). Make these faces theirs too, as one person?`)) {
      return null;
    }
    return change(path, { ...body, merge: true });
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function say(id, text, bad = false) {
  $(id).textContent = text;
  $(id).classList.toggle("bad", bad);
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 4000);
}

// A face from the index; where there is no picture of it (the built-in gallery without
// LFW's photos: `lookalike serve --lfw DIR`), a card with the name instead.
const faceImg = (id, alt) =>
  el("img", {
    src: `/face/${id}.jpg`,
    alt: alt || "",
    loading: "lazy",
    class: "face",
    onerror: (e) => e.target.replaceWith(el("div", { class: "face card-name", text: alt || "?" })),
  });
const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const pretty = (name) => (name === null ? "(unnamed)" : name.replaceAll("_", " "));

// A face cut from a photo preview by its box (in the original's pixels), as a square tile.
function crop(preview, box, side = 160) {
  const w = box.right - box.left, h = box.bottom - box.top;
  const scale = side / Math.max(w, h);
  const tile = el("div", { class: "crop", role: "img", "aria-label": "query face" });
  tile.style.width = tile.style.height = `${side}px`;
  tile.style.backgroundImage = `url(${preview.src})`;
  tile.style.backgroundSize = `${preview.width * scale}px ${preview.height * scale}px`;
  tile.style.backgroundPosition = `${-box.left * scale + (side - w * scale) / 2}px ${-box.top * scale + (side - h * scale) / 2}px`;
  return tile;
}

// -- tabs --------------------------------------------------------------------------------
const loaders = { people: loadPeople, groups: loadGroups, map: loadMap };
const loaded = new Set();

function showTab() {
  const name = (location.hash || "#match").slice(1).split("/")[0];
  const tab = $(name) && $(name).classList.contains("tab") ? name : "match";
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== tab;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.tab === tab);
  if (loaders[tab] && !loaded.has(tab)) {
    loaded.add(tab);
    loaders[tab]();
  }
}

async function loadSource() {
  const info = await ask("/api/info");
  source = info.gallery;
  $("source").textContent = info.describe;
  document.body.dataset.source = source.kind;
}

// -- match -------------------------------------------------------------------------------
let matchReport = null;

async function matchPhoto(file) {
  if (!file) return;
  const form = new FormData($("match-form"));
  form.set("photo", file, file.name);
  form.set("all", "1");
  form.set("preview", "1");
  say("match-status", `matching ${file.name}…`);
  $("match-results").replaceChildren();
  $("match-query").replaceChildren();
  try {
    matchReport = await ask("/api/match", { method: "POST", body: form });
  } catch (e) {
    say("match-status", e.message, true);
    return;
  }
  const n = matchReport.query.faces_found;
  say("match-status", n > 1 ? `${n} faces in ${file.name}: pick one to see who it looks like.` : "");
  showQuery(1);
}

function showQuery(chosen) {
  const r = matchReport;
  const photo = el("div", { class: "photo" }, el("img", { src: r.preview.src, alt: r.query.photo }));
  for (const f of r.query.faces) {
    const b = f.box;
    const mark = el("button", {
      type: "button",
      class: "box" + (f.face === chosen ? " on" : ""),
      title: `face ${f.face}`,
      "aria-label": `face ${f.face}`,
      onclick: () => showQuery(f.face),
    });
    Object.assign(mark.style, {
      left: `${(100 * b.left) / r.preview.width}%`,
      top: `${(100 * b.top) / r.preview.height}%`,
      width: `${(100 * (b.right - b.left)) / r.preview.width}%`,
      height: `${(100 * (b.bottom - b.top)) / r.preview.height}%`,
    });
    photo.append(mark);
  }
  const face = r.query.faces[chosen - 1];
  $("match-query").replaceChildren(photo, crop(r.preview, face.box));
  const cards = r.matches.filter((m) => m.face === chosen).map(matchCard);
  $("match-results").replaceChildren(...(cards.length ? cards : [el("p", { text: "No one else in the index." })]));
}

function matchCard(m) {
  return el(
    "figure",
    { class: "card match" + (m.same_person ? " same" : ""), "data-name": m.name ?? "" },
    faceImg(m.face_id, pretty(m.name)),
    el(
      "figcaption",
      {},
      el("b", { text: `${m.rank}. ${pretty(m.name)}` }),
      el("span", { text: m.resemblance }),
      el("span", { class: "muted", text: `distance ${m.distance.toFixed(3)} · ${Math.round(m.similarity)}% similar` }),
    ),
  );
}

// -- compare -----------------------------------------------------------------------------
async function compare(event) {
  event.preventDefault();
  const form = new FormData($("compare-form"));
  if (!$("compare-a").files.length || !$("compare-b").files.length) {
    say("compare-status", "pick two photos", true);
    return;
  }
  form.set("preview", "1");
  say("compare-status", "comparing…");
  $("compare-result").replaceChildren();
  let r;
  try {
    r = await ask("/api/distance", { method: "POST", body: form });
  } catch (e) {
    say("compare-status", e.message, true);
    return;
  }
  say("compare-status", "");
  const verdict = r.same_person ? "the same person" : "different people";
  const faces = r.faces.map((f, i) =>
    el("figure", { class: "card" }, crop(r.previews[i], f.box), el("figcaption", { text: f.photo })),
  );
  const words = el(
    "div",
    { class: "verdict" + (r.same_person ? " same" : ""), id: "compare-verdict", "data-same": String(r.same_person) },
    el("b", { text: verdict }),
    el("span", { text: `distance ${r.distance.toFixed(3)} · ${Math.round(r.similarity)}% similar` }),
  );
  $("compare-result").replaceChildren(el("div", { class: "cards" }, ...faces), words);
}

// -- people ------------------------------------------------------------------------------
let everyone = [];
const SHOWN = 600; // cards drawn at once: enough to browse, few enough to stay quick
const key = (name) => name.toLowerCase().replaceAll("_", " ");

async function loadPeople() {
  const data = await ask("/api/people");
  everyone = data.people;
  listPeople();
  const wanted = decodeURIComponent(location.hash.split("/")[1] || "");
  if (wanted) openPerson(wanted);
}

function listPeople() {
  const q = key($("people-search").value.trim());
  const shown = everyone.filter((p) => key(p.name).includes(q));
  const more = shown.length > SHOWN ? ` (the first ${SHOWN} shown: search to find the others)` : "";
  $("people-count").textContent = `${shown.length} of ${everyone.length} people${more}`;
  $("people-list").replaceChildren(
    ...shown.slice(0, SHOWN).map((p) =>
      el(
        "figure",
        { class: "card person", "data-name": p.name, onclick: () => openPerson(p.name) },
        p.face === null ? el("div", { class: "face" }) : faceImg(p.face, pretty(p.name)),
        el("figcaption", {}, el("b", { text: pretty(p.name) }), el("span", { class: "muted", text: `${count(p.faces, "face")}, ${count(p.photos, "photo")}` })),
      ),
    ),
  );
}

async function openPerson(name) {
  let data;
  try {
    data = await ask(`/api/person?name=${encodeURIComponent(name)}`);
  } catch (e) {
    toast(e.message);
    return;
  }
  const mine = source.kind === "index";
  const box = $("person");
  const rename = el(
    "form",
    { class: "inline", onsubmit: (e) => renamePerson(e, data.name) },
    el("input", { name: "name", value: data.name, "aria-label": "new name", required: true }),
    el("button", { type: "submit", text: "Rename" }),
  );
  const faces = data.faces.map((f) =>
    el(
      "figure",
      { class: "card", "data-face": f.face_id },
      faceImg(f.face_id, pretty(data.name)),
      el("figcaption", {}, el("span", { class: "muted", text: f.photo.split("/").pop() }),
        mine ? el("button", { type: "button", class: "small", text: "Not them", onclick: () => takeAway(f.face_id, data.name) }) : null),
    ),
  );
  box.replaceChildren(
    el("h2", { text: pretty(data.name) }),
    mine ? rename : el("p", { class: "muted", text: "The built-in gallery cannot be changed." }),
    el("div", { class: "cards small" }, ...faces),
    el("button", { type: "button", text: "Close", onclick: () => (box.hidden = true) }),
  );
  box.hidden = false;
  box.scrollIntoView();
}

// A name typed in a form, sent to ``path`` (asked before it merges two people); ``then``
// hears what was done.
async function submitName(event, path, body, then) {
  event.preventDefault();
  const name = new FormData(event.target).get("name").trim();
  try {
    const done = await changeAsking(path, { ...body, name });
    if (done) await then(done);
  } catch (e) {
    toast(e.message);
  }
}

function renamePerson(event, person) {
  return submitName(event, "/api/people/rename", { person }, async (done) => {
    toast(`${person} is now ${done.name}`);
    await loadPeople();
    openPerson(done.name);
  });
}

async function takeAway(faceId, person) {
  try {
    await change("/api/faces/take-away", { face_ids: [faceId] });
    toast(`the face is no longer ${person}'s (Undo under Who is who takes it back)`);
    loaded.delete("groups");
    await loadPeople();
    if (everyone.some((p) => p.name === person)) openPerson(person);
    else $("person").hidden = true;
  } catch (e) {
    toast(e.message);
  }
}

// -- who is who --------------------------------------------------------------------------
async function loadGroups() {
  let data;
  try {
    data = await ask("/api/groups");
  } catch (e) {
    say("groups-status", e.message, true);
    return;
  }
  const sheets = data.groups.map(groupSheet);
  $("groups-list").replaceChildren(...sheets);
  $("merge-selected").disabled = true;
  if (data.gallery.kind === "builtin") {
    say("groups-status", "The built-in gallery has no unnamed faces: `lookalike index DIR --unnamed` indexes photos of people nobody named yet.");
  } else if (!data.groups.length) {
    say("groups-status", data.unnamed_faces ? `${data.unnamed_faces} unnamed faces, not grouped yet.` : "No unnamed faces: `lookalike index DIR --unnamed` indexes photos of people nobody named yet.");
  } else {
    say("groups-status", `${data.unnamed_faces} unnamed faces in ${data.groups.length} groups, biggest first. Name a group, merge two, or move a face out.`);
  }
}

function groupSheet(g) {
  const hint = el("span", { class: "hint muted" });
  const input = el("input", { name: "name", placeholder: "Who is this?", "aria-label": `name of group ${g.group}`, required: true });
  input.addEventListener("input", () => mergeHint(input.value, hint));
  const faces = g.faces.map((f) =>
    el(
      "figure",
      { class: "card", "data-face": f.face_id },
      faceImg(f.face_id),
      el("button", { type: "button", class: "small", text: "Move out", title: "not this person: a group of its own", onclick: () => moveOut(f.face_id) }),
    ),
  );
  return el(
    "section",
    { class: "group", "data-group": g.group },
    el(
      "div",
      { class: "toolbar" },
      el("label", {}, el("input", { type: "checkbox", class: "pick", value: g.group, onchange: pickedGroups }), ` group ${g.group}`),
      el("span", { class: "muted", text: count(g.size, "face") }),
      el("form", { class: "inline", onsubmit: (e) => nameGroup(e, g.group) }, input, el("button", { type: "submit", text: "Name" }), hint),
    ),
    el("div", { class: "cards small" }, ...faces),
  );
}

async function mergeHint(name, hint) {
  clearTimeout(mergeHint.timer);
  mergeHint.timer = setTimeout(async () => {
    const known = name.trim() ? (await ask(`/api/someone?name=${encodeURIComponent(name.trim())}`)).person : null;
    hint.textContent = known ? `${known.name} is already in the index (${known.faces} faces): naming merges` : "";
  }, 250);
}

function nameGroup(event, group) {
  return submitName(event, "/api/groups/name", { group }, (done) => {
    toast(`group ${group} (${count(done.faces, "face")}) is now ${done.name}`);
    loaded.delete("people");
    loadGroups();
  });
}

function pickedGroups() {
  const picked = [...document.querySelectorAll(".pick:checked")].map((c) => Number(c.value));
  $("merge-selected").disabled = picked.length < 2;
  return picked;
}

async function mergeSelected() {
  const [keep, ...others] = pickedGroups();
  try {
    for (const other of others) await change("/api/groups/merge", { keep, other });
    toast(`merged into group ${keep}`);
  } catch (e) {
    toast(e.message);
  }
  loadGroups();
}

async function moveOut(faceId) {
  try {
    const done = await change("/api/groups/move-out", { face_id: faceId });
    toast(`face ${faceId} is group ${done.group} now`);
  } catch (e) {
    toast(e.message);
  }
  loadGroups();
}

async function regroup() {
  say("groups-status", "grouping…");
  try {
    await change("/api/groups/cluster", {});
  } catch (e) {
    say("groups-status", e.message, true);
    return;
  }
  loadGroups();
}

async function undo() {
  try {
    const done = await change("/api/undo", {});
    toast(done.undone.length ? `took the last change back: ${count(done.undone.length, "face")} as before` : "nothing to undo");
  } catch (e) {
    toast(e.message);
  }
  loaded.delete("people");
  loadGroups();
}

// -- map ---------------------------------------------------------------------------------
function loadMap() {
  $("map-frame").src = "/map";
}

// -- wiring ------------------------------------------------------------------------------
function dropOn(form, take) {
  form.addEventListener("dragover", (e) => {
    e.preventDefault();
    form.classList.add("over");
  });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("over");
    take([...e.dataTransfer.files]);
  });
}

window.addEventListener("hashchange", showTab);
window.addEventListener("DOMContentLoaded", async () => {
  $("match-photo").addEventListener("change", (e) => matchPhoto(e.target.files[0]));
  dropOn($("match-form"), (files) => matchPhoto(files[0]));
  $("compare-form").addEventListener("submit", compare);
  dropOn($("compare-form"), (files) => {
    const inputs = [$("compare-a"), $("compare-b")];
    files.slice(0, 2).forEach((file, i) => {
      const t = new DataTransfer();
      t.items.add(file);
      inputs[i].files = t.files;
    });
  });
  $("people-search").addEventListener("input", listPeople);
  $("regroup").addEventListener("click", regroup);
  $("merge-selected").addEventListener("click", mergeSelected);
  $("undo").addEventListener("click", undo);
  try {
    await loadSource();
  } catch (e) {
    $("source").textContent = e.message;
  }
  showTab();
  document.body.dataset.ready = "1";
});
