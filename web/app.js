// Sahel Atlas web map: MapLibre over our own tiles and style, plus the query API.
// Everything comes from this server; nothing is fetched from elsewhere.

import { setupAnalysis } from './analysis.js';

// MapLibre's stylesheet matters only once the map exists: fetched here rather than linked
// in the page's head, so the first paint waits for no stylesheet (Lighthouse, mobile:
// 150 ms of render-blocking).
await new Promise((resolve) => {
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = '/vendor/maplibre-gl.css';
  link.onload = resolve;
  link.onerror = resolve;
  document.head.appendChild(link);
});

const maplibregl = window.maplibregl;
const $ = (sel) => document.querySelector(sel);
const fmt = new Intl.NumberFormat('en');

// ---------- status: loading and errors are always visible ----------
let inFlight = 0; // API requests under way
let mapLoading = false; // tiles or glyphs under way
const status = $('#status');
function showStatus() {
  if (status.classList.contains('error')) return;
  const busy = inFlight > 0 || mapLoading;
  status.className = busy ? 'loading' : '';
  status.textContent = busy ? 'Loading…' : '';
}
function showError(message) {
  status.className = 'error';
  status.textContent = message;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { status.className = ''; showStatus(); }, 8000);
}

/** GET JSON from our API; a problem+json answer becomes an Error with its detail. */
async function api(path) {
  inFlight++;
  showStatus();
  try {
    const resp = await fetch(path);
    const body = await resp.json().catch(() => null);
    if (!resp.ok) {
      let msg = body && body.detail ? body.detail : `${resp.status} ${resp.statusText}`;
      if (body && body.suggestions && body.suggestions.length) msg += ` — did you mean ${body.suggestions.join(', ')}?`;
      throw new Error(msg);
    }
    return body;
  } finally {
    inFlight--;
    showStatus();
  }
}

// ---------- offline: what was already seen keeps working (sw.js) ----------
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch((e) => console.warn(`no offline copy: ${e.message}`));
}
/** The server's health (`null` when it does not answer): never answered from the copy. */
async function health() {
  try {
    const resp = await fetch('/healthz', { cache: 'no-store' });
    return resp.ok ? await resp.json() : null;
  } catch (e) {
    return null; // offline
  }
}
/** Shows whether the server answers. */
async function checkOnline(answer) {
  const h = answer === undefined ? await health() : await answer;
  $('#offline').hidden = !!h;
  window.__online = !!h;
  return h;
}
// One health check at start-up serves both the offline notice and the live updates.
const firstHealth = health();
checkOnline(firstHealth);
window.addEventListener('online', () => checkOnline());
window.addEventListener('offline', () => checkOnline());
setInterval(() => { if (!$('#offline').hidden) checkOnline(); }, 15000);

// ---------- filters shared by tiles and queries ----------
const state = { from: 1997, to: 2020, types: new Set(), allTypes: [], actor: '', radius: 50, version: 0 };

function filterParams() {
  const p = new URLSearchParams();
  // The slider's whole range restricts nothing: left out, the first tiles are the style's
  // own URLs, so the first view fetches each tile once.
  const whole = state.from <= Number($('#year-from').min) && state.to >= Number($('#year-to').max);
  if (!whole) {
    p.set('from', String(state.from));
    p.set('to', String(state.to));
  }
  if (state.types.size && state.types.size < state.allTypes.length) p.set('type', [...state.types].join(','));
  if (state.actor.trim()) p.set('actor', state.actor.trim());
  return p;
}

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
// The Content-Security-Policy refuses inline style attributes: a swatch carries its colour
// as data, and paintSwatches sets it through the DOM once the markup is in the page.
const swatch = (colour) => `<span class="swatch" data-colour="${esc(colour)}"></span>`;
function paintSwatches(root) {
  for (const s of root.querySelectorAll('.swatch[data-colour]')) s.style.background = s.dataset.colour;
}

