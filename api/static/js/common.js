/*
 * gridmap: helpers every page script of api/templates/map_base.html shares.
 *
 * gridmapCommon.escapeHtml(value): text safe inside HTML (names come from data).
 * gridmapCommon.getJSON(url, options): fetch, parse JSON, and reject with the
 * API's own error description (api/errors.py) when the status is not 2xx.
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

  return {escapeHtml: escapeHtml, getJSON: getJSON};
}());
