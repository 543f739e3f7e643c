// TerraHash web page: query form, Leaflet footprints, results grid. No framework, no network
// beyond this server. Endpoints: GET health, POST search (multipart or JSON), GET search?id=.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { image: null, bbox: null, layers: new Map(), selected: null, drawing: false };

  // ---- map: no tile layer (offline); a graticule gives orientation ---------------------
  const map = L.map("map", { worldCopyJump: true, boxZoom: false, minZoom: 1 }).setView([20, 0], 2);
  L.control.scale({ imperial: false }).addTo(map);
  const graticule = L.layerGroup().addTo(map);
  const footprints = L.featureGroup().addTo(map);
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

  async function runSearch(request, description) {
    setStatus(`Searching ${description}…`);
    $("search-button").disabled = true;
    try {
      const response = await fetch(request.url, request.init);
      const body = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
      if (!response.ok) throw new Error(formatDetail(body.detail) || `HTTP ${response.status}`);
      showResults(body);
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
      runSearch({ url: "search", init: { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } }, "by text");
    } else {
      setStatus("Give a query image, a metadata file or a description.", true);
    }
  });

  function moreLikeThis(id) {
    const query = new URLSearchParams({ id, ...filterParams() });
    runSearch({ url: `search?${query}`, init: {} }, `like ${id}`);
  }

  $("reset-button").addEventListener("click", () => {
    $("query-form").reset();
    setImage(null);
    setBbox(null);
    showResults({ features: [] });
    setStatus("");
  });

  // ---- results ---------------------------------------------------------------------------
  function showResults(collection) {
    footprints.clearLayers();
    state.layers.clear();
    state.selected = null;
    const grid = $("results");
    grid.replaceChildren();
    for (const feature of collection.features) {
      grid.appendChild(card(feature));
      if (feature.geometry) {
        const layer = L.geoJSON(feature.geometry, {
          style: { color: "#1f6feb", weight: 1.5, fillOpacity: 0.15 },
          pointToLayer: (_f, latlng) => L.circleMarker(latlng, { radius: 5, color: "#1f6feb", weight: 1.5 }),
        });
        layer.bindTooltip(`${feature.id} (d=${feature.properties["terrahash:distance"]})`);
        layer.on("click", () => select(feature.id, false));
        footprints.addLayer(layer);
        state.layers.set(feature.id, layer);
      }
    }
    if (state.layers.size) map.fitBounds(footprints.getBounds(), { maxZoom: 12, padding: [20, 20] });
  }

  function card(feature) {
    const p = feature.properties;
    const el = document.createElement("div");
    el.className = "card";
    el.dataset.id = feature.id;
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = feature.id;
    const thumb = feature.assets && feature.assets.thumbnail;
    if (thumb) img.src = thumb.href;
    const when = p.datetime || p.start_datetime;
    const lines = [
      ["dist", `d = ${p["terrahash:distance"]}`],
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
    const more = document.createElement("button");
    more.type = "button";
    more.className = "more";
    more.textContent = "More like this";
    more.addEventListener("click", (e) => { e.stopPropagation(); moreLikeThis(feature.id); });
    el.appendChild(more);
    el.addEventListener("click", () => select(feature.id, true));
    return el;
  }

  function select(id, pan) {
    if (state.selected) {
      const old = state.layers.get(state.selected);
      if (old) old.setStyle({ color: "#1f6feb", weight: 1.5, fillOpacity: 0.15 });
      const oldCard = document.querySelector(`.card[data-id="${CSS.escape(state.selected)}"]`);
      if (oldCard) oldCard.classList.remove("selected");
    }
    state.selected = id;
    const layer = state.layers.get(id);
    if (layer) {
      layer.setStyle({ color: "#f59e0b", weight: 3, fillOpacity: 0.35 });
      layer.bringToFront();
      if (pan) map.fitBounds(layer.getBounds(), { maxZoom: 13, padding: [40, 40] });
    }
    const el = document.querySelector(`.card[data-id="${CSS.escape(id)}"]`);
    if (el) {
      el.classList.add("selected");
      if (!pan) el.scrollIntoView({ block: "nearest" });
    }
    if (!layer && pan) setStatus(`${id} has no footprint to show on the map`);
  }

  function setStatus(text, error) {
    const el = $("status");
    el.textContent = text;
    el.classList.toggle("error", Boolean(error));
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
})();
