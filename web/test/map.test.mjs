// Browser test of the web map, in Debian's Chromium driven by playwright-core.
//   node web/test/map.test.mjs http://127.0.0.1:PORT SCREENSHOT_DIR [WRITE_KEY [ARCHIVE [CDN]]]
// With a write key, it also posts an event and waits for it to appear on the open map;
// with the name of an archive the server serves, it switches the base map to it; with the
// origin of a server publishing it as the archive `cdn`, it switches to that one too.
// Exits non-zero with a message on the first failure. Run by tests/browser.rs, which
// starts the real server.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [base, outDir, writeKey, archive, cdn] = process.argv.slice(2);
if (!base || !outDir) {
  console.error('usage: map.test.mjs BASE_URL SCREENSHOT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-gl=swiftshader', '--enable-unsafe-swiftshader'],
});
let failed = false;
try {
  for (const viewport of [{ width: 1280, height: 860, name: 'desktop' }, { width: 390, height: 844, name: 'phone' }]) {
    const page = await browser.newPage({ viewport });
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const tileStatus = [];
    const tilePaths = [];
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (u.origin !== new URL(base).origin && u.origin !== cdn) problems.push(`request left the server: ${r.url()}`);
      if (u.pathname.startsWith('/tiles/')) { tileStatus.push(r.status()); tilePaths.push(u.pathname); }
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    page.on('requestfailed', (r) => {
      // MapLibre cancels tile and glyph requests the view no longer needs: not a failure.
      const aborted = r.failure()?.errorText === 'net::ERR_ABORTED' && /\/(tiles|fonts)\//.test(r.url());
      if (!aborted) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });

    await page.goto(`${base}/`, { waitUntil: 'load' });
    // The map has loaded our style, fetched tiles and drawn them (software WebGL on a busy
    // 2-core machine can be slow: be patient, and say what was seen if it never settles).
    try {
      await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap && window.sahelMap.loaded(), null, { timeout: 120000 });
    } catch (e) {
      const seen = await page.evaluate(() => ({ idle: window.__mapIdle, status: document.querySelector('#status').textContent }));
      throw new Error(`map never settled: ${JSON.stringify(seen)}; tile responses ${tileStatus.length}; problems: ${problems.join('; ')}`);
    }
    await page.waitForFunction(() => document.querySelectorAll('#type-filters input').length > 0, null, { timeout: 30000 });
    await page.waitForFunction(() => window.sahelMap.areTilesLoaded(), null, { timeout: 30000 });
    check(tileStatus.length > 0 && tileStatus.every((s) => s === 200 || s === 204), `tile responses: ${tileStatus}`);
    // The first view asks for each tile once: the filters the page starts with are the
    // style's own, not a second URL for the same tiles.
    const seen = new Set();
    const twice = tilePaths.filter((t) => seen.has(t) || !seen.add(t));
    check(twice.length === 0, `tiles fetched twice in the first view: ${twice.join(' ')}`);
    const rendered = await page.evaluate(() => {
      const m = window.sahelMap;
      const count = (layer) => m.queryRenderedFeatures({ layers: [layer] }).length;
      return { regions: count('regions'), country: count('country'), bases: count('bases'), events: count('events') + count('event-clusters') };
    });
    check(rendered.regions > 0 && rendered.country > 0, `nothing drawn: ${JSON.stringify(rendered)}`);
    check(rendered.bases > 0 && rendered.events > 0, `bases or events missing: ${JSON.stringify(rendered)}`);

    if (viewport.name === 'desktop') {
      // Events near Mopti, 50 km: the listed count is the API's numberMatched.
      await page.fill('#near-place', 'Mopti');
      await page.selectOption('#near-radius', '50');
      await page.click('#near-search');
      await page.waitForSelector('#near-count', { timeout: 30000 });
      const shown = Number((await page.textContent('#near-count')).replace(/,/g, ''));
      const query = await page.evaluate(() => {
        const from = document.querySelector('#year-from').value, to = document.querySelector('#year-to').value;
        return `/api/events?near=Mopti&radius_km=50&from=${from}&to=${to}`;
      });
      const api = await (await fetch(`${base}${query}`)).json();
      check(shown === api.numberMatched, `listed ${shown} events, API says ${api.numberMatched} (${query})`);
      check(shown > 0, 'no events near Mopti');
      const rows = await page.locator('#near-results tbody tr').count();
      check(rows === Math.min(api.numberMatched, 500), `${rows} rows for ${api.numberMatched} events`);
      const circle = await page.evaluate(() => window.sahelMap.getSource('search-area').getData());
      check(circle && circle.geometry && circle.geometry.type === 'Polygon', 'search circle not drawn');

      // Download: the selection shown (this search), as a CSV file with one record per event.
      const href = await page.getAttribute('#download-csv', 'href');
      check(/near=Mopti/.test(href) && /radius_km=50/.test(href) && /f=csv/.test(href), `download link ${href}`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
      check(/^sahel-atlas-events\.csv$/.test(download.suggestedFilename()), `file name ${download.suggestedFilename()}`);
      const text = readFileSync(await download.path(), 'utf8');
      const records = text.split('\r\n').filter(Boolean);
      check(records[0].startsWith('event_id_cnty,event_date,year,'), `CSV header ${records[0].slice(0, 60)}`);
      check(records.length - 1 === shown, `${records.length - 1} records downloaded, ${shown} listed`);

      // A typo in the place name is reported, not swallowed (the 404 it causes is expected).
      const before = problems.length;
      await page.fill('#near-place', 'Moptii');
      await page.click('#near-search');
      await page.waitForFunction(() => document.querySelector('#status').classList.contains('error'), null, { timeout: 10000 });
      const msg = await page.textContent('#status');
      check(/Moptii/.test(msg) && /Mopti/.test(msg), `error message: ${msg}`);
      await page.waitForTimeout(500); // let the console report the expected 404
      const added = problems.splice(before);
      check(added.every((p) => /404/.test(p)), `unexpected problems: ${added.join('; ')}`);

      // Toggle a layer off.
      await page.uncheck('#toggle-coverage');
      const vis = await page.evaluate(() => window.sahelMap.getLayoutProperty('coverage', 'visibility'));
      check(vis === 'none', `coverage visibility ${vis}`);

      // Base coverage: a real click on the Kidal camp opens its panel, with the API's totals.
      await page.evaluate(() => { window.__mapIdle = false; window.sahelMap.jumpTo({ center: [1.40921, 18.44345], zoom: 8 }); });
      await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap.areTilesLoaded(), null, { timeout: 30000 });
      const px = await page.evaluate(() => { const p = window.sahelMap.project([1.40921, 18.44345]); return [p.x, p.y]; });
      const box = await page.locator('#map').boundingBox();
      await page.mouse.click(box.x + px[0], box.y + px[1]);
      await page.waitForSelector('#base-count', { timeout: 15000 });
      const baseName = await page.textContent('#base-details h3');
      const baseId = baseName.includes('Barkhane') ? 'BARKHANE-KDL' : 'MINUSMA-KDL-SN';
      const baseApi = await (await fetch(`${base}/api/bases/${baseId}/coverage?from=1997&to=2020`)).json();
      const baseShown = Number((await page.textContent('#base-count')).replace(/,/g, ''));
      check(baseShown === baseApi.totals.count, `base panel shows ${baseShown}, API ${baseApi.totals.count} (${baseName})`);
      check(await page.locator('#base-details svg.chart').count() >= 1, 'no chart in the base panel');

      // The analysis views, over the whole country, each checked against the API and
      // photographed for the README.
      const whole = async () => {
        await page.evaluate(() => { window.__mapIdle = false; window.sahelMap.jumpTo({ center: [-2.5, 16.5], zoom: 4.6 }); });
        await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap.areTilesLoaded(), null, { timeout: 60000 });
      };
      const years = await page.evaluate(() => [document.querySelector('#year-from').value, document.querySelector('#year-to').value]);
      // The typo's message fades after a few seconds: not in the pictures.
      await page.waitForFunction(() => !document.querySelector('#status').classList.contains('error'), null, { timeout: 20000 });

      // Hexbins: a tile set of their own, not fetched until the view is on; the view
      // replaces the event circles; each drawn cell has the API's count.
      const hexTiles = [];
      page.on('response', (r) => { if (new URL(r.url()).pathname.startsWith('/tiles/hexbins/')) hexTiles.push(r.status()); });
      const early = await page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/tiles/hexbins/')).length);
      check(early === 0, `${early} hexbin tiles fetched while the view was off`);
      await page.check('#toggle-hexbins');
      await whole();
      const hexes = await page.evaluate(() => ({
        events: window.sahelMap.getLayoutProperty('events', 'visibility'),
        cells: window.sahelMap.queryRenderedFeatures({ layers: ['hexbins'] }).map((f) => f.properties),
      }));
      check(hexes.events === 'none' && hexes.cells.length > 0, `hexbins view: ${JSON.stringify(hexes).slice(0, 200)}`);
      check(hexTiles.length > 0 && hexTiles.every((s) => s === 200 || s === 204), `hexbin tile responses: ${hexTiles}`);
      const res = hexes.cells[0].res;
      const hexApi = await (await fetch(`${base}/api/hexbins?res=${res}&from=${years[0]}&to=${years[1]}`)).json();
      const byCell = new Map(hexApi.features.map((f) => [f.id, f.properties.count]));
      for (const c of hexes.cells) check(byCell.get(c.h3) === c.count, `cell ${c.h3}: map ${c.count}, API ${byCell.get(c.h3)}`);
      await page.screenshot({ path: join(outDir, 'hexbins.png') });
      await page.uncheck('#toggle-hexbins');
      await page.check('#toggle-events');

      // Coverage over time: the chart's points are the API's shares, year by year.
      await page.click('.tabs button[data-tab="coverage"]');
      await page.waitForSelector('#coverage-chart', { timeout: 30000 });
      const timeline = await (await fetch(`${base}/api/coverage/timeline?from=${years[0]}&to=${years[1]}`)).json();
      const points = await page.evaluate(() => [...document.querySelectorAll('#coverage-chart circle[data-series="All bases"]')].map((c) => [Number(c.dataset.year), Number(c.dataset.share)]));
      const expected = timeline.years.filter((y) => y.share_fatalities != null).map((y) => [y.year, y.share_fatalities]);
      check(JSON.stringify(points) === JSON.stringify(expected), `chart ${JSON.stringify(points)} vs API ${JSON.stringify(expected)}`);
      const lines = await page.locator('#coverage-chart g.series').count();
      check(lines === 1 + Object.keys(timeline.years[0].by_operator).length, `${lines} lines in the chart`);
      const [timelineFile] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
      check(timelineFile.suggestedFilename() === 'sahel-atlas-coverage-timeline.csv', `file ${timelineFile.suggestedFilename()}`);
      await whole();
      await page.screenshot({ path: join(outDir, 'coverage-over-time.png') });

      // Change against a baseline: each region's flag on the map and in the table is the API's.
      await page.click('.tabs button[data-tab="change"]');
      await page.fill('#change-at', '2019');
      await page.fill('#change-baseline', '4');
      await page.click('#change-show');
      await page.waitForSelector('#change-table', { timeout: 30000 });
      const trends = await (await fetch(`${base}/api/trends?unit=region&period=year&at=2019&baseline=4&metric=fatalities`)).json();
      const listed = await page.evaluate(() => [...document.querySelectorAll('#change-table tbody tr')].map((tr) => tr.dataset.flag));
      const active = trends.units.filter((u) => u.value > 0 || u.baseline_mean > 0).map((u) => u.flag);
      check(JSON.stringify(listed) === JSON.stringify(active), `table flags ${listed} vs API ${active}`);
      check(trends.units.some((u) => u.flag === 'increase'), 'no region rose in 2019');
      await whole();
      const painted = await page.evaluate(() => window.sahelMap.queryRenderedFeatures({ layers: ['trend-regions'] }).length);
      check(painted > 0, 'the change choropleth is not drawn');
      await page.screenshot({ path: join(outDir, 'change-vs-baseline.png') });
      await page.click('.tabs button[data-tab="base"]');
      check(!(await page.evaluate(() => !!window.sahelMap.getLayer('trend-regions'))), 'the choropleth outlived its tab');
      // Back where the base map checks below look.
      await page.evaluate(() => { window.__mapIdle = false; window.sahelMap.jumpTo({ center: [1.40921, 18.44345], zoom: 8 }); });
      await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap.areTilesLoaded(), null, { timeout: 30000 });

      if (archive) {
        // The base map from a tile archive: land, borders and towns come from it, events
        // stay live, the hidden coverage layer stays hidden, the overlays survive.
        const archived = [];
        page.on('response', (r) => { if (new URL(r.url()).pathname.startsWith(`/archives/${archive}/`)) archived.push(r.status()); });
        await page.waitForSelector('#basemap-choice:not([hidden])', { timeout: 15000 });
        await page.evaluate(() => { window.__mapIdle = false; });
        await page.selectOption('#basemap', archive);
        await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap.getSource('basemap') && window.sahelMap.areTilesLoaded(), null, { timeout: 60000 });
        const drawn = await page.evaluate(() => {
          const m = window.sahelMap;
          const q = (l) => m.queryRenderedFeatures({ layers: [l] });
          return {
            country: q('country').map((f) => f.source), events: q('events').length + q('event-clusters').length,
            coverage: m.getLayoutProperty('coverage', 'visibility'), overlays: !!m.getLayer('selected-base-line'),
            address: location.search,
          };
        });
        check(archived.length > 0 && archived.every((s) => s === 200 || s === 204), `archive tile responses: ${archived}`);
        check(drawn.country.length > 0 && drawn.country.every((s) => s === 'basemap'), `country from ${drawn.country}`);
        check(drawn.events > 0 && drawn.coverage === 'none' && drawn.overlays, `after the switch: ${JSON.stringify(drawn)}`);
        check(drawn.address.includes(`basemap=${archive}`), `page address ${drawn.address}`);
      }

      if (cdn) {
        // The same archive published elsewhere: read by range requests through pmtiles://.
        const ranged = [];
        page.on('response', (r) => { if (r.url().startsWith(`${cdn}/archives/`)) ranged.push(r.status()); });
        await page.evaluate(() => { window.__mapIdle = false; });
        await page.selectOption('#basemap', 'cdn');
        await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap.getSource('basemap') && window.sahelMap.areTilesLoaded(), null, { timeout: 60000 });
        const fromCdn = await page.evaluate(() => {
          const m = window.sahelMap;
          return { url: m.getStyle().sources.basemap.url, rivers: m.queryRenderedFeatures({ layers: ['country', 'rivers'] }).map((f) => f.source) };
        });
        check(fromCdn.url === `pmtiles://${cdn}/archives/base/archive.pmtiles`, `basemap source ${fromCdn.url}`);
        check(fromCdn.rivers.length > 0 && fromCdn.rivers.every((s) => s === 'basemap'), `drawn from ${fromCdn.rivers}`);
        check(ranged.length > 0 && ranged.every((s) => s === 206), `range responses: ${ranged}`);
      }

      if (writeKey) {
        // Live: an event written now appears on the open map, without a reload.
        const spot = [-6.0, 13.2];
        await page.evaluate((c) => { window.__mapIdle = false; window.sahelMap.jumpTo({ center: c, zoom: 12 }); }, spot);
        await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap.areTilesLoaded(), null, { timeout: 30000 });
        const shows = () => window.sahelMap.queryRenderedFeatures({ layers: ['events'] }).some((f) => f.properties.id === 'BROWSER-LIVE-1');
        check(!(await page.evaluate(shows)), 'the live event is on the map before it was written');
        const feature = {
          type: 'Feature', geometry: { type: 'Point', coordinates: spot },
          properties: { event_id_cnty: 'BROWSER-LIVE-1', event_date: '2019-06-01', event_type: 'Battles', fatalities: 3, location: 'Browser test' },
        };
        const posted = await fetch(`${base}/api/events`, {
          method: 'POST', body: JSON.stringify(feature),
          headers: { 'Content-Type': 'application/geo+json', Authorization: `Bearer ${writeKey}` },
        });
        check(posted.status === 201, `POST answered ${posted.status}`);
        await page.waitForFunction(shows, null, { timeout: 20000, polling: 250 });
      }
    }

    await page.screenshot({ path: join(outDir, `map-${viewport.name}.png`) });
    check(problems.length === 0, `problems on ${viewport.name}:\n${problems.join('\n')}`);
    await page.close();
  }
  if (process.env.SAHEL_SERVER_PID) {
    // Offline: the map a field user already saw survives the server going away. Seen once
    // under the service worker's control, then the server is killed and the page reloaded.
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const settled = async () => {
      await page.waitForFunction(() => window.__mapIdle === true && window.sahelMap && window.sahelMap.loaded() && window.sahelMap.areTilesLoaded(), null, { timeout: 120000 });
      await page.waitForFunction(() => document.querySelectorAll('#type-filters input').length > 0, null, { timeout: 30000 });
    };
    const drawn = () => page.evaluate(() => {
      const m = window.sahelMap;
      const n = (l) => m.queryRenderedFeatures({ layers: [l] }).length;
      return { regions: n('regions'), events: n('events') + n('event-clusters'), bases: n('bases'), places: n('place-labels') };
    });
    await page.goto(`${base}/#5.5/15.5/-3`, { waitUntil: 'load' });
    await page.evaluate(async () => { await navigator.serviceWorker.ready; });
    await page.reload({ waitUntil: 'load' });
    check(await page.evaluate(() => !!navigator.serviceWorker.controller), 'no service worker controls the page');
    await settled();
    const online = await drawn();
    check(await page.isHidden('#offline'), 'the page says it is offline while the server runs');
    process.kill(Number(process.env.SAHEL_SERVER_PID), 'SIGKILL');
    await page.reload({ waitUntil: 'load' });
    await settled();
    await page.waitForFunction(() => window.__online === false, null, { timeout: 30000 });
    const offline = await drawn();
    check(await page.isVisible('#offline'), 'the page does not say it is offline');
    check(offline.regions > 0 && offline.events > 0 && offline.bases > 0, `offline map ${JSON.stringify(offline)} (online ${JSON.stringify(online)})`);
    check(offline.events === online.events && offline.regions === online.regions, `offline ${JSON.stringify(offline)} vs online ${JSON.stringify(online)}`);
    check(errors.length === 0, `page errors offline: ${errors.join('; ')}`);
    await page.screenshot({ path: join(outDir, 'offline.png') });
    await page.close();
  }
  console.log(`browser test passed; screenshots in ${outDir}`);
} catch (e) {
  failed = true;
  console.error(`browser test failed: ${e.message}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
