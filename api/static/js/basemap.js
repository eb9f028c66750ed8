/*
 * gridmap: the base map under every map, the datum of display, and the search box.
 *
 * GM.basemap.add(map, config): draws the base map GET /api/v1/basemap describes
 * (config; fetched when left out). Offline (the default) it draws the app's own
 * streets on a Leaflet canvas (widths by kind) with their names along them and
 * the names of subdistricts, communities or grids, loaded per view from
 * config.streets_url and config.places_url; with a tile service configured it
 * adds its tile layers instead. Returns {ready: Promise (resolves once the first
 * view is drawn), refresh()}. It sets GM.datum.display from config.display.
 *
 * GM.datum: every overlay's coordinates go through GM.datum.toDisplay([lon, lat])
 * (or L.geoJSON's coordsToLatLng: GM.datum.coordsToLatLng), and a point taken from
 * the map (a click) through GM.datum.fromDisplay before it is sent to the API in
 * WGS84, or sent as it is with datum: "gcj02" (the API converts). GM.datum.display
 * is "wgs84" (offline, Tianditu's CGCS2000: centimetres apart) or "gcj02" (Amap,
 * Tencent). wgs84ToGcj02 is the published GCJ-02 forward formula; gcj02ToWgs84 its
 * iterative inverse (error far below 1 cm), the same as gis/geo/datum.py's
 * prcoords (tests/web/test_basemap.py compares them).
 *
 * GM.search(input, map, options): a search box on a text input: results of GET
 * /api/v1/search in a list under it (rows at least 44 px tall), arrow keys and
 * Enter or a tap to pick one; the map flies to it and options.onSelect(item) hears.
 */
