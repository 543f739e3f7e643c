// TerraHash map page: query form, an offline basemap (Natural Earth outlines), the archive's
// coverage, result footprints and thumbnails, a results panel, "why this match", the query in
// the URL. No framework, no network beyond this server. Endpoints: GET health, POST search
// (multipart or JSON), GET search?id=, GET coverage, GET explain, GET basemap/countries.geojson.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { image: null, bbox: null, layers: new Map(), selected: null, drawing: false,
    query: null, features: new Map(), located: true, whyFor: null };

  // ---- map: no tile layer (offline); a graticule gives orientation ---------------------
  const map = L.map("map", { worldCopyJump: true, boxZoom: false, minZoom: 1 }).setView([20, 0], 2);
  L.control.scale({ imperial: false }).addTo(map);
  map.createPane("basemap").style.zIndex = 200;
  map.createPane("coverage").style.zIndex = 350;
  const graticule = L.layerGroup().addTo(map);
  const basemap = L.layerGroup().addTo(map);
  const coverage = L.layerGroup().addTo(map);
  const footprints = L.featureGroup().addTo(map);
  const thumbnails = L.layerGroup().addTo(map);
  L.control.layers(null, { "Countries": basemap, "Archive coverage": coverage, "Result thumbnails": thumbnails },
    { collapsed: true }).addTo(map);

  // ---- basemap: Natural Earth 1:110m countries, served by this server ---------------------
  fetch("basemap/countries.geojson").then((r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.json();
  }).then((countries) => {
    basemap.addLayer(L.geoJSON(countries, {
      pane: "basemap", interactive: false,
      style: { className: "basemap-country", color: "#8a9aa9", weight: 0.8, fillColor: "#f4f1ea", fillOpacity: 1 },
    }));
  }).catch((err) => setStatus(`Basemap unavailable: ${err.message}`, true));

  // ---- coverage: the archive's footprints near by, grid clusters far away -----------------
  let coverageRequest = 0;
  function viewBbox() {
    const b = map.getBounds();
    if (b.getEast() - b.getWest() >= 360) return null;
    const wrap = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
    const f = (v) => v.toFixed(5);
    return [wrap(b.getWest()), clamp(b.getSouth(), -90, 90), wrap(b.getEast()), clamp(b.getNorth(), -90, 90)].map(f).join(",");
  }
  async function loadCoverage(fit) {
    const ticket = ++coverageRequest;
    const bbox = fit ? null : viewBbox();
    const response = await fetch(bbox ? `coverage?bbox=${bbox}` : "coverage");
    if (!response.ok || ticket !== coverageRequest) return;
    const body = await response.json();
    if (body.total === 0) { showUnlocated(body.items); return; }
    coverage.clearLayers();
    for (const feature of body.features) coverage.addLayer(coverageLayer(feature));
    if (fit && body.extent) {
      const [w, s, e, n] = body.extent;
      map.fitBounds([[s, w], [n, e]], { maxZoom: 8, padding: [30, 30] });
    }
  }
  function coverageLayer(feature) {
    const [lon, lat] = feature.geometry.type === "Point" ? feature.geometry.coordinates : [0, 0];
    if (feature.properties.count) {
      const count = feature.properties.count;
      const size = 26 + Math.min(24, Math.round(Math.log10(count) * 8));
      const marker = L.marker([lat, lon], {
        pane: "coverage", keyboard: true, title: feature.properties.ids ? `${count} items here: list them` : `${count} items: zoom in`,
        icon: L.divIcon({ className: "coverage-cluster", html: `<span>${count}</span>`, iconSize: [size, size] }),
      });
      const [w, s, e, n] = feature.properties.cell;
      if (feature.properties.ids) marker.bindPopup(() => clusterList(feature.properties.ids));
      else marker.on("click", () => map.fitBounds([[s, w], [n, e]]));
      return marker;
    }
    const style = { pane: "coverage", className: "coverage-footprint", color: "#7c3aed", weight: 1, fillOpacity: 0.08 };
    let layer;
    if (feature.geometry.type === "Point") {
      layer = L.circleMarker([lat, lon], { ...style, radius: 4, fillOpacity: 0.5 });
    } else {
      layer = L.geoJSON(feature.geometry, { style });
      const box = layer.getBounds();
      const size = map.latLngToLayerPoint(box.getNorthEast()).subtract(map.latLngToLayerPoint(box.getSouthWest()));
      // a footprint a few pixels wide would vanish: mark its centre instead
      if (Math.abs(size.x) < 6 && Math.abs(size.y) < 6) layer = L.circleMarker(box.getCenter(), { ...style, radius: 4, fillOpacity: 0.5 });
    }
    layer.bindTooltip(`${escapeHtml(feature.id)}: click for more like this`);
    layer.on("click", () => { $("id-input").value = feature.id; searchById(feature.id); });
    return layer;
  }
  function clusterList(ids) {
    const box = document.createElement("div");
    box.className = "cluster-list";
    box.append(Object.assign(document.createElement("p"), { textContent: `${ids.length} items here; more like:` }));
    for (const id of ids) {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: id });
      button.addEventListener("click", () => { map.closePopup(); moreLikeThis(id); });
      box.append(button);
    }
    return box;
  }
  function showUnlocated(items) {
    state.located = false;
    $("map-wrap").classList.add("unlocated");
    $("main").classList.add("unlocated");
    $("legend").hidden = true;
    $("map").hidden = true;
    $("no-coords").hidden = false;
    $("no-coords-text").textContent = `None of its ${items} items has a footprint or a centre, so there is `
      + "nothing to place on a map. Search as usual: results are listed below.";
    $("draw-bbox").disabled = true;
  }
  map.on("moveend", () => { if (state.located) loadCoverage(false); });
  let bboxLayer = null;

  function drawGraticule() {
    graticule.clearLayers();
    const z = map.getZoom();
    const step = z <= 2 ? 30 : z <= 4 ? 10 : z <= 6 ? 5 : z <= 8 ? 1 : z <= 10 ? 0.25 : 0.05;
    const b = map.getBounds();
    const style = { color: "#9fb0c0", weight: 0.6, interactive: false };
    const lat0 = Math.max(-90, Math.floor(b.getSouth() / step) * step);
    const lat1 = Math.min(90, Math.ceil(b.getNorth() / step) * step);
    const lon0 = Math.floor(b.getWest() / step) * step;
    const lon1 = Math.ceil(b.getEast() / step) * step;
    if ((lon1 - lon0) / step > 400 || (lat1 - lat0) / step > 400) return;
    for (let lat = lat0; lat <= lat1; lat += step) {
      graticule.addLayer(L.polyline([[lat, lon0], [lat, lon1]], style));
    }
    for (let lon = lon0; lon <= lon1; lon += step) {
      graticule.addLayer(L.polyline([[lat0, lon], [lat1, lon]], style));
    }
  }
  map.on("moveend zoomend", drawGraticule);
  drawGraticule();

  // ---- bbox drawing: shift-drag, or the "Draw box" button then drag ----------------------
  let dragStart = null;
  let dragRect = null;
  map.on("mousedown", (e) => {
    if (!(state.drawing || e.originalEvent.shiftKey)) return;
    map.dragging.disable();
    dragStart = e.latlng;
    dragRect = L.rectangle(L.latLngBounds(dragStart, dragStart), { color: "#f59e0b", weight: 2, fill: false }).addTo(map);
  });
  map.on("mousemove", (e) => {
    if (dragStart && dragRect) dragRect.setBounds(L.latLngBounds(dragStart, e.latlng));
  });
  map.on("mouseup", (e) => {
    if (!dragStart) return;
    const bounds = L.latLngBounds(dragStart, e.latlng);
    map.removeLayer(dragRect);
    dragStart = null;
    dragRect = null;
    map.dragging.enable();
    setDrawing(false);
    if (bounds.getNorth() !== bounds.getSouth() && bounds.getEast() !== bounds.getWest()) setBbox(bounds);
  });

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  function setBbox(bounds) {
    if (bboxLayer) map.removeLayer(bboxLayer);
    bboxLayer = null;
    state.bbox = null;
    if (bounds) {
      const w = clamp(bounds.getWest(), -180, 180), e = clamp(bounds.getEast(), -180, 180);
      const s = clamp(bounds.getSouth(), -90, 90), n = clamp(bounds.getNorth(), -90, 90);
      state.bbox = [w, s, e, n].map((v) => Math.round(v * 1e5) / 1e5);
      bboxLayer = L.rectangle([[s, w], [n, e]], { color: "#f59e0b", weight: 2, fillOpacity: 0.05, interactive: false }).addTo(map);
    }
    $("bbox-text").textContent = state.bbox ? state.bbox.join(",") : "anywhere";
  }
  function setDrawing(on) {
    state.drawing = on;
    $("draw-bbox").classList.toggle("active", on);
    map.getContainer().style.cursor = on ? "crosshair" : "";
  }
  $("draw-bbox").addEventListener("click", () => setDrawing(!state.drawing));
  $("clear-bbox").addEventListener("click", () => setBbox(null));

  // ---- query image: drag-and-drop or file chooser ---------------------------------------
  const drop = $("drop-zone");
  function setImage(file) {
    state.image = file || null;
    const preview = $("query-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (file) {
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      $("drop-text").textContent = file.name;
    } else {
      preview.removeAttribute("src");
      preview.hidden = true;
      $("drop-text").textContent = "Drop a query image here or click to choose";
    }
  }
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) setImage(e.dataTransfer.files[0]);
  });
  $("image-input").addEventListener("change", (e) => setImage(e.target.files[0]));

  // ---- parameters shared by every query kind --------------------------------------------
  function filterParams() {
    const p = {};
    const start = $("date-start").value, end = $("date-end").value;
    if (start || end) p.datetime = `${start || ".."}/${end || ".."}`;
    if (state.bbox) p.bbox = state.bbox.join(",");
    for (const [key, id] of [["platform", "platform-input"], ["label", "label-input"],
      ["cloud_max", "cloud-max"], ["gsd_min", "gsd-min"], ["gsd_max", "gsd-max"], ["k", "k-input"]]) {
      const v = $(id).value.trim();
      if (v) p[key] = v;
    }
    return p;
  }

  async function runSearch(request, description, shared) {
    state.query = shared || null;
    setStatus(`Searching ${description}…`);
    $("search-button").disabled = true;
    try {
      const response = await fetch(request.url, request.init);
      const body = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
      if (!response.ok) throw new Error(formatDetail(body.detail) || `HTTP ${response.status}`);
      showResults(body);
      writeUrl(shared);
      const n = body.features.length;
      setStatus(`${n} result${n === 1 ? "" : "s"} ${description} in ${body.took_ms.toFixed(1)} ms`);
    } catch (err) {
      setStatus(err.message, true);
    } finally {
      $("search-button").disabled = false;
    }
  }

  function formatDetail(detail) {
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    return detail;
  }

  $("query-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const params = filterParams();
    const metadata = $("metadata-input").files[0];
    const text = $("text-input").value.trim();
    const itemId = $("id-input").value.trim();
    if (state.image || metadata) {
      const form = new FormData();
      if (state.image) form.append("image", state.image, state.image.name);
      if (metadata) form.append("metadata", metadata, metadata.name);
      for (const [key, value] of Object.entries(params)) form.append(key, value);
      runSearch({ url: "search", init: { method: "POST", body: form } }, state.image ? "by image" : "by metadata");
    } else if (text) {
      const body = { text, ...params };
      if (body.k) body.k = Number(body.k);
      for (const key of ["cloud_max", "gsd_min", "gsd_max"]) if (key in body) body[key] = Number(body[key]);
      runSearch({ url: "search", init: { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } },
        "by text", { text, ...params });
    } else if (itemId) {
      searchById(itemId);
    } else {
      setStatus("Give a query image, a metadata file, a description or an item id.", true);
    }
  });

  function searchById(id) {
    const params = { id, ...filterParams() };
    runSearch({ url: `search?${new URLSearchParams(params)}`, init: {} }, `like ${id}`, params);
  }
  function moreLikeThis(id) {
    $("id-input").value = id;
    $("text-input").value = "";
    setImage(null);
    searchById(id);
  }

  // ---- the query in the URL: a text or id search (and its filters) can be shared ----------
  function writeUrl(shared) {
    const url = new URL(window.location.href);
    url.search = shared ? new URLSearchParams(shared).toString() : "";
    window.history.replaceState(null, "", url);
  }
  function readUrl() {
    const q = new URLSearchParams(window.location.search);
    if (!q.has("id") && !q.has("text")) return false;
    const [start, end] = (q.get("datetime") || "/").split("/");
    $("date-start").value = start && start !== ".." ? start.slice(0, 10) : "";
    $("date-end").value = end && end !== ".." ? end.slice(0, 10) : "";
    for (const [key, id] of [["platform", "platform-input"], ["label", "label-input"], ["cloud_max", "cloud-max"],
      ["gsd_min", "gsd-min"], ["gsd_max", "gsd-max"], ["k", "k-input"], ["text", "text-input"], ["id", "id-input"]]) {
      if (q.has(key)) $(id).value = q.get(key);
    }
    if (q.has("bbox")) {
      const [w, s, e, n] = q.get("bbox").split(",").map(Number);
      if ([w, s, e, n].every(Number.isFinite)) setBbox(L.latLngBounds([s, w], [n, e]));
    }
    $("query-form").requestSubmit();
    return true;
  }
  $("copy-link").addEventListener("click", async () => {
    if (!state.query) { setStatus("Only text and id searches can be shared as a link (an image stays on your machine).", true); return; }
    try {
      await navigator.clipboard.writeText(window.location.href);
      setStatus("Link to this search copied.");
    } catch (_err) {
      setStatus(`Link: ${window.location.href}`);
    }
  });

  $("reset-button").addEventListener("click", () => {
    $("query-form").reset();
    setImage(null);
    setBbox(null);
    showResults({ features: [] });
    writeUrl(null);
    setStatus("");
  });

  // ---- results: a panel of cards, footprints and thumbnails on the map -----------------------
  const RESULT = { color: "#1f6feb", weight: 1.5, fillOpacity: 0.15 };
  const SELECTED = { color: "#f59e0b", weight: 3, fillOpacity: 0.35 };

  function showResults(collection) {
    footprints.clearLayers();
    thumbnails.clearLayers();
    state.layers.clear();
    state.features.clear();
    state.selected = null;
    closeWhy();
    const grid = $("results");
    grid.replaceChildren();
    for (const feature of collection.features) {
      state.features.set(feature.id, feature);
      grid.appendChild(card(feature));
      if (feature.geometry && state.located) placeOnMap(feature);
    }
    const n = collection.features.length;
    $("results-count").textContent = n ? `${n} shown` : "";
    if (state.layers.size) map.fitBounds(footprints.getBounds(), { maxZoom: 12, padding: [20, 20] });
  }

  function placeOnMap(feature) {
    const p = feature.properties;
    const layer = L.geoJSON(feature.geometry, {
      style: { ...RESULT, className: "result-footprint" },
      pointToLayer: (_f, latlng) => L.circleMarker(latlng, { ...RESULT, radius: 5, className: "result-footprint" }),
    });
    layer.bindTooltip(`#${p["terrahash:rank"]} ${escapeHtml(feature.id)} (d=${p["terrahash:distance"]})`);
    layer.on("click", () => select(feature.id, false));
    footprints.addLayer(layer);
    state.layers.set(feature.id, layer);
    const thumb = feature.assets && feature.assets.thumbnail;
    if (!thumb) return;
    const alt = `thumbnail of ${feature.id}`;
    let overlay;
    if (feature.geometry.type === "Point") {
      const [lon, lat] = feature.geometry.coordinates;
      overlay = L.marker([lat, lon], {
        keyboard: false, title: feature.id, riseOnHover: true, zIndexOffset: 1000 - p["terrahash:rank"],
        icon: L.divIcon({ className: "result-thumb-marker", iconSize: [44, 44], iconAnchor: [22, 22],
          html: `<img class="result-thumb" src="${thumb.href}" alt="${escapeHtml(alt)}"><b>${p["terrahash:rank"]}</b>` }),
      });
    } else {
      overlay = L.imageOverlay(thumb.href, layer.getBounds(), { className: "result-thumb", alt, opacity: 0.9, interactive: true });
    }
    overlay.on("click", () => select(feature.id, false));
    thumbnails.addLayer(overlay);
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function card(feature) {
    const p = feature.properties;
    const el = document.createElement("div");
    el.className = "card";
    el.dataset.id = feature.id;
    el.tabIndex = 0;
    el.setAttribute("role", "listitem");
    el.setAttribute("aria-label", `Result ${p["terrahash:rank"]}: ${feature.id}, distance ${p["terrahash:distance"]}`);
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = feature.id;
    const thumb = feature.assets && feature.assets.thumbnail;
    if (thumb) img.src = thumb.href;
    const when = p.datetime || p.start_datetime;
    const score = p["terrahash:score"];
    const lines = [
      ["dist", `#${p["terrahash:rank"]} · d = ${p["terrahash:distance"]}${score != null ? ` · s = ${score.toFixed(3)}` : ""}`],
      ["meta", p["terrahash:label"] || "unlabelled"],
      ["meta", p.platform || "unknown sensor"],
      ["meta", when ? when.slice(0, 10) : "no date"],
    ];
    el.appendChild(img);
    for (const [cls, text] of lines) {
      const div = document.createElement("div");
      div.className = cls;
      div.textContent = text;
      div.title = text;
      el.appendChild(div);
    }
    if (!feature.geometry) {
      const where = document.createElement("small");
      where.className = "muted";
      where.textContent = "no coordinates";
      el.appendChild(where);
    }
    const buttons = document.createElement("span");
    buttons.className = "buttons";
    const why = document.createElement("button");
    why.type = "button";
    why.className = "why";
    why.textContent = "Why this match";
    why.addEventListener("click", (e) => { e.stopPropagation(); select(feature.id, true); openWhy(feature.id); });
    const more = document.createElement("button");
    more.type = "button";
    more.className = "more";
    more.textContent = "More like this";
    more.addEventListener("click", (e) => { e.stopPropagation(); moreLikeThis(feature.id); });
    buttons.append(why, more);
    el.appendChild(buttons);
    el.addEventListener("click", () => select(feature.id, true));
    el.addEventListener("keydown", (e) => {
      if (e.target !== el) return;
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        select(feature.id, true);
        openWhy(feature.id);
      } else if (e.key === "ArrowRight" || e.key === "ArrowDown") {
        e.preventDefault();
        (el.nextElementSibling || el).focus();
      } else if (e.key === "ArrowLeft" || e.key === "ArrowUp") {
        e.preventDefault();
        (el.previousElementSibling || el).focus();
      }
    });
    el.addEventListener("focus", () => select(feature.id, false));
    return el;
  }

  function select(id, pan) {
    if (state.selected === id && !pan) return;
    if (state.selected) {
      const old = state.layers.get(state.selected);
      if (old) old.setStyle(RESULT);
      const oldCard = document.querySelector(`.card[data-id="${CSS.escape(state.selected)}"]`);
      if (oldCard) oldCard.classList.remove("selected");
    }
    state.selected = id;
    const layer = state.layers.get(id);
    if (layer) {
      layer.setStyle(SELECTED);
      layer.bringToFront();
      if (pan) map.fitBounds(layer.getBounds(), { maxZoom: 13, padding: [40, 40] });
    }
    const el = document.querySelector(`.card[data-id="${CSS.escape(id)}"]`);
    if (el) {
      el.classList.add("selected");
      if (!pan) el.scrollIntoView({ block: "nearest" });
    }
    if (!layer && pan && state.located) setStatus(`${id} has no footprint to show on the map`);
  }

  // ---- why this match: distance, shared taxonomy path, metadata agreement -----------------
  async function openWhy(id) {
    const feature = state.features.get(id);
    const queryId = state.query && state.query.id;
    state.whyFor = id;
    const panel = $("why");
    const body = $("why-body");
    body.replaceChildren(Object.assign(document.createElement("p"), { textContent: "Loading…" }));
    panel.hidden = false;
    $("why-close").focus();
    try {
      const params = new URLSearchParams({ item: id });
      if (queryId) params.set("id", queryId);
      const response = await fetch(`explain?${params}`);
      const why = await response.json();
      if (!response.ok) throw new Error(formatDetail(why.detail) || `HTTP ${response.status}`);
      if (state.whyFor === id) body.replaceChildren(...whyView(feature, why));
    } catch (err) {
      body.replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: err.message }));
    }
  }

  function closeWhy() {
    const panel = $("why");
    if (panel.hidden) return;
    panel.hidden = true;
    const id = state.whyFor;
    state.whyFor = null;
    const el = id && document.querySelector(`.card[data-id="${CSS.escape(id)}"]`);
    if (el) el.focus();
  }
  $("why-close").addEventListener("click", closeWhy);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeWhy(); });

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function whyView(feature, why) {
    const p = feature ? feature.properties : {};
    const parts = [];
    const head = el("p", "why-head");
    head.append(el("strong", null, why.item));
    if (why.query) head.append(` for the query item ${why.query}`);
    parts.push(head);

    const codes = el("dl", "why-codes");
    const distance = p["terrahash:distance"] != null ? p["terrahash:distance"] : why.distance;
    const pairs = [["Rank", p["terrahash:rank"]], ["Hamming distance", distance != null ? `${distance} of ${why.bits} bits` : "–"],
      ["Code agreement", distance != null ? `${(100 * (1 - distance / why.bits)).toFixed(1)} % of bits` : "–"]];
    if (p["terrahash:score"] != null) pairs.push(["Re-ranking score", p["terrahash:score"].toFixed(4)]);
    for (const [k, v] of pairs) codes.append(el("dt", null, k), el("dd", null, v == null ? "–" : String(v)));
    parts.push(codes);

    parts.push(el("h3", null, "Taxonomy"));
    const t = why.taxonomy;
    if (!t.result_path) {
      parts.push(el("p", "muted", "The result has no label the taxonomy knows."));
    } else {
      const shared = new Set((t.shared_path || []).map((n) => n.id));
      const path = el("ol", "why-path");
      for (const node of t.result_path) {
        const li = el("li", shared.has(node.id) ? "shared" : "differs", node.name);
        li.title = node.id;
        path.append(li);
      }
      parts.push(path);
      if (!t.query_path) {
        parts.push(el("p", "muted", why.query ? "The query item has no label the taxonomy knows."
          : "The query is not an indexed item, so it has no label to compare."));
      } else if (t.same_class) {
        parts.push(el("p", "agree", `Same class: ${t.result_path[t.result_path.length - 1].name}.`));
      } else {
        const last = t.shared_path[t.shared_path.length - 1];
        parts.push(el("p", t.shared_depth > 0 ? "partly" : "differs",
          `Shared down to “${last ? last.name : "nothing"}” (depth ${t.shared_depth}); the query is ${t.query_path[t.query_path.length - 1].name}.`));
      }
    }

    parts.push(el("h3", null, "Metadata"));
    const m = why.metadata;
    const table = el("table", "why-meta");
    const header = el("tr");
    header.append(el("th", null, ""), el("th", null, "query"), el("th", null, "result"), el("th", null, "agree"));
    table.append(header);
    const fmt = (v) => (v == null ? "–" : String(v).replace("T", " ").replace("+00:00", "Z"));
    for (const [name, pair] of [["Platform", m.platform], ["Date", m.datetime], ["GSD (m)", m.gsd_m], ["Cloud (%)", m.cloud_cover]]) {
      const row = el("tr");
      const mark = pair.same == null ? "–" : pair.same ? "yes" : "no";
      row.append(el("th", null, name), el("td", null, fmt(pair.query)), el("td", null, fmt(pair.result)),
        el("td", pair.same == null ? "" : pair.same ? "agree" : "differs", mark));
      table.append(row);
    }
    parts.push(table);
    const facts = el("ul", "why-facts");
    if (m.days_apart != null) facts.append(el("li", null, `${m.days_apart} days apart`));
    if (m.centre_distance_km != null) facts.append(el("li", null, `${m.centre_distance_km} km between centres`));
    if (!why.query) facts.append(el("li", "muted", "Only id searches compare metadata with the query."));
    parts.push(facts);
    return parts;
  }

  function setStatus(text, error) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(error));
  }

  function fillList(id, values) {
    const list = $(id);
    list.replaceChildren(...(values || []).map((v) => Object.assign(document.createElement("option"), { value: v })));
  }

  fetch("health").then((r) => r.json()).then((h) => {
    $("index-info").textContent = `${h.items} items · ${h.bits} bits`;
    fillList("platform-list", h.platforms);
    fillList("label-list", h.labels);
  }).catch(() => { $("index-info").textContent = "server unreachable"; });

  const restored = readUrl();
  loadCoverage(!restored).catch(() => setStatus("Coverage unavailable", true));
})();
