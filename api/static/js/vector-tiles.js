/*
 * gridmap: vector tiles on the Leaflet maps, drawn with the style the server publishes.
 *
 * The server cuts Mapbox Vector Tiles (GET /ogc/tiles/WebMercatorQuad/{z}/{y}/{x}: one layer
 * per collection, incidents narrowed and masked for the caller) and publishes one style
 * document for them (GET /ogc/styles/{styleId}, a Mapbox GL / MapLibre style generated from
 * layers/). This file turns that document into the paint rules of protomaps-leaflet
 * (vendored: api/static/vendor/protomaps-leaflet/, window.protomapsL), which draws the tiles
 * on Leaflet canvas tiles: no WebGL, no workers, no eval, so the pages' CSP
 * (api/security.py) stays as it is. Colours have one source: layers/ → style JSON → here.
 *
 * GM.vectorTiles.rules(style): the style's fill, line and circle layers as paint rules
 * (minzoom, maxzoom, filter and the expressions layers/ writes: get, has, zoom, match,
 * step, interpolate, case, coalesce, comparisons, all/any/!, legacy filters); symbol
 * layers (names) are left to the page, which draws its own labels.
 *
 * GM.vectorTiles.add(map, options) → controller. options.style: the style's URL (or the
 * document itself, or a promise of either); options.library: the renderer's script URL,
 * loaded here when the page has not loaded it already; options.pane: the Leaflet pane of the tiles; options.datum: a function
 * answering the datum the base map draws in ('wgs84' or 'gcj02', GM.datum.display): on a
 * GCJ-02 base map the tiles are asked for with datum=gcj02, so the server shifts them and
 * they line up with the base map. The controller:
 *   ready            Promise of the style (resolves once the layer is on the map)
 *   overlay(name)    a Leaflet layer switching the style layers of source-layer ``name``
 *                    on and off (for L.control.layers); all start off
 *   query(latlng, px) the features of switched-on layers under a point (within px pixels
 *                    for points), top-most first: [{layer, props}]
 *   features(name)   the distinct features of source-layer ``name`` in the tiles loaded for
 *                    the view (by ``id``): what the renderer holds, for tests and counts
 *   refresh()        drop the tiles held in memory and ask the server again (after a change:
 *                    the server's tiles follow the database, and ETag revalidation brings
 *                    the new ones)
 *   layer            the protomaps-leaflet GridLayer
 */