// ---------- map ----------
// Archives published on object storage or a CDN are read by range requests.
maplibregl.addProtocol('pmtiles', new pmtiles.Protocol().tile);
// `?basemap=NAME` in the page's address starts on that archive (see /archives).
const startBasemap = new URLSearchParams(location.search).get('basemap') || '';
const map = new maplibregl.Map({
  container: 'map',
  style: startBasemap ? `/style.json?basemap=${encodeURIComponent(startBasemap)}` : '/style.json',
  center: [-2.5, 16.5],
  zoom: 4.6,
  attributionControl: { compact: false },
  hash: true,
});
window.sahelMap = map; // for the browser test and for curious users
map.addControl(new maplibregl.NavigationControl(), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
map.on('error', (e) => showError(`Map: ${e.error && e.error.message ? e.error.message : 'a tile or resource failed to load'}`));
map.on('dataloading', () => { mapLoading = true; showStatus(); });
map.on('idle', () => { mapLoading = false; showStatus(); window.__mapIdle = true; });

const LAYER_GROUPS = {
  regions: ['regions', 'region-borders'],
  coverage: ['coverage', 'coverage-outline'],
  bases: ['bases', 'base-labels'],
  places: ['places', 'place-labels'],
  events: ['events', 'event-clusters', 'event-cluster-counts'],
  hexbins: ['hexbins', 'hexbins-outline'],
};

function updateTiles() {
  const src = map.getSource('sahel');
  if (!src) return;
  const p = filterParams();
  // After a change, a new URL: neither MapLibre nor the HTTP cache keeps the old tile.
  if (state.version) p.set('v', String(state.version));
  const query = p.toString() ? `?${p}` : '';
  const retile = (source, url) => {
    // The same URL again would make MapLibre fetch every tile again.
    if (source && !(source.tiles && source.tiles.length === 1 && source.tiles[0] === url)) source.setTiles([url]);
  };
  retile(src, `${location.origin}/tiles/{z}/{x}/{y}.mvt${query}`);
  // The hexbins are a tile set of their own, fetched only while the view shows them.
  retile(map.getSource('hexbins'), `${location.origin}/tiles/hexbins/{z}/{x}/{y}.mvt${query}`);
}

/** The slider's range from the data's years; a selection reaching the last year (or,
 * the first time, none yet) follows the range as it grows. */
async function loadYears() {
  const years = await api('/api/stats?group_by=year');
  const ys = years.groups.map((g) => Number(g.key));
  if (!ys.length) return;
  const lo = Math.min(1997, ...ys), hi = Math.max(...ys);
  const first = !loadYears.done;
  const followEnd = first || state.to === Number($('#year-to').max);
  for (const el of [$('#year-from'), $('#year-to')]) { el.min = lo; el.max = hi; }
  if (first) { state.from = lo; $('#year-from').value = lo; }
  if (followEnd) { state.to = hi; $('#year-to').value = hi; }
  loadYears.done = true;
}

// ---------- live: events written while the page is open appear without a reload ----------
async function followChanges() {
  if (!window.EventSource) return;
  const h = await firstHealth;
  if (!h) return; // the map works without it
  const since = h.sequence || 0;
  const changes = new EventSource(`/api/changes?since=${since}`);
  let pending = null;
  changes.addEventListener('change', (e) => {
    state.version = Number(e.lastEventId) || state.version + 1;
    // A batch arrives as many changes: redraw once it has settled.
    clearTimeout(pending);
    pending = setTimeout(async () => {
      try {
        await loadYears();
        updateYearLabel();
      } catch (err) {
        showError(`Could not refresh the years: ${err.message}`);
      }
      updateTiles();
      refreshPanels();
      window.__liveVersion = state.version;
    }, 500);
  });
}

/** Colours of a `match` expression from our style, as [[value, colour], ...]. */
function matchColours(layer, prop) {
  const expr = map.getPaintProperty(layer, prop);
  const pairs = [];
  if (Array.isArray(expr) && expr[0] === 'match') {
    for (let i = 2; i + 1 < expr.length; i += 2) pairs.push([expr[i], expr[i + 1]]);
  }
  return pairs;
}

function colourOf(layer, prop, value) {
  const hit = matchColours(layer, prop).find(([v]) => v === value);
  return hit ? hit[1] : '#737373';
}

map.on('load', async () => {
  // Overlays: the searched area and the selected base's circle.
  map.addSource('search-area', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'search-area-fill', type: 'fill', source: 'search-area', paint: { 'fill-color': '#2b8cbe', 'fill-opacity': 0.1 } });
  map.addLayer({ id: 'search-area-line', type: 'line', source: 'search-area', paint: { 'line-color': '#2b8cbe', 'line-width': 2 } });
  map.addSource('selected-base', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'selected-base-line', type: 'line', source: 'selected-base', paint: { 'line-color': '#000', 'line-width': 2.5 } });
  buildLegend();
  try {
    const types = await api('/api/stats?group_by=type');
    state.allTypes = types.groups.map((g) => g.key);
    state.types = new Set(state.allTypes);
    buildTypeFilters();
    await loadYears();
    updateYearLabel();
    updateTiles();
    updateDownloads();
  } catch (e) {
    showError(`Could not load the filters: ${e.message}`);
  }
  followChanges();
  loadArchives();
});

