/*
 * gridmap field app: what every page of it shares (api/routes/field.py).
 *
 * GM.field.t(key, values): the page's words in its language (window.GM_FIELD.t, from
 * api/field_text.py), with {name} filled in.
 * GM.field.fit(map, bounds): fits a map to its data without ever asking Leaflet for a zoom
 * it cannot compute: a container smaller than the padding (a phone's map squeezed by the
 * keyboard, a page laid out while hidden) gave the old worklist a NaN zoom and
 * "Invalid LatLng object: (NaN, NaN)"; here the padding shrinks with the container, the
 * zoom is capped (maps without tiles have no maximum) and the map is fitted again when
 * its container is resized.
 * GM.field.timeClass(item) / dueText(item): how much time a case has left, as a class
 * (gm-t-overdue, gm-t-soon, gm-t-ok, gm-t-none) and as words.
 * GM.field.outbox: reports and steps wait in IndexedDB (database gridmap-field, store
 * outbox) until the server has them. Every report and step goes through it: it is put
 * there first, then sent; a failed connection leaves it there, and it is sent again when
 * the browser comes online (the `online` event) or on the next page load. A report carries
 * an Idempotency-Key made when it was queued, so sending it twice makes one case; a step
 * carries the expected_version it was made on, so a step on a case someone else has moved
 * on is refused (409/412) and shown as a conflict with the server's state and the
 * person's note kept, to send again or discard. Photos of a report follow it once the
 * case has its number, one upload per photo with a client_key of its own.
 */
