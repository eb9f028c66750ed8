/*
 * gridmap: a map layer filled from the API with the features in view.
 *
 * Some layers (20,000+ building footprints) are too large to embed in the
 * page, so layers/webmap.py leaves their layer group empty and calls
 * gridmapViewportLayer with the layer's definition (layers/catalogue.py).
 * Below config.minZoom the group stays empty and a hint asks to zoom in; at
 * or above it, each settled view (moveend, debounced) asks the API for the
 * features in the view's bbox, aborting the request for the previous view.
 * config.renderer (optional, set by the page's script) draws them with the page's
 * own renderer, e.g. the one canvas of the district map, instead of in config.pane;
 * config.coordsToLatLng and config.fromDisplay (optional) place WGS84 features on a
 * base map of another datum and turn the view's corners back into WGS84 (GM.datum).
 */
/* exported gridmapViewportLayer */
function gridmapViewportLayer(map, group, config) {
  'use strict';
  var hint = document.getElementById(config.hintId);
  var legend = document.getElementById(config.legendId);
  var timer = null;
  var inFlight = null;
  var generation = 0; // a response is drawn only if no newer view was asked for

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }

  function table(fields, props) {
    return '<table class="gm-fields">' + fields.map(function (f) {
      var value = props[f[0]];
      var shown = value === null || value === undefined || value === '' ? config.noValue : value;
      return '<tr><th>' + escapeHtml(f[1]) + '</th><td>' + escapeHtml(shown) + '</td></tr>';
    }).join('') + '</table>';
  }

  function fillColour(props) {
    var value = Number(props[config.ramp.prop]);
    var colour = config.ramp.steps[0][1];
    config.ramp.steps.forEach(function (step) {
      if (value >= step[0]) { colour = step[1]; }
    });
    return colour;
  }

  function say(text) {
    if (!hint) { return; }
    hint.textContent = text || '';
    hint.style.display = text ? 'block' : 'none';
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function cancel() {
    generation += 1;
    if (inFlight) { inFlight.abort(); inFlight = null; }
  }

  function draw(collection) {
    group.clearLayers();
    var where = config.renderer ? {renderer: config.renderer} : {pane: config.pane};
    var placed = config.coordsToLatLng ? {coordsToLatLng: config.coordsToLatLng} : {};
    L.geoJSON(collection, L.extend({}, where, placed, {
      style: function (feature) {
        return L.extend({}, config.style, where, {fillColor: fillColour(feature.properties)});
      },
      pointToLayer: function (feature, latlng) { // a building without a known footprint
        return L.circleMarker(latlng, L.extend({}, config.style, where, {
          radius: config.radius, fillColor: fillColour(feature.properties)
        }));
      },
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(table(config.tooltip, feature.properties), {sticky: true});
        layer.bindPopup(table(config.popup, feature.properties));
        layer.on('popupopen', function () { layer.closeTooltip(); }); // one box at a time
      }
    })).eachLayer(function (layer) { group.addLayer(layer); });
  }

  function url() {
    var b = map.getBounds();
    var wgs = config.fromDisplay || function (p) { return p; };
    var sw = wgs([b.getWest(), b.getSouth()]);
    var ne = wgs([b.getEast(), b.getNorth()]);
    var bbox = [
      Math.max(sw[0], -180), Math.max(sw[1], -90),
      Math.min(ne[0], 180), Math.min(ne[1], 90)
    ].map(function (v) { return v.toFixed(6); }).join(',');
    var separator = config.url.indexOf('?') < 0 ? '?' : '&';
    return config.url + separator + 'bbox=' + bbox + '&limit=' + config.limit;
  }

  function refresh() {
    cancel();
    var shown = map.hasLayer(group);
    if (legend) { legend.style.display = shown ? '' : 'none'; }
    if (!shown) { group.clearLayers(); say(''); return; }
    if (map.getZoom() < config.minZoom) {
      group.clearLayers();
      say(config.messages.zoomIn);
      return;
    }
    var mine = generation;
    inFlight = new AbortController();
    fetch(url(), {signal: inFlight.signal, headers: {Accept: 'application/geo+json'}})
      .then(function (response) {
        if (response.status === 401) {  // the login ended: log in again, then come back
          window.location.assign('/login?next=' +
            encodeURIComponent(window.location.pathname + window.location.search));
        }
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.json();
      })
      .then(function (collection) {
        if (mine !== generation) { return; } // the view moved on meanwhile
        inFlight = null;
        draw(collection);
        var returned = collection.features.length;
        say(collection.numberMatched > returned ? format(config.messages.truncated, {
          matched: collection.numberMatched, returned: returned
        }) : '');
      })
      .catch(function (error) {
        if (error.name === 'AbortError' || mine !== generation) { return; }
        inFlight = null;
        group.clearLayers();
        say(config.messages.failed);
        console.warn('gridmap: ' + config.url + ': ' + error);
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, config.debounceMs);
  }

  map.on('moveend', schedule);
  map.on('overlayadd overlayremove', function (event) {
    if (event.layer === group) { clearTimeout(timer); refresh(); }
  });
  map.whenReady(refresh);
  return {refresh: refresh};
}