// ---------- time control ----------
function updateYearLabel() {
  $('#year-label').textContent = state.from === state.to ? `${state.from}` : `${state.from}–${state.to}`;
}
let refreshTimer;
function filtersChanged() {
  updateYearLabel();
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { updateTiles(); refreshPanels(); updateDownloads(); }, 250);
}
$('#year-from').addEventListener('input', (e) => {
  state.from = Number(e.target.value);
  if (state.from > state.to) { state.to = state.from; $('#year-to').value = state.to; }
  filtersChanged();
});
$('#year-to').addEventListener('input', (e) => {
  state.to = Number(e.target.value);
  if (state.to < state.from) { state.from = state.to; $('#year-from').value = state.from; }
  filtersChanged();
});
let playing = null;
$('#play').addEventListener('click', () => {
  const btn = $('#play');
  if (playing) { clearInterval(playing); playing = null; btn.textContent = '▶ Play'; return; }
  const lo = Number($('#year-from').min), hi = Number($('#year-to').max);
  let year = state.from === state.to && state.to < hi ? state.to + 1 : lo;
  btn.textContent = '❚❚ Pause';
  const step = () => {
    state.from = state.to = year;
    $('#year-from').value = year; $('#year-to').value = year;
    updateYearLabel(); updateTiles();
    year++;
    if (year > hi) { clearInterval(playing); playing = null; btn.textContent = '▶ Play'; refreshPanels(); }
  };
  step();
  playing = setInterval(step, 1500);
});

// ---------- event type and actor filters ----------
function buildTypeFilters() {
  const box = $('#type-filters');
  box.innerHTML = '';
  for (const t of state.allTypes) {
    const label = document.createElement('label');
    label.title = t;
    label.innerHTML = `<input type="checkbox" checked value="${esc(t)}">${swatch(colourOf('events', 'circle-color', t))}${esc(t)}`;
    paintSwatches(label);
    label.querySelector('input').addEventListener('change', (e) => {
      if (e.target.checked) state.types.add(t); else state.types.delete(t);
      if (state.types.size === 0) { showError('Select at least one event type'); e.target.checked = true; state.types.add(t); return; }
      filtersChanged();
    });
    box.appendChild(label);
  }
}
$('#actor').addEventListener('input', (e) => { state.actor = e.target.value; filtersChanged(); });

// ---------- layer toggles ----------
for (const [group, layers] of Object.entries(LAYER_GROUPS)) {
  $(`#toggle-${group}`).addEventListener('change', (e) => {
    for (const id of layers) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', e.target.checked ? 'visible' : 'none');
  });
}
// The hexbins view replaces the event circles (both stay available).
$('#toggle-hexbins').addEventListener('change', (e) => {
  const events = $('#toggle-events');
  if (e.target.checked === events.checked) {
    events.checked = !e.target.checked;
    events.dispatchEvent(new Event('change'));
  }
});

// ---------- base map: the live tiles, or an archive the server publishes ----------
const OVERLAYS = ['search-area', 'selected-base', 'hotspots', 'trend-cells'];
/** The new style with this page's overlays (searched area, selected base) and the layers
 * the panel hides carried over from the style it replaces. */