/* global L, gridmapCommon */
(function () {
  'use strict';
  var GM = window.GM = window.GM || {};
  var config = window.GM_FIELD || {};
  var words = config.t || {};

  function t(key, values) {
    var text = words[key] === undefined ? key : String(words[key]);
    return text.replace(/\{(\w+)\}/g, function (_, k) {
      return values && values[k] !== undefined ? values[k] : '';
    });
  }

  function say(text, ok) {
    var box = document.getElementById('gm-status');
    if (!box) { return; }
    box.textContent = text;
    box.hidden = !text;
    box.className = 'gm-status' + (ok === false ? ' gm-error' : '');
  }

  // --- time ------------------------------------------------------------------------------
  var clockOffset = 0;  // server now - browser now, ms
  function setServerNow(iso) {
    var now = new Date(iso).getTime();
    if (isFinite(now)) { clockOffset = now - Date.now(); }
  }
  function now() { return Date.now() + clockOffset; }

  function localTime(iso) {
    if (!iso) { return '—'; }
    var d = new Date(iso);
    if (!isFinite(d.getTime())) { return String(iso); }
    var parts = new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Shanghai', hour12: false,
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'})
      .formatToParts(d).reduce(function (o, p) { o[p.type] = p.value; return o; }, {});
    return parts.year + '-' + parts.month + '-' + parts.day + ' ' + parts.hour + ':' +
      parts.minute;
  }

  function duration(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var en = config.lang === 'en';
    if (days) { return en ? days + ' d ' + hours + ' h' : days + '天' + hours + '小时'; }
    if (hours) { return en ? hours + ' h ' + (minutes % 60) + ' min' : hours + '小时' + (minutes % 60) + '分'; }
    return en ? (minutes % 60) + ' min' : (minutes % 60) + '分';
  }

  var SOON_S = 4 * 3600;
  function secondsLeft(item) {
    if (!item.deadline_at) { return null; }
    return (new Date(item.deadline_at).getTime() - now()) / 1000;
  }
  function timeClass(item) {
    var left = secondsLeft(item);
    if (left === null) { return 'gm-t-none'; }
    if (left < 0 || item.overdue) { return 'gm-t-overdue'; }
    return left < SOON_S ? 'gm-t-soon' : 'gm-t-ok';
  }
  function dueText(item) {
    var left = secondsLeft(item);
    if (left === null) { return t('no_deadline'); }
    if (left < 0) { return t('overdue') + ' ' + duration(left); }
    return t('due') + ' ' + localTime(item.deadline_at) + ' · ' + t('remaining') + ' ' +
      duration(left);
  }

  function stateLabel(status) { return (words.states || {})[status] || status; }
  function stateColour(status) { return (config.colours || {})[status] || '#777'; }
  function stateBadge(status) {
    return '<span class="gm-state" style="background:' + stateColour(status) + '">' +
      gridmapCommon.escapeHtml(stateLabel(status)) + '</span>';
  }
  function category(code) { return (config.categories || {})[code] || code; }

  // --- maps ------------------------------------------------------------------------------
  var MAX_ZOOM = 19;
  function newMap(id) {
    var map = L.map(id, {zoomSnap: 0.25, maxZoom: MAX_ZOOM, minZoom: 8});
    L.control.scale({imperial: false}).addTo(map);
    if (GM.basemap) {  // streets and names under the map
      getJSON(config.api + '/basemap').then(function (base) { GM.basemap.add(map, base); })
        .catch(function (err) { console.warn('gridmap: base map: ' + err.message); });
    }
    return map;
  }
  // Every overlay goes through the datum the map is drawn in (GCJ-02 under Amap tiles).
  function latLng(lon, lat) {
    var shown = GM.datum && GM.datum.toDisplay ? GM.datum.toDisplay([lon, lat]) : [lon, lat];
    return L.latLng(shown[1], shown[0]);
  }
  function geoJSON(data, options) {
    return L.geoJSON(data, L.extend({coordsToLatLng: function (c) { return latLng(c[0], c[1]); }},
      options || {}));
  }
  function fit(map, bounds) {
    if (!bounds || !bounds.isValid()) { return; }
    var container = map.getContainer();
    function apply() {
      map.invalidateSize(false);
      var size = map.getSize();
      if (size.x < 1 || size.y < 1) { return; }  // not laid out yet: the observer comes back
      var pad = Math.max(0, Math.min(20, Math.floor(Math.min(size.x, size.y) / 4)));
      map.fitBounds(bounds, {padding: [pad, pad], maxZoom: 18, animate: false});
    }
    apply();
    if (window.ResizeObserver && !container.gmObserved) {
      container.gmObserved = true;
      var last = '';
      new ResizeObserver(function () {
        var key = container.clientWidth + 'x' + container.clientHeight;
        if (key !== last) { last = key; apply(); }
      }).observe(container);
    }
  }

  // --- outbox ----------------------------------------------------------------------------
  var DB_NAME = 'gridmap-field';
  var STORE = 'outbox';
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var open = indexedDB.open(DB_NAME, 1);
        open.onupgradeneeded = function () {
          open.result.createObjectStore(STORE, {keyPath: 'key'});
        };
        open.onsuccess = function () { resolve(open.result); };
        open.onerror = function () { reject(open.error); };
      });
    }
    return dbPromise;
  }
  function tx(mode, work) {
    return db().then(function (handle) {
      return new Promise(function (resolve, reject) {
        var transaction = handle.transaction(STORE, mode);
        var result = work(transaction.objectStore(STORE));
        transaction.oncomplete = function () { resolve(result && result.result); };
        transaction.onerror = function () { reject(transaction.error); };
      });
    });
  }
  // Only the logged-in person's own items: what someone else queued on this phone waits
  // for them (sent under another login it would be recorded as the other person's step).
  function all() {
    return tx('readonly', function (store) { return store.getAll(); }).then(function (items) {
      return (items || []).filter(function (i) { return i.owner === config.owner; })
        .sort(function (a, b) { return a.created - b.created; });
    });
  }
  function put(item) { return tx('readwrite', function (store) { return store.put(item); }); }
  function remove(key) { return tx('readwrite', function (store) { return store.delete(key); }); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function csrf() { return gridmapCommon.csrfToken(); }

  function enqueue(item) {
    item.key = item.key || uuid();
    item.owner = config.owner;
    item.created = item.created || Date.now();
    item.state = 'pending';
    return put(item).then(function () { renderOutbox(); return item; });
  }

  function parse(response) {
    return response.text().then(function (text) {
      try { return JSON.parse(text); } catch (e) { return {description: text}; }
    });
  }

  function sendItem(item) {
    var headers = {'X-CSRF-Token': csrf(), 'Accept-Language': document.documentElement.lang || 'zh-CN'};
    var body;
    if (item.kind === 'photo') {
      body = new FormData();
      body.append('file', item.file, item.fileName || 'photo.jpg');
      body.append('stage', item.stage);
      body.append('client_key', item.key);
    } else {
      headers['Content-Type'] = 'application/json';
      if (item.kind === 'report') { headers['Idempotency-Key'] = item.key; }
      body = JSON.stringify(item.body);
    }
    return fetch(item.url, {method: 'POST', credentials: 'same-origin', headers: headers,
      body: body}).then(function (response) {
      return parse(response).then(function (answer) {
        return {status: response.status, ok: response.ok, body: answer};
      });
    });
  }

  function followUps(item, answer) {
    // A report's photos go once its case has a number.
    var photos = (item.photos || []).map(function (p, i) {
      return {key: item.key + '-p' + i, kind: 'photo', created: item.created + i + 1,
        url: config.api + '/incidents/' + answer.id + '/photos', stage: 'intake',
        file: p.file, fileName: p.name, caseId: answer.id, label: '#' + answer.id};
    });
    return photos.reduce(function (p, photo) {
      return p.then(function () { return enqueue(photo); });
    }, Promise.resolve());
  }

  function lastStep(current) {
    // The 409/412 body's `current` names the case's last step (its key as the server spells it).
    if (!current) { return null; }
    return current.last_step || current.last_transition || current.last || current.step || null;
  }

  function sameStepDone(item, current) {
    // The step was taken but its answer was lost: the case is one version on, by this step.
    var last = lastStep(current) || {};
    return current && current.version === item.body.expected_version + 1 &&
      last.action === item.body.action && !!config.me && last.actor === config.me;
  }

  var flushing = null;
  function flush() {
    if (flushing) { return flushing; }
    var run = function () {
      if (navigator.onLine === false) { return Promise.resolve(false); }  // `online` comes back
      return all().then(function (items) {
        var pending = items.filter(function (i) { return i.state === 'pending'; });
        var chain = Promise.resolve(true);
        pending.forEach(function (item) {
          chain = chain.then(function (goOn) {
            if (!goOn) { return false; }
            return sendItem(item).then(function (r) {
              if (r.ok) {
                return followUps(item, r.body).then(function () { return remove(item.key); })
                  .then(function () {
                    document.dispatchEvent(new CustomEvent('gm-sent',
                      {detail: {item: item, answer: r.body}}));
                    return true;
                  });
              }
              if (r.status === 401) { return false; }  // log in again; the item waits
              // This page was served to a login that has since ended (someone else logged in
              // on this phone): the item waits for its author's next page.
              if (r.status === 403 && r.body.code === 'CsrfRefused') { return false; }
              if (r.status >= 500 || r.status === 429) { return false; }  // try later
              if ((r.status === 409 || r.status === 412) && item.kind === 'step') {
                var current = r.body.current || (r.body.current_version !== undefined ?
                  {version: r.body.current_version} : null);
                if (current && sameStepDone(item, current)) {
                  return remove(item.key).then(function () { return true; });
                }
                item.state = 'conflict';
                item.conflict = {current: current || {}, description: r.body.description || ''};
                // The case as it now stands, where the refusal did not say it.
                var known = current && current.status ? Promise.resolve() :
                  fetch(config.api + '/incidents/' + item.caseId, {credentials: 'same-origin'})
                    .then(function (res) { return res.ok ? res.json() : null; })
                    .then(function (now) {
                      if (now) {
                        item.conflict.current = {status: now.status, version: now.version,
                          handling_level: now.handling_level};
                      }
                    }).catch(function () { return null; });
                return known.then(function () { return put(item); }).then(function () {
                  document.dispatchEvent(new CustomEvent('gm-conflict', {detail: item}));
                  return true;
                });
              }
              item.state = 'failed';
              item.error = r.body.description || ('HTTP ' + r.status);
              return put(item).then(function () { return true; });
            }, function () { return false; });  // no connection: everything waits
          });
        });
        return chain.then(function (goOn) {
          // Sending a report queues its photos: send those too, while the signal lasts.
          if (!goOn) { return false; }
          return all().then(function (now) {
            return now.some(function (i) { return i.state === 'pending'; }) ? run() : true;
          });
        });
      });
    };
    var locked = navigator.locks ? navigator.locks.request('gm-outbox', run) : run();
    flushing = locked.then(function (result) { flushing = null; renderOutbox(); return result; },
      function (err) { flushing = null; renderOutbox(); throw err; });
    return flushing;
  }

  function itemLabel(item) {
    if (item.kind === 'report') { return t('report') + ' · ' + category(item.body.category); }
    if (item.kind === 'photo') { return t('photos') + ' ' + (item.label || ''); }
    return '#' + item.caseId + ' ' + ((words.buttons || {})[item.body.action] || item.body.action);
  }

  function renderOutbox() {
    return all().then(function (items) {
      var button = document.getElementById('gm-queue');
      var box = document.getElementById('gm-outbox');
      if (!button || !box) { return; }
      var waiting = items.filter(function (i) { return i.state === 'pending'; });
      button.hidden = !items.length;
      button.textContent = t('queue', {n: items.length});
      button.dataset.count = String(items.length);
      document.documentElement.dataset.gmOutbox = String(items.length);
      if (!items.length) { box.hidden = true; box.innerHTML = ''; return; }
      var esc = gridmapCommon.escapeHtml;
      box.innerHTML = '<h2>' + esc(t('queue', {n: items.length})) + '</h2>' +
        (waiting.length ? '<p class="gm-hint">' + esc(t('queue_hint')) + '</p>' : '') +
        '<ul>' + items.map(function (item) {
          var label = esc(itemLabel(item));
          if (item.state === 'conflict') {
            var current = (item.conflict && item.conflict.current) || {};
            var last = lastStep(current);
            return '<li class="gm-conflict" data-key="' + esc(item.key) + '"><b>' + label +
              ' · ' + esc(t('conflict')) + '</b><p>' + esc(t('conflict_text')) + '</p><p>' +
              esc(t('conflict_now', {status: current.status ? stateLabel(current.status) : '?',
                version: current.version === undefined ? '?' : current.version})) + '</p>' +
              (last ? '<p>' + esc(t('conflict_last', {step: (last.action_zh ||
                (words.steps || {})[last.action] || last.action) +
                ' · ' + (last.actor_label || last.actor || '') + ' · ' +
                (last.at_local || localTime(last.at))})) + '</p>' : '') +
              '<label>' + esc(t('your_note')) + '<textarea rows="2">' +
              esc(item.body.note || '') + '</textarea></label><div class="gm-row">' +
              '<button type="button" data-retry="1">' + esc(t('retry')) + '</button>' +
              '<button type="button" data-discard="1">' + esc(t('discard')) +
              '</button></div></li>';
          }
          if (item.state === 'failed') {
            return '<li data-key="' + esc(item.key) + '">' + label + ' · ' +
              esc(t('failed', {error: item.error})) + ' <button type="button" data-discard="1">' +
              esc(t('discard')) + '</button></li>';
          }
          return '<li data-key="' + esc(item.key) + '">' + label + '</li>';
        }).join('') + '</ul>';
      box.hidden = false;
    });
  }

  function onOutboxClick(event) {
    var button = event.target.closest('button');
    var li = event.target.closest('li[data-key]');
    if (!button || !li) { return; }
    all().then(function (items) {
      var item = items.filter(function (i) { return i.key === li.dataset.key; })[0];
      if (!item) { return; }
      if (button.dataset.discard) { remove(item.key).then(renderOutbox); return; }
      if (button.dataset.retry) {
        var current = (item.conflict && item.conflict.current) || {};
        item.body.expected_version = current.version;
        var note = li.querySelector('textarea').value.trim();
        if (note) { item.body.note = note; } else { delete item.body.note; }
        item.state = 'pending';
        delete item.conflict;
        put(item).then(flush);
      }
    });
  }

  function keepSavedDataToItsOwner() {
    // Pages saved for offline use hold their person's cases: another login on this phone
    // (after a login that ended without logging out) starts without them.
    try {
      if (localStorage.getItem('gm-owner') !== config.owner) {
        if (window.caches) { caches.delete('gm-data-v1'); }
        localStorage.setItem('gm-owner', config.owner || '');
      }
    } catch (e) { /* storage refused: nothing saved to guard either */ }
  }

  function start() {
    keepSavedDataToItsOwner();
    var box = document.getElementById('gm-outbox');
    if (box) { box.addEventListener('click', onOutboxClick); }
    var button = document.getElementById('gm-queue');
    if (button) {
      button.addEventListener('click', function () {
        if (box) { box.scrollIntoView({block: 'nearest'}); }
        flush();
      });
    }
    window.addEventListener('online', function () { flush(); });
    var logout = document.getElementById('gm-logout-form');
    if (logout) {
      logout.addEventListener('submit', function (event) {
        var count = Number(document.documentElement.dataset.gmOutbox || 0);
        if (count && !window.confirm(t('logout_pending', {n: count}))) {
          event.preventDefault();
          return;
        }
        // What this person's pages cached goes with the login.
        if (window.caches) { caches.delete('gm-data-v1'); }
      });
    }
    if ('serviceWorker' in navigator) {
      // The first visit happens before the worker runs: once it takes the page over, read
      // the page and its data again through it, so that they are there without signal.
      navigator.serviceWorker.addEventListener('controllerchange', function () {
        [window.location.pathname].concat(fetched).forEach(function (url) {
          fetch(url, {credentials: 'same-origin'}).catch(function () { return null; });
        });
      });
      navigator.serviceWorker.register('/sw.js', {scope: '/'}).catch(function (err) {
        console.warn('gridmap: service worker not registered: ' + err);
      });
    }
    renderOutbox().then(flush);
  }

  // The read of a page: the network, else (no signal) the copy the service worker kept.
  var fetched = [];
  function getJSON(url) {
    fetched.push(url);
    return gridmapCommon.send(url).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = new Error(body.description || response.statusText);
          error.status = response.status;
          throw error;
        }
        if (response.headers.get('X-GM-From-Cache')) { say(t('offline_cached'), false); }
        return body;
      });
    });
  }

  GM.field = {
    config: config, t: t, say: say, setServerNow: setServerNow, localTime: localTime,
    duration: duration, timeClass: timeClass, dueText: dueText, stateLabel: stateLabel,
    stateColour: stateColour, stateBadge: stateBadge, category: category, newMap: newMap,
    latLng: latLng, geoJSON: geoJSON,
    fit: fit, getJSON: getJSON, uuid: uuid,
    outbox: {enqueue: enqueue, flush: flush, all: all, remove: remove, render: renderOutbox}
  };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
