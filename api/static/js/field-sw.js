/*
 * gridmap field app's service worker, served at /sw.js (scope /) by api/routes/field.py.
 *
 * The app's shell (its scripts, styles, Leaflet, icons) is kept at install and served
 * from the cache, refreshed in the background. The pages of the field app and the API
 * reads they make (my grid's worklist, buildings, facilities, the inbox, a case, its
 * history and photos, the base map's streets) go to the network first; each answer is
 * kept, and without signal the kept copy is answered instead (marked X-GM-From-Cache, so
 * the page can say it is showing saved data). Writes are never touched here: the pages
 * queue them in IndexedDB and send them when the connection returns (field.js). The
 * pages' cache goes when the person logs out.
 */
'use strict';
var SHELL_CACHE = 'gm-shell-v1';
var DATA_CACHE = 'gm-data-v1';
var SHELL = [
  '/static/css/field.css',
  '/static/js/common.js',
  '/static/js/field.js',
  '/static/js/field-list.js',
  '/static/js/field-case.js',
  '/static/js/field-report.js',
  '/static/js/basemap.js',
  '/static/vendor/leaflet/leaflet.js',
  '/static/vendor/leaflet/leaflet.css',
  '/static/icons/icon-192.png',
  '/manifest.webmanifest'
];
var PAGES = /^\/(my|inbox|report|grid\/\d{15}|cases\/\d+)$/;
var READS = /^\/api\/v1\/(worklists\/|inbox|incidents\/\d+(\/(history|photos))?$|grids\/|buildings|facilities|photos\/|basemap|me$)/;

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (cache) {
    return cache.addAll(SHELL);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return k !== SHELL_CACHE && k !== DATA_CACHE;
    }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromCache(request) {
  return caches.match(request).then(function (hit) {
    if (!hit) { return null; }
    var headers = new Headers(hit.headers);
    headers.set('X-GM-From-Cache', '1');
    return hit.blob().then(function (body) {
      return new Response(body, {status: hit.status, statusText: hit.statusText, headers: headers});
    });
  });
}

function homeFromCache() {
  // /my redirects to the person's start page: offline, the one kept last.
  return caches.open(DATA_CACHE).then(function (cache) {
    return cache.keys().then(function (keys) {
      var pages = keys.map(function (k) { return new URL(k.url).pathname; })
        .filter(function (p) { return /^\/(grid\/|inbox)/.test(p); });
      pages.sort(function (a, b) { return a.indexOf('/grid/') === 0 ? -1 : b.indexOf('/grid/') === 0 ? 1 : 0; });
      return pages.length ? cache.match(pages[0]) : null;
    });
  });
}

function networkFirst(event, url) {
  return fetch(event.request).then(function (response) {
    if (response.ok && !response.redirected && response.type === 'basic') {
      var copy = response.clone();
      caches.open(DATA_CACHE).then(function (cache) { cache.put(event.request, copy); });
    }
    return response;
  }).catch(function (error) {
    return fromCache(event.request).then(function (hit) {
      if (hit) { return hit; }
      if (url.pathname === '/my') {
        return homeFromCache().then(function (home) { if (home) { return home; } throw error; });
      }
      throw error;
    });
  });
}

function shellFirst(event) {
  return caches.match(event.request).then(function (hit) {
    var fresh = fetch(event.request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(event.request, copy); });
      }
      return response;
    });
    if (hit) { fresh.catch(function () { return null; }); return hit; }
    return fresh;
  });
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf('/static/') === 0 || url.pathname === '/manifest.webmanifest') {
    event.respondWith(shellFirst(event));
  } else if (PAGES.test(url.pathname) || READS.test(url.pathname)) {
    event.respondWith(networkFirst(event, url));
  }
});