function carryOver(prev, next) {
  const sources = { ...next.sources };
  for (const id of OVERLAYS) if (prev && prev.sources[id]) sources[id] = prev.sources[id];
  const overlays = prev ? prev.layers.filter((l) => OVERLAYS.includes(l.source)) : [];
  const shown = new Map(Object.entries(LAYER_GROUPS).flatMap(([g, ids]) => ids.map((id) => [id, $(`#toggle-${g}`).checked])));
  const layers = next.layers.map((l) => (shown.has(l.id) ? { ...l, layout: { ...l.layout, visibility: shown.get(l.id) ? 'visible' : 'none' } } : l));
  return { ...next, sources, layers: [...layers, ...overlays] };
}
async function loadArchives() {
  let archives = [];
  try {
    archives = (await api('/archives')).archives;
  } catch (e) {
    return; // the live tiles still draw everything
  }
  if (!archives.length) return;
  const select = $('#basemap');
  for (const a of archives) select.add(new Option(`${a.name} (${a.format}, zoom ${a.minzoom}–${a.maxzoom})`, a.name));
  select.value = archives.some((a) => a.name === startBasemap) ? startBasemap : '';
  $('#basemap-choice').hidden = false;
}
$('#basemap').addEventListener('change', (e) => {
  const p = filterParams();
  if (state.version) p.set('v', String(state.version));
  if (e.target.value) p.set('basemap', e.target.value);
  map.setStyle(`/style.json?${p}`, { transformStyle: carryOver });
  const url = new URL(location.href);
  if (e.target.value) url.searchParams.set('basemap', e.target.value); else url.searchParams.delete('basemap');
  history.replaceState(null, '', url);
});

// ---------- analysis views (coverage over time, change against a baseline) ----------
const analysis = setupAnalysis({ map, api, state, $, esc, fmt, swatch, paintSwatches, colourOf, showError, filterParams, updateDownloads });

// ---------- tabs ----------
function showTab(name) {
  for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${name}`;
  if (name === 'uncovered') loadUncovered();
  analysis.onTab(name);
  updateDownloads();
}

// ---------- downloads: the selection the panel shows, as a file ----------
/** The query behind what the open panel shows (a radius search, a base's coverage, the
 * events no base covers), or every event matching the filters. */
function selection() {
  const p = filterParams();
  const tab = document.querySelector('.tabs button.active').dataset.tab;
  const view = analysis.selection(tab);
  if (view) return view;
  if (tab === 'near' && lastNear) {
    if (lastNear.near) p.set('near', lastNear.near); else { p.set('lon', lastNear.lon.toFixed(5)); p.set('lat', lastNear.lat.toFixed(5)); }
    p.set('radius_km', String(state.radius));
    const where = lastNear.near || `${lastNear.lat.toFixed(3)}, ${lastNear.lon.toFixed(3)}`;
    return { path: '/api/events', p, what: `Events within ${state.radius} km of ${where}.` };
  }
  if (tab === 'base' && selectedBase) {
    return { path: `/api/bases/${encodeURIComponent(selectedBase)}/coverage`, p, what: `Events within the coverage radius of ${selectedBase}.` };
  }
  if (tab === 'uncovered') return { path: '/api/coverage', p, what: "Events outside every base's radius." };
  return { path: '/api/events', p, what: 'Every event matching the filters.' };
}
function updateDownloads() {
  const { path, p, what, csvOnly } = selection();
  for (const f of ['csv', 'geojson']) {
    const q = new URLSearchParams(p);
    q.set('f', f);
    $(`#download-${f}`).href = `${path}?${q}`;
  }
  $('#download-geojson').hidden = !!csvOnly;
  $('#download-what').textContent = csvOnly ? what : `${what} ${state.from}–${state.to}.`;
}
for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));