/* global L */
(function () {
  'use strict';
  var GM = window.GM = window.GM || {};
  var english = /^en/i.test(document.documentElement.lang || '');
  var TEXT = english ? {
    searchEmpty: 'Nothing found', searchFailed: 'Search failed: ', searching: 'Searching…',
    offline: 'Offline base map (gridmap)'
  } : {
    searchEmpty: '未找到 (nothing found)', searchFailed: '搜索失败：', searching: '正在搜索…',
    offline: '离线底图 (gridmap)'
  };

  // ---- the datum of display -------------------------------------------------------------

  var GCJ_A = 6378245;
  var GCJ_EE = 0.00669342162296594323;

  function inChina(lon, lat) {
    return lat >= 0.8293 && lat <= 55.8271 && lon >= 72.004 && lon <= 137.8347;
  }

  function wgs84ToGcj02(p) {
    var lon = p[0], lat = p[1];
    if (!inChina(lon, lat)) { return [lon, lat]; }
    var x = lon - 105, y = lat - 35;
    var dLatM = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) +
      (2 * Math.sin(x * 6 * Math.PI) + 2 * Math.sin(x * 2 * Math.PI) +
       2 * Math.sin(y * Math.PI) + 4 * Math.sin(y / 3 * Math.PI) +
       16 * Math.sin(y / 12 * Math.PI) + 32 * Math.sin(y / 30 * Math.PI)) * 20 / 3;
    var dLonM = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) +
      (2 * Math.sin(x * 6 * Math.PI) + 2 * Math.sin(x * 2 * Math.PI) +
       2 * Math.sin(x * Math.PI) + 4 * Math.sin(x / 3 * Math.PI) +
       15 * Math.sin(x / 12 * Math.PI) + 30 * Math.sin(x / 30 * Math.PI)) * 20 / 3;
    var radLat = lat / 180 * Math.PI;
    var magic = 1 - GCJ_EE * Math.pow(Math.sin(radLat), 2);
    var latArc = (GCJ_A * (1 - GCJ_EE)) / Math.pow(magic, 1.5) * Math.PI / 180;
    var lonArc = GCJ_A * Math.cos(radLat) / Math.sqrt(magic) * Math.PI / 180;
    return [lon + dLonM / lonArc, lat + dLatM / latArc];
  }

  function gcj02ToWgs84(p) {
    if (!inChina(p[0], p[1])) { return [p[0], p[1]]; }
    // Fixed-point iteration: the offset changes by millimetres over its own few hundred
    // metres, so each step gains about five digits; three or four reach 1e-12 degrees.
    var wgs = [p[0], p[1]];
    for (var i = 0; i < 10; i++) {
      var there = wgs84ToGcj02(wgs);
      var dLon = there[0] - p[0], dLat = there[1] - p[1];
      wgs = [wgs[0] - dLon, wgs[1] - dLat];
      if (Math.abs(dLon) < 1e-12 && Math.abs(dLat) < 1e-12) { break; }
    }
    return wgs;
  }

  var datum = {
    display: 'wgs84',
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
    /** [lon, lat] in WGS84 (what the API answers) → [lon, lat] as the base map draws it. */
    toDisplay: function (p) { return datum.display === 'gcj02' ? wgs84ToGcj02(p) : [p[0], p[1]]; },
    /** [lon, lat] on the base map (a click) → [lon, lat] in WGS84. */
    fromDisplay: function (p) { return datum.display === 'gcj02' ? gcj02ToWgs84(p) : [p[0], p[1]]; },
    /** L.geoJSON's coordsToLatLng option: GeoJSON from the API drawn where the base map is. */
    coordsToLatLng: function (coords) {
      var p = datum.toDisplay(coords);
      return L.latLng(p[1], p[0]);
    },
    /** A WGS84 [lon, lat] as a Leaflet LatLng on the base map. */
    latLng: function (p) { return datum.coordsToLatLng(p); },
    /** A LatLng taken from the map (a click) as a WGS84 [lon, lat]. */
    fromLatLng: function (latlng) { return datum.fromDisplay([latlng.lng, latlng.lat]); }
  };
  GM.datum = datum;

  // ---- the offline base map --------------------------------------------------------------

  var ROAD = {
    // casing (outline) and fill colours; width in pixels at zoom 16, thinner further out
    main: {casing: '#d4a24c', fill: '#fcd68a', width: 9, font: 14, weight: 600},
    secondary: {casing: '#c8bfae', fill: '#ffffff', width: 6.5, font: 13, weight: 500},
    local: {casing: '#d6d0c4', fill: '#ffffff', width: 4, font: 12, weight: 400}
  };
  var PLACE = {
    subdistrict: {font: 17, weight: 700, colour: '#5a3e8a'},
    community: {font: 14, weight: 600, colour: '#1a365d'},
    grid: {font: 12, weight: 500, colour: '#2c5282'}
  };
  var STYLE_ID = 'gm-basemap-style';
  var CSS = [
    '.gm-road-label, .gm-place-label { position: absolute; left: 0; top: 0; white-space: nowrap;',
    '  pointer-events: none; line-height: 1;',
    '  font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;',
    '  text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }',
    '.gm-road-label { color: #3d3a34; }',
    '.gm-road-label.gm-vertical { writing-mode: vertical-rl; text-orientation: upright;',
    '  letter-spacing: 1px; }',
    '.gm-search { position: relative; }',
    '.gm-search-results { position: absolute; left: 0; right: 0; top: 100%; z-index: 1100;',
    '  margin: 2px 0 0; padding: 0; list-style: none; background: #fff; border-radius: 4px;',
    '  box-shadow: 0 2px 8px rgba(0,0,0,.3); max-height: 60vh; overflow-y: auto; }',
    '.gm-search-results li { min-height: 44px; box-sizing: border-box; padding: 6px 10px;',
    '  border-bottom: 1px solid #eee; cursor: pointer; display: flex; flex-direction: column;',
    '  justify-content: center; }',
    '.gm-search-results li[aria-selected="true"], .gm-search-results li:hover {',
    '  background: #ebf4ff; }',
    '.gm-search-results .gm-hit-label { font-size: 14px; color: #1a202c; }',
    '.gm-search-results .gm-hit-sub { font-size: 12px; color: #4a5568; }',
    '.gm-search-results .gm-hit-kind { display: inline-block; font-size: 11px; color: #fff;',
    '  background: #4a5568; border-radius: 3px; padding: 0 4px; margin-right: 6px; }',
    '.gm-search-results .gm-hit-none { color: #718096; cursor: default; }'
  ].join('\n');

  function addStyle() {
    if (document.getElementById(STYLE_ID)) { return; }
    var style = document.createElement('style');
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  function pane(map, name, z, events) {
    var existing = map.getPane(name);
    if (existing) { return existing; }
    var p = map.createPane(name);
    p.style.zIndex = String(z);
    if (!events) { p.style.pointerEvents = 'none'; }
    return p;
  }

  function widthAt(kind, zoom) {
    var scale = Math.pow(1.35, Math.max(-4, Math.min(2, zoom - 16)));
    return Math.max(kind === 'main' ? 2.5 : 1.2, ROAD[kind].width * scale);
  }

  /** The box a view asks for: the view and a margin, snapped to a lattice of the zoom so
   *  that a small pan asks for the same URL (answered from the browser's cache). */
  function viewBox(map) {
    var b = map.getBounds().pad(0.25);
    var sw = datum.fromDisplay([b.getWest(), b.getSouth()]);
    var ne = datum.fromDisplay([b.getEast(), b.getNorth()]);
    var step = 360 / Math.pow(2, Math.round(map.getZoom())) * 2;
    function down(v) { return Math.floor(v / step) * step; }
    function up(v) { return Math.ceil(v / step) * step; }
    return [
      Math.max(down(sw[0]), -180), Math.max(down(sw[1]), -90),
      Math.min(up(ne[0]), 180), Math.min(up(ne[1]), 90)
    ].map(function (v) { return v.toFixed(6); }).join(',');
  }

  function fetchJSON(url, signal) {
    return fetch(url, {credentials: 'same-origin', signal: signal,
      headers: {Accept: 'application/geo+json, application/json'}})
      .then(function (response) {
        if (response.status === 401 && window.gridmapCommon) { window.gridmapCommon.toLogin(); }
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.description || response.statusText); }
          return body;
        });
      });
  }

  // Road names: at the middle of the longest nearly straight stretch of each line in view,
  // turned along it (upright), or stacked vertically on a steep road (as Chinese maps
  // write them); only where the stretch is longer than the name, and never over another.
  function straightRuns(points) {
    var best = null;
    var start = 0;
    function consider(end) {
      var a = points[start], b = points[end];
      var length = 0;
      for (var k = start; k < end; k++) { length += points[k].distanceTo(points[k + 1]); }
      if (!best || length > best.length) { best = {a: a, b: b, length: length, from: start, to: end}; }
    }
    for (var i = 1; i < points.length; i++) {
      var a = points[start], b = points[i];
      var c = points[i - 1];
      var dir0 = Math.atan2(c.y - a.y, c.x - a.x);
      var dir1 = Math.atan2(b.y - c.y, b.x - c.x);
      var turn = Math.abs(((dir1 - dir0 + 3 * Math.PI) % (2 * Math.PI)) - Math.PI);
      if (i - 1 > start && turn > 0.26) { consider(i - 1); start = i - 1; }
    }
    if (points.length > 1) { consider(points.length - 1); }
    return best;
  }

  function midpointOf(points, run) {
    var half = run.length / 2;
    for (var k = run.from; k < run.to; k++) {
      var step = points[k].distanceTo(points[k + 1]);
      if (half <= step) {
        var t = step ? half / step : 0;
        return L.point(points[k].x + (points[k + 1].x - points[k].x) * t,
          points[k].y + (points[k + 1].y - points[k].y) * t);
      }
      half -= step;
    }
    return points[run.to];
  }

  function overlaps(box, taken) {
    for (var i = 0; i < taken.length; i++) {
      var t = taken[i];
      if (box[0] < t[2] && box[2] > t[0] && box[1] < t[3] && box[3] > t[1]) { return true; }
    }
    return false;
  }

  function offline(map, config) {
    addStyle();
    pane(map, 'gm-base', 250, false);
    pane(map, 'gm-base-labels', 450, false);
    var renderer = L.canvas({pane: 'gm-base', padding: 0.3});
    var roads = L.layerGroup().addTo(map);
    var labels = L.layerGroup().addTo(map);
    var data = {streets: null, places: null};
    var inFlight = null;
    var timer = null;
    var generation = 0;
    var resolveReady;
    var ready = new Promise(function (resolve) { resolveReady = resolve; });
    map.attributionControl && map.attributionControl.addAttribution(TEXT.offline);

    function drawRoads() {
      roads.clearLayers();
      if (!data.streets) { return; }
      var zoom = map.getZoom();
      ['local', 'secondary', 'main'].forEach(function (kind) {
        var features = data.streets.features.filter(function (f) {
          return f.properties.kind === kind;
        });
        if (!features.length) { return; }
        var collection = {type: 'FeatureCollection', features: features};
        var width = widthAt(kind, zoom);
        [['casing', width + 2], ['fill', width]].forEach(function (pass) {
          roads.addLayer(L.geoJSON(collection, {
            coordsToLatLng: datum.coordsToLatLng,
            interactive: false,
            style: {
              renderer: renderer, color: ROAD[kind][pass[0]], weight: pass[1], opacity: 1,
              lineCap: 'round', lineJoin: 'round', className: 'gm-road gm-road-' + kind
            }
          }));
        });
      });
    }

    function label(html, className, latlng, style, angle, vertical) {
      var el = document.createElement('div');
      el.className = className + (vertical ? ' gm-vertical' : '');
      el.textContent = html;
      el.style.fontSize = style.font + 'px';
      el.style.fontWeight = String(style.weight);
      if (style.colour) { el.style.color = style.colour; }
      var icon = L.divIcon({html: el.outerHTML, className: 'gm-label-anchor', iconSize: null});
      var marker = L.marker(latlng, {icon: icon, pane: 'gm-base-labels', interactive: false,
        keyboard: false});
      labels.addLayer(marker);
      var node = marker.getElement().firstChild;
      var w = node.offsetWidth, h = node.offsetHeight;
      node.style.transform = 'translate(' + (-w / 2) + 'px,' + (-h / 2) + 'px)' +
        (angle ? ' rotate(' + angle + 'rad)' : '');
      node.style.transformOrigin = (w / 2) + 'px ' + (h / 2) + 'px';
      return marker;
    }

    // What is labelled first wins a contested spot: subdistricts and communities, then
    // main and secondary roads, then grids, then lanes.
    var PRIORITY = {subdistrict: 0, community: 1, main: 2, secondary: 3, grid: 4, local: 5};

    function roadCandidates(f, view) {
      var style = ROAD[f.properties.kind];
      var name = f.properties.name;
      var parts = f.geometry.type === 'LineString' ? [f.geometry.coordinates] :
        f.geometry.coordinates;
      var pieces = [];
      parts.forEach(function (part) { // each part clipped to the view, in stretches
        var points = part.map(function (c) {
          return map.latLngToLayerPoint(datum.coordsToLatLng(c));
        });
        var piece = [];
        for (var i = 1; i < points.length; i++) {
          // Not rounded: with a fractional view (a fractional zoom, a popup's autoPan) a
          // rounded crossing can stay outside it, and Leaflet's clipping loops forever.
          var clipped = L.LineUtil.clipSegment(points[i - 1], points[i], view, false, false);
          if (!clipped) { continue; }
          var last = piece[piece.length - 1];
          if (last && last.distanceTo(clipped[0]) < 0.5) {
            piece.push(clipped[1]);
          } else {
            if (piece.length) { pieces.push(piece); }
            piece = [clipped[0], clipped[1]];
          }
        }
        if (piece.length) { pieces.push(piece); }
      });
      var out = [];
      pieces.forEach(function (points) {
        if (points.length < 2) { return; }
        var run = straightRuns(points);
        var textLength = name.length * style.font + 8;
        if (!run || run.length < textLength) { return; }
        var angle = Math.atan2(run.b.y - run.a.y, run.b.x - run.a.x);
        if (angle > Math.PI / 2) { angle -= Math.PI; }
        if (angle < -Math.PI / 2) { angle += Math.PI; }
        var vertical = Math.abs(angle) > 1.0;
        var mid = midpointOf(points, run);
        var dx = vertical ? style.font / 2 : Math.abs(Math.cos(angle)) * textLength / 2 +
          Math.abs(Math.sin(angle)) * style.font / 2;
        var dy = vertical ? textLength / 2 : Math.abs(Math.sin(angle)) * textLength / 2 +
          Math.abs(Math.cos(angle)) * style.font / 2;
        out.push({
          priority: PRIORITY[f.properties.kind], length: -run.length, text: name,
          className: 'gm-road-label gm-road-label-' + f.properties.kind, style: style,
          at: mid, dx: dx, dy: dy, angle: vertical ? 0 : angle, vertical: vertical
        });
      });
      return out;
    }

    function drawLabels() {
      labels.clearLayers();
      var size = map.getSize();
      var view = L.bounds(map.containerPointToLayerPoint([0, 0]),
        map.containerPointToLayerPoint([size.x, size.y]));
      var candidates = [];
      (data.places ? data.places.features : []).forEach(function (f) {
        var style = PLACE[f.properties.level] || PLACE.community;
        var at = map.latLngToLayerPoint(datum.coordsToLatLng(f.geometry.coordinates));
        if (!view.contains(at)) { return; }
        candidates.push({
          priority: PRIORITY[f.properties.level], length: 0, text: f.properties.name,
          className: 'gm-place-label gm-place-' + f.properties.level, style: style, at: at,
          dx: f.properties.name.length * style.font / 2, dy: style.font / 2, angle: 0,
          vertical: false
        });
      });
      (data.streets ? data.streets.features : []).forEach(function (f) {
        candidates = candidates.concat(roadCandidates(f, view));
      });
      candidates.sort(function (a, b) { return a.priority - b.priority || a.length - b.length; });
      var taken = [];
      var pad = 4;
      var placed = 0;
      candidates.forEach(function (c) {
        var box = [c.at.x - c.dx - pad, c.at.y - c.dy - pad, c.at.x + c.dx + pad,
          c.at.y + c.dy + pad];
        var inside = box[0] >= view.min.x && box[1] >= view.min.y && box[2] <= view.max.x &&
          box[3] <= view.max.y;
        if (!inside || overlaps(box, taken)) { return; }
        taken.push(box);
        label(c.text, c.className, map.layerPointToLatLng(c.at), c.style, c.angle, c.vertical);
        placed += 1;
      });
      return placed;
    }

    function refresh() {
      generation += 1;
      var mine = generation;
      if (inFlight) { inFlight.abort(); }
      inFlight = new AbortController();
      var zoom = Math.round(map.getZoom());
      var query = '?bbox=' + viewBox(map) + '&zoom=' + Math.max(0, Math.min(22, zoom));
      return Promise.all([
        fetchJSON(config.streets_url + query, inFlight.signal),
        fetchJSON(config.places_url + query, inFlight.signal)
      ]).then(function (answers) {
        if (mine !== generation) { return; }
        inFlight = null;
        data.streets = answers[0];
        data.places = answers[1];
        drawRoads();
        var placed = drawLabels();
        document.documentElement.dataset.gmBasemap = 'drawn';
        resolveReady({streets: data.streets.features.length, labels: placed});
      }).catch(function (error) {
        if (error.name === 'AbortError' || mine !== generation) { return; }
        inFlight = null;
        console.warn('gridmap: base map: ' + error.message);
        resolveReady({streets: 0, labels: 0, error: error.message});
      });
    }

    map.on('moveend', function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 120);
    });
    map.whenReady(refresh);
    return {ready: ready, refresh: refresh, layers: [roads, labels]};
  }

  function tiles(map, config) {
    var layers = config.tiles.map(function (t) {
      return L.tileLayer(t.url, {subdomains: t.subdomains || 'abc', attribution: t.attribution,
        maxZoom: t.maxZoom}).addTo(map);
    });
    var ready = new Promise(function (resolve) {
      var first = layers[0];
      if (!first) { resolve({tiles: 0}); return; }
      first.once('load', function () { resolve({tiles: layers.length}); });
      first.once('tileerror', function () { resolve({tiles: layers.length, error: 'tile'}); });
    });
    return {ready: ready, refresh: function () { return ready; }, layers: layers};
  }

  function add(map, config) {
    if (!config) {
      var pending = {};
      pending.ready = fetchJSON('/api/v1/basemap').then(function (fetched) {
        var made = add(map, fetched);
        pending.refresh = made.refresh;
        pending.layers = made.layers;
        return made.ready;
      });
      pending.refresh = function () { return pending.ready; };
      return pending;
    }
    datum.display = config.display === 'gcj02' ? 'gcj02' : 'wgs84';
    return config.tiles && config.tiles.length ? tiles(map, config) : offline(map, config);
  }

  GM.basemap = {add: add};

  // ---- search ---------------------------------------------------------------------------

  function search(input, map, options) {
    options = options || {};
    addStyle();
    var box = document.createElement('div'); // anchors the list under the input
    box.className = 'gm-search';
    input.parentNode.insertBefore(box, input);
    box.appendChild(input);
    var list = document.createElement('ul');
    list.className = 'gm-search-results';
    list.setAttribute('role', 'listbox');
    list.hidden = true;
    input.insertAdjacentElement('afterend', list);
    input.setAttribute('autocomplete', 'off');
    input.setAttribute('role', 'combobox');
    var items = [];
    var selected = -1;
    var timer = null;
    var inFlight = null;
    var marker = null;

    function close() { list.hidden = true; selected = -1; }

    function row(content, className) {
      var li = document.createElement('li');
      if (className) { li.className = className; }
      li.setAttribute('role', 'option');
      content.forEach(function (c) {
        var span = document.createElement('span');
        span.className = c[0];
        span.textContent = c[1];
        li.appendChild(span);
      });
      list.appendChild(li);
      return li;
    }

    function show(found) {
      list.innerHTML = '';
      items = found;
      selected = -1;
      if (!found.length) {
        row([['gm-hit-label', TEXT.searchEmpty]], 'gm-hit-none');
      }
      found.forEach(function (item, i) {
        var li = row([['gm-hit-label', item.label]]);
        var kind = document.createElement('span');
        kind.className = 'gm-hit-kind';
        kind.textContent = item.kind_zh;
        li.firstChild.insertBefore(kind, li.firstChild.firstChild);
        if (item.sublabel) {
          var sub = document.createElement('span');
          sub.className = 'gm-hit-sub';
          sub.textContent = item.sublabel;
          li.appendChild(sub);
        }
        li.addEventListener('mousedown', function (e) { e.preventDefault(); pick(i); });
      });
      list.hidden = false;
    }

    function mark(i) {
      selected = i;
      Array.prototype.forEach.call(list.children, function (li, j) {
        li.setAttribute('aria-selected', j === i ? 'true' : 'false');
      });
    }

    function pick(i) {
      var item = items[i];
      if (!item) { return; }
      close();
      input.value = item.label;
      if (marker) { map.removeLayer(marker); }
      var at = datum.latLng([item.lon, item.lat]);
      if (item.bbox) {
        var sw = datum.latLng([item.bbox[0], item.bbox[1]]);
        var ne = datum.latLng([item.bbox[2], item.bbox[3]]);
        map.flyToBounds(L.latLngBounds(sw, ne), {maxZoom: 17, padding: [24, 24], duration: 0.6});
      } else {
        map.flyTo(at, Math.max(map.getZoom(), 17), {duration: 0.6});
      }
      marker = L.circleMarker(at, {radius: 9, color: '#c53030', weight: 3, fillOpacity: 0.2})
        .addTo(map);
      if (options.onSelect) { options.onSelect(item); }
    }

    function run() {
      var q = input.value.trim();
      if (inFlight) { inFlight.abort(); inFlight = null; }
      if (!q) { close(); return; }
      inFlight = new AbortController();
      fetchJSON('/api/v1/search?limit=' + (options.limit || 8) + '&q=' + encodeURIComponent(q),
        inFlight.signal)
        .then(function (body) { inFlight = null; show(body.items); })
        .catch(function (error) {
          if (error.name === 'AbortError') { return; }
          list.innerHTML = '';
          row([['gm-hit-label', TEXT.searchFailed + error.message]], 'gm-hit-none');
          list.hidden = false;
        });
    }

    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(run, 200);
    });
    input.addEventListener('keydown', function (e) {
      if (e.key === 'ArrowDown' && items.length) {
        e.preventDefault(); mark(Math.min(items.length - 1, selected + 1));
      } else if (e.key === 'ArrowUp' && items.length) {
        e.preventDefault(); mark(Math.max(0, selected - 1));
      } else if (e.key === 'Enter') {
        e.preventDefault();
        clearTimeout(timer);
        if (!list.hidden && items.length) { pick(selected < 0 ? 0 : selected); } else { run(); }
      } else if (e.key === 'Escape') {
        close();
      }
    });
    input.addEventListener('blur', function () { setTimeout(close, 150); });
    return {run: run, close: close, pick: pick};
  }

  GM.search = search;
}());