/* global L, protomapsL */
(function () {
  'use strict';
  var GM = window.GM = window.GM || {};

  // ---- expressions ----------------------------------------------------------------------

  var COMPARE = {
    '==': function (a, b) { return a === b; },
    '!=': function (a, b) { return a !== b; },
    '<': function (a, b) { return a < b; },
    '<=': function (a, b) { return a <= b; },
    '>': function (a, b) { return a > b; },
    '>=': function (a, b) { return a >= b; }
  };
  var LEGACY = {'==': 1, '!=': 1, '<': 1, '<=': 1, '>': 1, '>=': 1, 'in': 1, '!in': 1,
    'has': 1, '!has': 1};

  /** A legacy filter (["==", "households", 3]) rather than an expression. */
  function isLegacy(expr) {
    return Array.isArray(expr) && LEGACY[expr[0]] && typeof expr[1] === 'string' &&
      !(expr[0] === 'in' && Array.isArray(expr[2]));
  }

  function legacy(expr, props) {
    var op = expr[0];
    var key = expr[1];
    var value = key === '$type' ? props.$type : props[key];
    if (op === 'has') { return key in props; }
    if (op === '!has') { return !(key in props); }
    if (op === 'in') { return expr.slice(2).indexOf(value) >= 0; }
    if (op === '!in') { return expr.slice(2).indexOf(value) < 0; }
    return COMPARE[op](value === undefined ? null : value, expr[2]);
  }

  function interpolate(kind, t0, v0, t1, v1, input) {
    if (t1 === t0) { return v0; }
    var progress = input - t0;
    var base = kind[0] === 'exponential' ? kind[1] : 1;
    var f = base === 1 ? progress / (t1 - t0) :
      (Math.pow(base, progress) - 1) / (Math.pow(base, t1 - t0) - 1);
    return v0 + (v1 - v0) * f;
  }

  /** The value of a style expression for a feature's properties at a zoom. */
  function evaluate(expr, z, props) {
    if (!Array.isArray(expr)) { return expr; }
    if (isLegacy(expr)) { return legacy(expr, props); }
    var op = expr[0];
    var i;
    switch (op) {
      case 'literal': return expr[1];
      case 'get': {
        var v = props[evaluate(expr[1], z, props)];
        return v === undefined ? null : v;
      }
      case 'has': return evaluate(expr[1], z, props) in props;
      case 'zoom': return z;
      case 'to-number': return Number(evaluate(expr[1], z, props)) || 0;
      case 'to-string': {
        var s = evaluate(expr[1], z, props);
        return s === null ? '' : String(s);
      }
      case 'to-boolean': return !!evaluate(expr[1], z, props);
      case 'concat':
        return expr.slice(1).map(function (e) { return evaluate(e, z, props); }).join('');
      case '!': return !evaluate(expr[1], z, props);
      case 'all':
        for (i = 1; i < expr.length; i++) { if (!evaluate(expr[i], z, props)) { return false; } }
        return true;
      case 'any':
        for (i = 1; i < expr.length; i++) { if (evaluate(expr[i], z, props)) { return true; } }
        return false;
      case 'in': {
        var needle = evaluate(expr[1], z, props);
        var haystack = evaluate(expr[2], z, props);
        return haystack !== null && haystack.indexOf(needle) >= 0;
      }
      case 'coalesce':
        for (i = 1; i < expr.length; i++) {
          var c = evaluate(expr[i], z, props);
          if (c !== null && c !== undefined) { return c; }
        }
        return null;
      case 'case':
        for (i = 1; i < expr.length - 1; i += 2) {
          if (evaluate(expr[i], z, props)) { return evaluate(expr[i + 1], z, props); }
        }
        return evaluate(expr[expr.length - 1], z, props);
      case 'match': {
        var input = evaluate(expr[1], z, props);
        for (i = 2; i < expr.length - 1; i += 2) {
          var labels = Array.isArray(expr[i]) ? expr[i] : [expr[i]];
          if (labels.indexOf(input) >= 0) { return evaluate(expr[i + 1], z, props); }
        }
        return evaluate(expr[expr.length - 1], z, props);
      }
      case 'step': {
        var x = evaluate(expr[1], z, props);
        var out = expr[2];
        for (i = 3; i < expr.length - 1; i += 2) {
          if (x >= expr[i]) { out = expr[i + 1]; } else { break; }
        }
        return evaluate(out, z, props);
      }
      case 'interpolate': {
        var at = evaluate(expr[2], z, props);
        var stops = expr.slice(3);
        if (at <= stops[0]) { return evaluate(stops[1], z, props); }
        for (i = 2; i < stops.length; i += 2) {
          if (at < stops[i]) {
            var lo = evaluate(stops[i - 1], z, props), hi = evaluate(stops[i + 1], z, props);
            // Colours are not interpolated (layers/ writes classes as steps): the lower stop.
            if (typeof lo !== 'number') { return lo; }
            return interpolate(expr[1], stops[i - 2], lo, stops[i], hi, at);
          }
        }
        return evaluate(stops[stops.length - 1], z, props);
      }
      default:
        if (COMPARE[op]) {
          return COMPARE[op](evaluate(expr[1], z, props), evaluate(expr[2], z, props));
        }
        throw new Error('gridmap: style expression "' + op + '" is not supported');
    }
  }

  /** True if the expression reads a feature's properties (so it is evaluated per feature). */
  function perFeature(expr) {
    if (!Array.isArray(expr)) { return false; }
    if (isLegacy(expr) || expr[0] === 'get' || expr[0] === 'has') { return true; }
    if (expr[0] === 'literal') { return false; }
    return expr.some(perFeature);
  }

  /** A protomaps attribute: the constant itself, (z) => value, or (z, feature) => value. */
  function attribute(expr, fallback) {
    if (expr === undefined || expr === null) { return fallback; }
    if (!Array.isArray(expr)) { return expr; }
    if (perFeature(expr)) {
      return function (z, f) { return evaluate(expr, z, f ? f.props : {}); };
    }
    return function (z) { return evaluate(expr, z, {}); };
  }

  // ---- style → paint rules ----------------------------------------------------------------

  function symbolizer(layer) {
    var p = layer.paint || {};
    var P = protomapsL;
    if (layer.type === 'fill') {
      var outline = p['fill-outline-color'];
      return new P.PolygonSymbolizer({
        fill: attribute(p['fill-color'], '#000000'),
        opacity: attribute(p['fill-opacity'], 1),
        stroke: attribute(outline, '#000000'),
        width: outline === undefined ? 0 : 1
      });
    }
    if (layer.type === 'line') {
      var width = attribute(p['line-width'], 1);
      var dash = p['line-dasharray'];
      var w = typeof width === 'number' ? width : 1;
      return new P.LineSymbolizer({
        color: attribute(p['line-color'], '#000000'),
        width: width,
        opacity: attribute(p['line-opacity'], 1),
        // GL dashes are in line widths, canvas dashes in pixels
        dash: Array.isArray(dash) && dash[0] !== 'literal' ?
          dash.map(function (d) { return d * w; }) : undefined,
        dashColor: attribute(p['line-color'], '#000000'),
        dashWidth: width,
        lineCap: (layer.layout || {})['line-cap'] || 'butt',
        lineJoin: (layer.layout || {})['line-join'] || 'miter'
      });
    }
    if (layer.type === 'circle') {
      return new P.CircleSymbolizer({
        radius: attribute(p['circle-radius'], 5),
        fill: attribute(p['circle-color'], '#000000'),
        opacity: attribute(p['circle-opacity'], 1),
        stroke: attribute(p['circle-stroke-color'], '#000000'),
        width: attribute(p['circle-stroke-width'], 0)
      });
    }
    return null;  // symbol (names: the page's own), background, raster, ...
  }

  /** The style's drawable layers as protomaps-leaflet paint rules, bottom to top; each
   *  rule keeps its style layer (rule.styleLayer) and starts switched on. */
  function rules(style) {
    var out = [];
    (style.layers || []).forEach(function (layer) {
      if (!layer['source-layer'] || (layer.layout || {}).visibility === 'none') { return; }
      var drawn = symbolizer(layer);
      if (!drawn) { return; }
      var filter = layer.filter;
      var rule = {
        id: layer.id,
        dataSource: layer.source,
        dataLayer: layer['source-layer'],
        symbolizer: drawn,
        styleLayer: layer,
        on: true
      };
      if (layer.minzoom !== undefined) { rule.minzoom = layer.minzoom; }
      // GL hides a layer from its maxzoom on; protomaps draws up to and including its own.
      if (layer.maxzoom !== undefined) { rule.maxzoom = layer.maxzoom - 0.5; }
      if (filter !== undefined) {
        rule.filter = function (z, feature) { return !!evaluate(filter, z, feature.props); };
      }
      out.push(rule);
    });
    return out;
  }

  // ---- the layer --------------------------------------------------------------------------

  function absolute(url) { return new URL(url, window.location.href).href; }

  function withDatum(url, datum) {
    if (!datum || datum === 'wgs84') { return url; }
    return url + (url.indexOf('?') < 0 ? '?' : '&') + 'datum=' + encodeURIComponent(datum);
  }

  /** Loads a script of this site once (the renderer, fetched only by pages that draw tiles
   *  and only once they are usable: it does not hold up their first drawing). */
  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      if (!url) { reject(new Error('gridmap: no vector-tile renderer')); return; }
      var script = document.createElement('script');
      script.src = url;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error(url + ': not loaded')); };
      document.head.appendChild(script);
    });
  }

  function getJSON(url) {
    return fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (response) {
        if (!response.ok) { throw new Error(url + ': HTTP ' + response.status); }
        return response.json();
      });
  }

  /** The style's vector sources as protomaps source options ({name: {url, maxDataZoom}}),
   *  reading a source's TileJSON when it gives a ``url`` instead of ``tiles``. */
  function sources(style, datum, levelDiff) {
    var names = Object.keys(style.sources || {}).filter(function (name) {
      return style.sources[name].type === 'vector';
    });
    return Promise.all(names.map(function (name) {
      var source = style.sources[name];
      var described = source.tiles ? Promise.resolve(source) : getJSON(absolute(source.url));
      return described.then(function (tilejson) {
        return [name, {
          url: withDatum(absolute(tilejson.tiles[0]), datum),
          maxDataZoom: tilejson.maxzoom !== undefined ? tilejson.maxzoom : 16,
          levelDiff: levelDiff
        }];
      });
    })).then(function (pairs) {
      var out = {};
      pairs.forEach(function (pair) { out[pair[0]] = pair[1]; });
      return out;
    });
  }

  function add(map, options) {
    var allRules = [];
    var on = {};  // source-layer → switched on
    var controller = {layer: null, rules: allRules};

    function applyRules() {
      if (!controller.layer) { return; }
      controller.layer.paintRules = allRules.filter(function (r) { return on[r.dataLayer]; });
      controller.layer.rerenderTiles();
    }

    controller.overlay = function (name) {
      var Overlay = L.Layer.extend({
        onAdd: function () { on[name] = true; applyRules(); },
        onRemove: function () { on[name] = false; applyRules(); }
      });
      var overlay = new Overlay();
      overlay.sourceLayer = name;
      return overlay;
    };

    // The style may be given as a promise (of its URL or document): the page waits for its
    // base map (which decides the datum) before asking for any tile.
    var style = Promise.resolve(options.style).then(function (s) {
      return typeof s === 'string' ? getJSON(s) : s;
    });
    var library = window.protomapsL ? Promise.resolve() : loadScript(options.library);
    controller.ready = Promise.all([style, library]).then(function (got) {
      var doc = got[0];
      var datum = options.datum ? options.datum() : 'wgs84';
      return sources(doc, datum, options.levelDiff === undefined ? 1 : options.levelDiff)
        .then(function (srcs) {
          rules(doc).forEach(function (r) { allRules.push(r); });
          controller.style = doc;
          controller.datum = datum;
          if (options.pane && !map.getPane(options.pane)) {
            var pane = map.createPane(options.pane);
            pane.style.zIndex = String(options.zIndex || 350);
            pane.style.pointerEvents = 'none';
          }
          controller.layer = protomapsL.leafletLayer({
            sources: srcs,
            paintRules: [],
            labelRules: [],
            attribution: '',
            pane: options.pane || 'tilePane',
            maxDataZoom: 16
          });
          controller.layer.addTo(map);
          applyRules();
          return controller;
        });
    });

    controller.query = function (latlng, px) {
      if (!controller.layer) { return []; }
      var found = controller.layer.queryTileFeaturesDebug(latlng.lng, latlng.lat, px || 6);
      var hits = [];
      var seen = {};
      // top-most first: the last rule drawn is on top
      controller.layer.paintRules.slice().reverse().forEach(function (rule) {
        var picked = found.get(rule.dataSource || '') || [];
        picked.forEach(function (p) {
          if (p.layerName !== rule.dataLayer) { return; }
          var key = rule.dataLayer + ':' + (p.feature.props.id !== undefined ?
            p.feature.props.id : hits.length);
          if (seen[key]) { return; }
          if (rule.filter && !rule.filter(map.getZoom(), p.feature)) { return; }
          seen[key] = true;
          hits.push({layer: rule.dataLayer, props: p.feature.props});
        });
      });
      return hits;
    };

    controller.features = function (name) {
      var out = {};
      if (!controller.layer) { return []; }
      controller.layer.views.forEach(function (view) {
        view.tileCache.cache.forEach(function (entry) {
          (entry.data.get(name) || []).forEach(function (f) {
            out[f.props.id !== undefined ? f.props.id : JSON.stringify(f.props)] = f.props;
          });
        });
      });
      return Object.keys(out).map(function (k) { return out[k]; });
    };

    controller.refresh = function () {
      if (!controller.layer) { return; }
      controller.layer.views.forEach(function (view) {
        view.tileCache.cache.clear();
      });
      controller.layer.clearLayout();
      controller.layer.rerenderTiles();
    };

    return controller;
  }

  GM.vectorTiles = {add: add, rules: rules, evaluate: evaluate};
}());