// ---------- events list, shared by every panel ----------
function eventTable(features, withDistance) {
  if (!features.length) return '<p class="hint">No events.</p>';
  const rows = features.map((f, i) => {
    const p = f.properties;
    return `<tr data-i="${i}"><td>${esc(p.event_date)}</td><td>${swatch(colourOf('events', 'circle-color', p.event_type))}${esc(p.event_type)}<br><small>${esc(p.location)}</small></td><td class="num">${fmt.format(p.fatalities)}</td>${withDistance ? `<td class="num">${p.distance_km.toFixed(1)} km</td>` : ''}</tr>`;
  }).join('');
  return `<table><thead><tr><th>Date</th><th>Type / place</th><th class="num">Deaths</th>${withDistance ? '<th class="num">Distance</th>' : ''}</tr></thead><tbody>${rows}</tbody></table>`;
}

function wireRows(container, features) {
  paintSwatches(container);
  for (const tr of container.querySelectorAll('tbody tr')) {
    tr.addEventListener('click', () => {
      const f = features[Number(tr.dataset.i)];
      map.flyTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom(), 11) });
      eventPopup(f, f.geometry.coordinates);
    });
  }
}

function eventPopup(f, lngLat) {
  const p = f.properties;
  new maplibregl.Popup({ maxWidth: '320px' }).setLngLat(lngLat).setHTML(
    `<div class="popup-title">${esc(p.event_type)} — ${esc(p.event_date)}</div>
     <dl class="props">
       <dt>Sub-type</dt><dd>${esc(p.sub_event_type)}</dd>
       <dt>Place</dt><dd>${esc(p.location)}${p.region ? ` (${esc(p.region)})` : ''}</dd>
       <dt>Actors</dt><dd>${esc(p.actor1)}${p.actor2 ? ` vs ${esc(p.actor2)}` : ''}</dd>
       <dt>Deaths</dt><dd>${fmt.format(p.fatalities)}</dd>
       ${p.notes ? `<dt>Notes</dt><dd>${esc(p.notes)}</dd>` : ''}
       <dt>Source</dt><dd>${esc(p.source)}</dd>
       <dt>Id</dt><dd>${esc(p.id)}</dd>
     </dl>`).addTo(map);
}

function totalsHtml(count, fatalities) {
  return `<div class="totals"><div><strong id="near-count">${fmt.format(count)}</strong>events</div><div><strong>${fmt.format(fatalities)}</strong>deaths</div></div>`;
}

// ---------- events near a place or a point ----------
let lastNear = null;
const placeInput = $('#near-place');
let suggestTimer;
placeInput.addEventListener('input', () => {
  clearTimeout(suggestTimer);
  const q = placeInput.value.trim();
  if (q.length < 2) return;
  suggestTimer = setTimeout(async () => {
    try {
      const fc = await api(`/api/places?q=${encodeURIComponent(q)}&limit=8`);
      $('#place-options').innerHTML = fc.features.map((f) => `<option value="${esc(f.properties.name)}">`).join('');
    } catch (e) { /* suggestions are optional; the search itself reports errors */ }
  }, 150);
});
$('#near-radius').addEventListener('change', (e) => { state.radius = Number(e.target.value); });
$('#near-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.radius = Number($('#near-radius').value);
  searchNear({ near: placeInput.value.trim() });
});

async function searchNear(where) {
  lastNear = where;
  showTab('near');
  updateDownloads();
  const out = $('#near-results');
  out.innerHTML = '<p class="hint">Searching…</p>';
  const p = filterParams();
  if (where.near) p.set('near', where.near); else { p.set('lon', where.lon.toFixed(5)); p.set('lat', where.lat.toFixed(5)); }
  p.set('radius_km', String(state.radius));
  const stats = new URLSearchParams(p); stats.set('group_by', 'type');
  p.set('limit', '500');
  try {
    const [fc, st] = await Promise.all([api(`/api/events?${p}`), api(`/api/stats?${stats}`)]);
    const title = where.near ? esc(fc.center.place) : `${where.lat.toFixed(3)}, ${where.lon.toFixed(3)}`;
    map.getSource('search-area').setData({ type: 'Feature', geometry: fc.circle, properties: {} });
    const ring = fc.circle.coordinates[0];
    const lons = ring.map((c) => c[0]), lats = ring.map((c) => c[1]);
    map.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]], { padding: 40, maxZoom: 11 });
    const byType = st.groups.map((g) => `${swatch(colourOf('events', 'circle-color', g.key))}${esc(g.key)}: ${fmt.format(g.count)}`).join('<br>');
    out.innerHTML = `<h3>Within ${fc.radius_km} km of ${title}, ${state.from}–${state.to}</h3>
      ${totalsHtml(fc.numberMatched, st.total.fatalities)}
      <p class="hint">${byType}</p>
      ${fc.numberMatched > fc.numberReturned ? `<p class="hint">Showing the nearest ${fc.numberReturned}.</p>` : ''}
      ${eventTable(fc.features, true)}`;
    wireRows(out, fc.features);
  } catch (e) {
    out.innerHTML = `<p class="error-text">${esc(e.message)}</p>`;
    showError(e.message);
  }
}

