/*
 * gridmap: helpers every page script of api/templates/map_base.html shares.
 *
 * gridmapCommon.escapeHtml(value): text safe inside HTML (names come from data).
 * gridmapCommon.getJSON(url, options): fetch, parse JSON, and reject with the
 * API's own error description (api/errors.py) when the status is not 2xx.
 * gridmapCommon.allPages(url): every feature of a paged collection, following
 * its ``next`` links: the maps draw every grid, which may take more than one page.
 */
/* exported gridmapCommon */
var gridmapCommon = (function () {
  'use strict';
  var entities = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) { return entities[c]; });
  }

  function getJSON(url, options) {
    return fetch(url, options).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.description || response.statusText); }
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

  return {escapeHtml: escapeHtml, getJSON: getJSON, allPages: allPages};
}());
