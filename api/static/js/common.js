/*
 * gridmap: helpers every page script of api/templates/map_base.html shares.
 *
 * gridmapCommon.escapeHtml(value): text safe inside HTML (names come from data).
 * gridmapCommon.send(url, options): fetch as the logged-in person. A state-changing
 * request carries the page's CSRF token (<meta name="csrf-token">, header
 * X-CSRF-Token: api/access.py refuses a cookie login's POST without it); a 401
 * (the login expired or ended) sends the browser to the login page, which brings
 * it back here afterwards.
 * gridmapCommon.getJSON(url, options): send, parse JSON, and reject with the
 * API's own error description (api/errors.py) when the status is not 2xx (the
 * error's ``status`` is the HTTP status).
 * gridmapCommon.allPages(url): every feature of a paged collection, following
 * its ``next`` links: the maps draw every grid, which may take more than one page.
 *
 * GM.ready(): a map page calls it once its map has drawn its data: it marks
 * performance.mark('gm-usable') and sets <html data-gm-ready="1"> (the page-load
 * benchmark and the browser tests wait for it). Only the first call counts.
 */
/* exported gridmapCommon, GM */
var GM = window.GM || {};
window.GM = GM;
GM.ready = GM.ready || function () {
  'use strict';
  var root = document.documentElement;
  if (root.dataset.gmReady === '1') { return; }
  if (window.performance && window.performance.mark) { window.performance.mark('gm-usable'); }
  root.dataset.gmReady = '1';
};

var gridmapCommon = (function () {
  'use strict';
  var entities = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
  var SAFE = ['GET', 'HEAD', 'OPTIONS'];

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) { return entities[c]; });
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  function pageLanguage() { return document.documentElement.lang || 'zh-CN'; }

  var leaving = false;
  function toLogin() {
    // Several reads may find the login ended at once: go to the login page once (a second
    // assign would abort the first navigation).
    if (leaving) { return; }
    leaving = true;
    window.location.assign('/login?next=' +
      encodeURIComponent(window.location.pathname + window.location.search));
  }

  function send(url, options) {
    options = Object.assign({credentials: 'same-origin'}, options || {});
    var headers = new Headers(options.headers || {});
    // The API answers (error messages above all) in the page's language, not the browser's.
    if (!headers.has('Accept-Language')) { headers.set('Accept-Language', pageLanguage()); }
    if (SAFE.indexOf((options.method || 'GET').toUpperCase()) < 0) {
      var token = csrfToken();
      if (token) { headers.set('X-CSRF-Token', token); }
    }
    options.headers = headers;
    return fetch(url, options).then(function (response) {
      if (response.status === 401) {
        toLogin();
        throw new Error('登录已过期，正在转到登录页 (your login has ended: log in again)');
      }
      return response;
    });
  }

  function getJSON(url, options) {
    return send(url, options).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var err = new Error(body.description || response.statusText);
          err.status = response.status;  // e.g. a 404 a page answers differently from a 503
          throw err;
        }
        return body;
      });
    });
  }

  function allPages(url, features) {
    return getJSON(url).then(function (body) {
      features = (features || []).concat(body.features);
      var next = (body.links || []).filter(function (l) { return l.rel === 'next'; })[0];
      return next ? allPages(next.href, features) : features;
    });
  }

  return {escapeHtml: escapeHtml, csrfToken: csrfToken, send: send, getJSON: getJSON,
    allPages: allPages, toLogin: toLogin};
}());

/*
 * GM.ready(): a map page calls it once its map has drawn its data. It marks the moment
 * (performance.mark('gm-usable')) and sets <html data-gm-ready="1">, which the benchmark
 * and the browser tests wait for. Later calls do nothing.
 */
var GM = window.GM = window.GM || {};
GM.ready = function () {
  'use strict';
  if (document.documentElement.dataset.gmReady === '1') { return; }
  if (window.performance && performance.mark) { performance.mark('gm-usable'); }
  document.documentElement.dataset.gmReady = '1';
};