// ---------- base coverage ----------
let selectedBase = null;
function barChart(title, entries, key) {
  if (!entries.length) return '';
  const w = 330, h = 90, pad = 16, bw = Math.max(2, (w - 2 * pad) / entries.length - 2);
  const max = Math.max(1, ...entries.map((e) => e[1][key]));
  const bars = entries.map(([label, v], i) => {
    const bh = (v[key] / max) * (h - 2 * pad);
    const x = pad + i * ((w - 2 * pad) / entries.length);
    return `<rect class="bar${key === 'fatalities' ? ' fat' : ''}" x="${x}" y="${h - pad - bh}" width="${bw}" height="${bh}"><title>${esc(label)}: ${fmt.format(v[key])}</title></rect>` +
      (entries.length <= 12 || i % Math.ceil(entries.length / 8) === 0 ? `<text x="${x}" y="${h - 3}">${esc(String(label).slice(0, 10))}</text>` : '');
  }).join('');
  return `<h3>${esc(title)}</h3><svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">${bars}<text x="${pad}" y="10">max ${fmt.format(max)}</text></svg>`;
}

async function showBase(id) {
  selectedBase = id;
  showTab('base');
  updateDownloads();
  const out = $('#base-details');
  out.innerHTML = '<p class="hint">Loading…</p>';
  const p = filterParams();
  p.set('limit', '200');
  try {
    const c = await api(`/api/bases/${encodeURIComponent(id)}/coverage?${p}`);
    const b = c.base.properties;
    map.getSource('selected-base').setData(c.circle);
    const years = Object.entries(c.totals.by_year);
    const types = Object.entries(c.totals.by_type);
    out.innerHTML = `<h3>${swatch(colourOf('bases', 'circle-color', b.operator))}${esc(b.name)}</h3>
      <dl class="props">
        <dt>Operator</dt><dd>${esc(b.operator)}</dd><dt>Kind</dt><dd>${esc(b.kind)}</dd>
        <dt>Years</dt><dd>${b.opened ?? '?'}–${b.closed ?? (b.opened ? 'open' : '?')}</dd>
        <dt>Coverage</dt><dd>${c.radius_km} km (modelling default)</dd>
        <dt>Source</dt><dd>${esc(b.source)}</dd>
      </dl>
      <p class="hint">Events within the coverage radius, ${state.from}–${state.to}:</p>
      ${totalsHtml(c.totals.count, c.totals.fatalities).replace('id="near-count"', 'id="base-count"')}
      ${barChart('Events per year', years, 'count')}
      ${barChart('Deaths per year', years, 'fatalities')}
      ${barChart('Events by type', types, 'count')}
      ${eventTable(c.features, true)}`;
    wireRows(out, c.features);
  } catch (e) {
    out.innerHTML = `<p>${esc(e.message)}</p>`;
    showError(e.message);
  }
}

// ---------- events no base covers ----------
async function loadUncovered() {
  const out = $('#uncovered-results');
  out.innerHTML = '<p class="hint">Loading…</p>';
  const p = filterParams();
  p.set('limit', '300');
  try {
    const r = await api(`/api/coverage?${p}`);
    const u = r.uncovered;
    out.innerHTML = `<h3>Events outside every base's radius, ${state.from}–${state.to}</h3>
      ${totalsHtml(u.numberMatched, u.totals.fatalities).replace('id="near-count"', 'id="uncovered-count"')}
      ${eventTable(u.features, false)}`;
    wireRows(out, u.features);
  } catch (e) {
    out.innerHTML = `<p>${esc(e.message)}</p>`;
    showError(e.message);
  }
}

