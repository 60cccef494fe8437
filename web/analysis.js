// The analysis views of the web map: coverage over time (a chart of the share of
// fatalities within reach of an open base, by year and operator, and the uncovered hot
// spots) and change against a baseline (a choropleth of regions or H3 cells).
// app.js hands in what they share with the rest of the page.

const FLAG_COLOURS = { increase: '#d7301f', decrease: '#2b8cbe', new: '#7a0177', stable: '#d9d9d9' };
const HOTSPOT_COLOUR = '#e31a1c';

export function setupAnalysis(page) {
  const { map, api, state, $, esc, fmt, swatch, paintSwatches, colourOf, showError } = page;
  const pct = (x) => (x == null ? '–' : `${(100 * x).toFixed(0)}%`);

  function addOverlays() {
    if (!map.getSource('hotspots')) {
      map.addSource('hotspots', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      map.addLayer({ id: 'hotspots-line', type: 'line', source: 'hotspots', paint: { 'line-color': HOTSPOT_COLOUR, 'line-width': 2.5 } });
    }
    if (!map.getSource('trend-cells')) {
      map.addSource('trend-cells', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      map.addLayer({ id: 'trend-cells', type: 'fill', source: 'trend-cells', paint: { 'fill-color': ['get', 'colour'], 'fill-opacity': 0.75, 'fill-outline-color': '#555' } });
    }
  }

  // ---------- coverage over time ----------
  /** An SVG line chart of shares (0–1) by year: the `all` line first and thickest. */
  function shareChart(years, series) {
    const w = 330, h = 170, left = 30, right = 16, top = 10, bottom = 20;
    const x = (i) => left + (years.length < 2 ? 0 : (i * (w - left - right)) / (years.length - 1));
    const y = (v) => top + (1 - v) * (h - top - bottom);
    const grid = [0, 0.25, 0.5, 0.75, 1].map((v) => `<line class="grid" x1="${left}" x2="${w - right}" y1="${y(v)}" y2="${y(v)}"></line><text x="2" y="${y(v) + 3}">${v * 100}%</text>`).join('');
    const ticks = years.map((yr, i) => (years.length <= 12 || i % Math.ceil(years.length / 8) === 0 ? `<text x="${x(i) - 10}" y="${h - 5}">${yr}</text>` : '')).join('');
    const lines = series.map((s) => {
      const pts = s.values.map((v, i) => (v == null ? null : [x(i), y(v), v, years[i]])).filter(Boolean);
      const path = pts.map((p, i) => `${i ? 'L' : 'M'}${p[0].toFixed(1)},${p[1].toFixed(1)}`).join('');
      const dots = pts.map((p) => `<circle class="pt" data-series="${esc(s.name)}" data-year="${p[3]}" data-share="${p[2]}" cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="${s.main ? 3 : 2}"><title>${esc(s.name)} ${p[3]}: ${pct(p[2])} of fatalities within reach</title></circle>`).join('');
      return `<g class="series" data-colour="${esc(s.colour)}"><path d="${path}" fill="none" stroke-width="${s.main ? 2.5 : 1.2}"></path>${dots}</g>`;
    }).join('');
    return `<svg id="coverage-chart" class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="Share of fatalities within reach of an open base, by year">${grid}${ticks}${lines}</svg>`;
  }

  function paintSeries(root) {
    for (const g of root.querySelectorAll('g.series[data-colour]')) {
      g.querySelector('path').style.stroke = g.dataset.colour;
      for (const c of g.querySelectorAll('circle')) c.style.fill = g.dataset.colour;
    }
  }

  async function loadCoverage() {
    addOverlays();
    const out = $('#coverage-results');
    out.innerHTML = '<p class="hint">Loading…</p>';
    try {
      const t = await api(`/api/coverage/timeline?${page.filterParams()}`);
      const years = t.years.map((y) => y.year);
      const operators = years.length ? Object.keys(t.years[0].by_operator) : [];
      const series = [{ name: 'All bases', main: true, colour: '#a63603', values: t.years.map((y) => y.share_fatalities) }]
        .concat(operators.map((op) => ({ name: op, colour: colourOf('bases', 'circle-color', op), values: t.years.map((y) => y.by_operator[op].share_fatalities) })));
      const legend = series.map((s) => `<span class="legend-item">${swatch(s.colour)}${esc(s.name)}</span>`).join(' ');
      const rows = t.years.map((y) => `<tr><td>${y.year}</td><td class="num">${fmt.format(y.events)}</td><td class="num">${fmt.format(y.fatalities)}</td><td class="num">${pct(y.share_fatalities)}</td></tr>`).join('');
      const hot = t.hotspots.features;
      const hotRows = hot.map((f, i) => `<tr data-i="${i}"><td>${esc(f.properties.h3)}</td><td class="num">${fmt.format(f.properties.count)}</td><td class="num">${fmt.format(f.properties.fatalities)}</td><td>${esc(f.properties.top_type)}</td></tr>`).join('');
      out.innerHTML = `<h3>Fatalities within reach of an open base, ${state.from}–${state.to}</h3>
        ${shareChart(years, series)}
        <p class="hint">${legend}</p>
        <p class="hint">A base reaches an event when it was open that year and the event lies within its coverage radius (geodesic).</p>
        <table id="coverage-years"><thead><tr><th>Year</th><th class="num">Events</th><th class="num">Deaths</th><th class="num">Within reach</th></tr></thead><tbody>${rows}</tbody></table>
        <h3>Hot spots out of reach (H3 res ${t.hotspots.res})</h3>
        ${hot.length ? `<table id="coverage-hotspots"><thead><tr><th>Cell</th><th class="num">Events</th><th class="num">Deaths</th><th>Mostly</th></tr></thead><tbody>${hotRows}</tbody></table>` : '<p class="hint">Every event is within reach.</p>'}`;
      paintSwatches(out);
      paintSeries(out);
      map.getSource('hotspots').setData(t.hotspots);
      for (const tr of out.querySelectorAll('#coverage-hotspots tbody tr')) {
        tr.addEventListener('click', () => {
          const ring = hot[Number(tr.dataset.i)].geometry.coordinates[0];
          const c = ring.slice(1).reduce((a, p) => [a[0] + p[0] / (ring.length - 1), a[1] + p[1] / (ring.length - 1)], [0, 0]);
          map.flyTo({ center: c, zoom: Math.max(map.getZoom(), 8) });
        });
      }
    } catch (e) {
      out.innerHTML = `<p class="error-text">${esc(e.message)}</p>`;
      showError(e.message);
    }
  }

  // ---------- change against a baseline ----------
  function changeParams() {
    const p = page.filterParams();
    // The period and its baseline set the time window: the year slider does not.
    p.delete('from');
    p.delete('to');
    const period = $('#change-period').value;
    p.set('unit', $('#change-unit').value);
    if ($('#change-unit').value === 'h3') p.set('res', '5');
    p.set('period', period);
    const at = $('#change-at').value.trim() || defaultAt(period);
    p.set('at', at);
    p.set('baseline', String(Number($('#change-baseline').value) || 4));
    p.set('metric', $('#change-metric').value);
    return p;
  }
  const defaultAt = (period) => (period === 'year' ? `${state.to}` : period === 'quarter' ? `${state.to}-Q4` : `${state.to}-12`);

  function clearChange() {
    if (map.getLayer('trend-regions')) map.removeLayer('trend-regions');
    if (map.getSource('trend-cells')) map.getSource('trend-cells').setData({ type: 'FeatureCollection', features: [] });
  }

  function drawChange(t) {
    clearChange();
    if (t.unit === 'region') {
      const match = ['match', ['get', 'id']];
      for (const u of t.units) match.push(u.unit, FLAG_COLOURS[u.flag]);
      match.push('rgba(0,0,0,0)');
      map.addLayer({ id: 'trend-regions', type: 'fill', source: 'sahel', 'source-layer': 'regions', paint: { 'fill-color': match, 'fill-opacity': 0.7 } }, map.getLayer('region-borders') ? 'region-borders' : undefined);
    } else {
      map.getSource('trend-cells').setData({
        type: 'FeatureCollection',
        features: t.units.map((u) => ({ type: 'Feature', geometry: u.geometry, properties: { unit: u.unit, flag: u.flag, colour: FLAG_COLOURS[u.flag] } })),
      });
    }
  }

  async function loadChange() {
    addOverlays();
    const out = $('#change-results');
    if (!$('#change-at').value) $('#change-at').placeholder = defaultAt($('#change-period').value);
    out.innerHTML = '<p class="hint">Loading…</p>';
    try {
      const t = await api(`/api/trends?${changeParams()}`);
      drawChange(t);
      const what = t.metric === 'fatalities' ? 'deaths' : 'events';
      const legend = Object.entries(FLAG_COLOURS).map(([f, c]) => `<span class="legend-item">${swatch(c)}${f}</span>`).join(' ');
      const shown = t.units.filter((u) => u.value > 0 || u.baseline_mean > 0);
      const rows = shown.slice(0, 200).map((u) => `<tr data-flag="${u.flag}"><td>${esc(u.name)}</td><td class="num">${fmt.format(u.value)}</td><td class="num">${u.baseline_mean.toFixed(1)} ± ${u.baseline_sd.toFixed(1)}</td><td class="num">${u.change > 0 ? '+' : ''}${u.change.toFixed(1)}</td><td>${swatch(FLAG_COLOURS[u.flag])}${u.flag}</td></tr>`).join('');
      out.innerHTML = `<h3>${esc(t.at)} against the ${t.baseline} ${esc(t.period)}s before (${esc(t.baseline_periods[0] || '')}–${esc(t.baseline_periods[t.baseline_periods.length - 1] || '')}), ${what}</h3>
        <p class="hint">${legend}</p>
        <p class="hint">Increase: above the baseline mean + 1 standard deviation, by at least ${t.min_change}; decrease: below mean − 1 sd; new: nothing in the baseline.</p>
        ${shown.length ? `<table id="change-table"><thead><tr><th>${t.unit === 'region' ? 'Region' : 'Cell'}</th><th class="num">${esc(t.at)}</th><th class="num">Baseline</th><th class="num">Change</th><th>Flag</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="hint">No events in this window.</p>'}`;
      paintSwatches(out);
    } catch (e) {
      out.innerHTML = `<p class="error-text">${esc(e.message)}</p>`;
      showError(e.message);
    }
  }

  $('#change-form').addEventListener('submit', (e) => { e.preventDefault(); loadChange(); page.updateDownloads(); });
  $('#change-period').addEventListener('change', () => { $('#change-at').value = ''; });

  /** Shows or hides the views' map overlays as the panel's tab changes. */
  function onTab(name) {
    if (map.getLayer('hotspots-line')) map.setLayoutProperty('hotspots-line', 'visibility', name === 'coverage' ? 'visible' : 'none');
    if (name !== 'change') clearChange();
    if (name === 'coverage') loadCoverage();
    if (name === 'change') loadChange();
  }

  /** The file the download box offers on these tabs (CSV only). */
  function selection(tab) {
    if (tab === 'coverage') return { path: '/api/coverage/timeline', p: page.filterParams(), what: 'Coverage by year and operator (CSV).', csvOnly: true };
    if (tab === 'change') return { path: '/api/trends', p: changeParams(), what: 'Change against the baseline, per unit (CSV).', csvOnly: true };
    return null;
  }

  return { onTab, selection, refresh: (tab) => onTab(tab) };
}
