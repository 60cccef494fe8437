// Sahel Atlas service worker: keeps the map a field user already saw for when the link
// drops. The page and its files are kept at install; tiles, glyphs, the style and API
// answers are kept as they are fetched, and served from here only when the network fails.
// The server points the paths below at the files' content-hashed URLs, so a new release
// is a new worker, which replaces the old shell.

const SHELL = [
  '/',
  '/app.js',
  '/analysis.js',
  '/vendor/maplibre-gl.js',
  '/vendor/maplibre-gl.css',
  '/vendor/pmtiles.js',
  '/manifest.webmanifest',
  '/icon-192.png',
];
// Named after the hashed URLs: a new release keeps its shell apart from the old one.
const SHELL_CACHE = `sahel-shell ${SHELL.slice(1).join(' ')}`;
const DATA_CACHE = 'sahel-data';
// Tiles, glyphs and answers kept at most; the oldest go first.
const MAX_DATA = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== SHELL_CACHE && name !== DATA_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function trim(cache) {
  const keys = await cache.keys();
  for (const k of keys.slice(0, Math.max(0, keys.length - MAX_DATA))) await cache.delete(k);
}

/** The network's answer, kept; or, when the network fails, the kept one. */
async function networkFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) {
      await cache.put(request, response.clone());
      if (cacheName === DATA_CACHE) trim(cache);
    }
    return response;
  } catch (err) {
    const kept = await cache.match(request);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  // Live only: the health check tells the page whether it is online; the change stream
  // and downloads are not worth keeping.
  if (url.pathname === '/healthz' || url.pathname === '/api/changes' || url.searchParams.has('f')) return;
  if (request.mode === 'navigate') {
    event.respondWith(networkFirst(request, SHELL_CACHE).catch(() => caches.match('/')));
    return;
  }
  const kept = SHELL.includes(url.pathname);
  event.respondWith(kept
    ? caches.match(request).then((hit) => hit || networkFirst(request, SHELL_CACHE))
    : networkFirst(request, DATA_CACHE));
});