function refreshPanels() {
  const active = document.querySelector('.tabs button.active').dataset.tab;
  if (active === 'near' && lastNear) searchNear(lastNear);
  if (active === 'base' && selectedBase) showBase(selectedBase);
  if (active === 'uncovered') loadUncovered();
  if (active === 'coverage' || active === 'change') analysis.onTab(active);
}

// ---------- clicks on the map ----------
const CLICKABLE = ['bases', 'events', 'event-clusters', 'regions'];
map.on('click', async (e) => {
  const layers = CLICKABLE.filter((l) => map.getLayer(l) && map.getLayoutProperty(l, 'visibility') !== 'none');
  const hits = map.queryRenderedFeatures(e.point, { layers });
  const hit = (id) => hits.find((f) => f.layer.id === id);
  if (hit('bases')) { showBase(hit('bases').properties.id); return; }
  if (hit('event-clusters')) {
    map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, 16) });
    return;
  }
  if (hit('events')) {
    try {
      const f = await api(`/api/events/${encodeURIComponent(hit('events').properties.id)}`);
      eventPopup(f, f.geometry.coordinates);
    } catch (err) { showError(err.message); }
    return;
  }
  const html = document.createElement('div');
  const region = hit('regions');
  if (region) {
    const r = region.properties;
    html.innerHTML = `<div class="popup-title">${esc(r.name)} (${esc(r.id)})</div>
      <dl class="props"><dt>Deaths ${state.from}–${state.to}</dt><dd>${fmt.format(r.fatalities)} (ACLED, per EPON 2019)</dd></dl>`;
  }
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.textContent = `Events within ${state.radius} km of here`;
  html.appendChild(btn);
  const popup = new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(html).addTo(map);
  btn.addEventListener('click', () => { popup.remove(); searchNear({ lon: e.lngLat.lng, lat: e.lngLat.lat }); });
});
for (const l of CLICKABLE) {
  map.on('mouseenter', l, () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', l, () => { map.getCanvas().style.cursor = ''; });
}

// ---------- legend (colours read from the style, so they cannot drift) ----------
function buildLegend() {
  const rows = (pairs, square) => pairs.map(([v, c]) => `<div class="legend-row"><span class="swatch${square ? ' square' : ''}" data-colour="${esc(c)}"></span>${esc(v)}</div>`).join('');
  $('#legend').innerHTML = `
    <h3>Event types</h3>${rows(matchColours('events', 'circle-color'))}
    <p class="hint">Below zoom 10 events are grouped: the circle shows how many, coloured by the most frequent type.</p>
    <h3>Bases and coverage, by operator</h3>${rows(matchColours('bases', 'circle-color'))}
    <p class="hint">Coverage radii are modelling defaults (100 km super camps, 50 km camps, 300 km air bases), not sourced facts.</p>
    <h3>Hexbins: events per H3 cell</h3>
    <div class="ramp hex"></div><div class="ramp-labels"><span>1</span><span>10</span><span>100</span><span>1,000</span><span>10,000+</span></div>
    <p class="hint">The hexagons' resolution follows the zoom (H3 res 3 at country scale to res 9 in a town).</p>
    <h3>Regions: conflict deaths in the selected years</h3>
    <div class="ramp"></div><div class="ramp-labels"><span>0</span><span>100</span><span>500</span><span>1,000</span><span>2,000+</span></div>
    <p class="hint">ACLED by region and year (1997–2018) as printed in EPON's 2019 MINUSMA report.</p>
    <h3>Data</h3>
    <p class="hint">Borders, rivers: Natural Earth (public domain). Towns: GeoNames (CC BY 4.0). Events and bases: cited per feature (see each popup's source).</p>`;
  paintSwatches($('#legend'));
}
