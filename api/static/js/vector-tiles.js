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
 * they line up with the base map; options.layerSource(name): the TileJSON URL of tiles
 * holding only source-layer ``name`` (a collection's), read instead of the style's source
 * (which holds every layer) so that a view downloads only what it draws. The controller:
 *   styled           Promise of the style (and the sources of the layers offered)
 *   ready            Promise of the tile layer on the map. The style, the renderer's script
 *                    and the tiles are fetched only once a switched-on layer is about to
 *                    show (from the zoom before its minZoom), so a view that draws no tile
 *                    costs nothing
 *   overlay(name, {minZoom}) a Leaflet layer switching the style layers of source-layer
 *                    ``name`` on and off (for L.control.layers); all start off; drawn from
 *                    minZoom on only, even where the style starts lower
 *   query(latlng, px) the features of switched-on layers under a point (within px pixels
 *                    for points), top-most first: [{layer, id, props}]
 *   features(name)   the distinct features of source-layer ``name`` in the tiles loaded for
 *                    the view (by id): [{id, props, type, lonLat}] (lonLat of points, in
 *                    the tiles' datum): what the renderer holds, for tests and counts
 *   loaded(name)     [z, y, x] of the tiles of source-layer ``name`` the renderer holds
 *   minZoom(name)    the lowest map zoom at which source-layer ``name`` is drawn (the
 *                    overlay's minZoom until the style is known)
 *   refresh()        drop the tiles held in memory and ask the server again (after a change:
 *                    the server's tiles follow the database, and ETag revalidation brings
 *                    the new ones)
 *   layer            the protomaps-leaflet GridLayer
 * Only tiles of zooms that a switched-on layer draws are asked for; a failed tile is drawn
 * empty (with a console warning), the rest of the map goes on.
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

  var GEOMETRY_TYPES = ['Unknown', 'Point', 'LineString', 'Polygon'];

  function legacy(expr, f) {
    var props = f.props;
    var op = expr[0];
    var key = expr[1];
    var value = key === '$type' ? GEOMETRY_TYPES[f.geomType || 0] : props[key];
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

  var NO_FEATURE = {props: {}, geomType: 0};

  /** The value of a style expression for a feature ({props, geomType}: protomaps' feature)
   *  at a zoom (the style's zoom). */
  function evaluate(expr, z, f) {
    if (!Array.isArray(expr)) { return expr; }
    f = f || NO_FEATURE;
    if (isLegacy(expr)) { return legacy(expr, f); }
    var props = f.props;
    var op = expr[0];
    var i;
    switch (op) {
      case 'geometry-type': return GEOMETRY_TYPES[f.geomType || 0];
      case 'literal': return expr[1];
      case 'get': {
        var v = props[evaluate(expr[1], z, f)];
        return v === undefined ? null : v;
      }
      case 'has': return evaluate(expr[1], z, f) in props;
      case 'zoom': return z;
      case 'to-number': return Number(evaluate(expr[1], z, f)) || 0;
      case 'to-string': {
        var s = evaluate(expr[1], z, f);
        return s === null ? '' : String(s);
      }
      case 'to-boolean': return !!evaluate(expr[1], z, f);
      case 'concat':
        return expr.slice(1).map(function (e) { return evaluate(e, z, f); }).join('');
      case '!': return !evaluate(expr[1], z, f);
      case 'all':
        for (i = 1; i < expr.length; i++) { if (!evaluate(expr[i], z, f)) { return false; } }
        return true;
      case 'any':
        for (i = 1; i < expr.length; i++) { if (evaluate(expr[i], z, f)) { return true; } }
        return false;
      case 'in': {
        var needle = evaluate(expr[1], z, f);
        var haystack = evaluate(expr[2], z, f);
        return haystack !== null && haystack.indexOf(needle) >= 0;
      }
      case 'coalesce':
        for (i = 1; i < expr.length; i++) {
          var c = evaluate(expr[i], z, f);
          if (c !== null && c !== undefined) { return c; }
        }
        return null;
      case 'case':
        for (i = 1; i < expr.length - 1; i += 2) {
          if (evaluate(expr[i], z, f)) { return evaluate(expr[i + 1], z, f); }
        }
        return evaluate(expr[expr.length - 1], z, f);
      case 'match': {
        var input = evaluate(expr[1], z, f);
        for (i = 2; i < expr.length - 1; i += 2) {
          var labels = Array.isArray(expr[i]) ? expr[i] : [expr[i]];
          if (labels.indexOf(input) >= 0) { return evaluate(expr[i + 1], z, f); }
        }
        return evaluate(expr[expr.length - 1], z, f);
      }
      case 'step': {
        var x = evaluate(expr[1], z, f);
        var out = expr[2];
        for (i = 3; i < expr.length - 1; i += 2) {
          if (x >= expr[i]) { out = expr[i + 1]; } else { break; }
        }
        return evaluate(out, z, f);
      }
      case 'interpolate': {
        var at = evaluate(expr[2], z, f);
        var stops = expr.slice(3);
        if (at <= stops[0]) { return evaluate(stops[1], z, f); }
        for (i = 2; i < stops.length; i += 2) {
          if (at < stops[i]) {
            var lo = evaluate(stops[i - 1], z, f), hi = evaluate(stops[i + 1], z, f);
            // Colours are not interpolated (layers/ writes classes as steps): the lower stop.
            if (typeof lo !== 'number') { return lo; }
            return interpolate(expr[1], stops[i - 2], lo, stops[i], hi, at);
          }
        }
        return evaluate(stops[stops.length - 1], z, f);
      }
      default:
        if (COMPARE[op]) {
          return COMPARE[op](evaluate(expr[1], z, f), evaluate(expr[2], z, f));
        }
        throw new Error('gridmap: style expression "' + op + '" is not supported');
    }
  }

  /** True if the expression reads a feature's properties (so it is evaluated per feature). */
  function perFeature(expr) {
    if (!Array.isArray(expr)) { return false; }
    if (isLegacy(expr) || expr[0] === 'get' || expr[0] === 'has' ||
        expr[0] === 'geometry-type') { return true; }
    if (expr[0] === 'literal') { return false; }
    return expr.some(perFeature);
  }

  /** A protomaps attribute: the constant itself, (z) => value, or (z, feature) => value. */
  function attribute(expr, fallback, shift) {
    if (expr === undefined || expr === null) { return fallback; }
    if (!Array.isArray(expr)) { return expr; }
    if (perFeature(expr)) {
      return function (z, f) { return evaluate(expr, z - shift, f); };
    }
    return function (z) { return evaluate(expr, z - shift); };
  }

  // ---- style → paint rules ----------------------------------------------------------------

  function symbolizer(layer, shift) {
    var p = layer.paint || {};
    var P = protomapsL;
    function attr(name, fallback) { return attribute(p[name], fallback, shift); }
    if (layer.type === 'fill') {
      var outline = p['fill-outline-color'];
      return new P.PolygonSymbolizer({
        fill: attr('fill-color', '#000000'),
        opacity: attr('fill-opacity', 1),
        stroke: attr('fill-outline-color', '#000000'),
        width: outline === undefined ? 0 : 1
      });
    }
    if (layer.type === 'line') {
      var width = attr('line-width', 1);
      var dash = p['line-dasharray'];
      var w = typeof width === 'number' ? width : 1;
      return new P.LineSymbolizer({
        color: attr('line-color', '#000000'),
        width: width,
        opacity: attr('line-opacity', 1),
        // GL dashes are in line widths, canvas dashes in pixels
        dash: Array.isArray(dash) && dash[0] !== 'literal' ?
          dash.map(function (d) { return d * w; }) : undefined,
        dashColor: attr('line-color', '#000000'),
        dashWidth: width,
        lineCap: (layer.layout || {})['line-cap'] || 'butt',
        lineJoin: (layer.layout || {})['line-join'] || 'miter'
      });
    }
    if (layer.type === 'circle') {
      return new P.CircleSymbolizer({
        radius: attr('circle-radius', 5),
        fill: attr('circle-color', '#000000'),
        opacity: attr('circle-opacity', 1),
        stroke: attr('circle-stroke-color', '#000000'),
        width: attr('circle-stroke-width', 0)
      });
    }
    return null;  // symbol (names: the page's own), background, raster, ...
  }

  /** The style's drawable layers (fill, line, circle of a source-layer, not hidden) as
   *  rules without their symbolizers, bottom to top: {id, dataSource, dataLayer,
   *  styleLayer, minzoom, maxzoom, filter}. ``levelDiff``: how many zooms the Leaflet map is
   *  above the style's zooms (1: GL styles count zooms in 512-pixel tiles, Leaflet in
   *  256-pixel ones, so a layer of minzoom 13 shows from Leaflet's 14, drawn from tiles of
   *  zoom 13 as MapLibre or QGIS would). */
  function plan(style, levelDiff) {
    var shift = levelDiff || 0;
    var out = [];
    (style.layers || []).forEach(function (layer) {
      if (!layer['source-layer'] || (layer.layout || {}).visibility === 'none') { return; }
      if (['fill', 'line', 'circle'].indexOf(layer.type) < 0) { return; }  // names: the page's
      var filter = layer.filter;
      var rule = {id: layer.id, dataSource: layer.source, dataLayer: layer['source-layer'],
        styleLayer: layer};
      if (layer.minzoom !== undefined) { rule.minzoom = layer.minzoom + shift; }
      // GL hides a layer from its maxzoom on; protomaps draws up to and including its own.
      if (layer.maxzoom !== undefined) { rule.maxzoom = layer.maxzoom + shift - 0.5; }
      if (filter !== undefined) {
        rule.filter = function (z, feature) {
          return !!evaluate(filter, z - shift, feature);
        };
      }
      out.push(rule);
    });
    return out;
  }

  /** The style's drawable layers as protomaps-leaflet paint rules (plan() with each
   *  layer's symbolizer); needs the renderer's script. */
  function rules(style, levelDiff) {
    return plan(style, levelDiff).map(function (rule) {
      rule.symbolizer = symbolizer(rule.styleLayer, levelDiff || 0);
      return rule;
    });
  }

  // ---- the layer --------------------------------------------------------------------------

  /** An absolute URL, its template's {z}/{x}/{y} kept (URL() would escape the braces). */
  function absolute(url) {
    return new URL(url, window.location.href).href.replace(/%7B/g, '{').replace(/%7D/g, '}');
  }

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

  /** A TileJSON document: {url (the tile template, datum added), minzoom, maxzoom}. */
  function tileset(tilejson, datum) {
    return {
      url: withDatum(absolute(tilejson.tiles[0]), datum),
      minzoom: tilejson.minzoom !== undefined ? tilejson.minzoom : 0,
      maxzoom: tilejson.maxzoom !== undefined ? tilejson.maxzoom : 22
    };
  }

  /** The sources the rules draw from: {name: {url, minzoom, maxzoom}}. A rule of a layer
   *  that ``layerSource`` gives a tileset of its own (a collection's tiles: only that
   *  layer) reads it, as source ``layer:<name>``; the others read the style's source,
   *  from its ``tiles`` or its TileJSON ``url``. */
  function sources(style, drawn, datum, layerSource) {
    var wanted = {};
    drawn.forEach(function (rule) {
      var own = layerSource ? layerSource(rule.dataLayer) : null;
      if (own) {
        rule.dataSource = 'layer:' + rule.dataLayer;
        wanted[rule.dataSource] = own;
      } else {
        var source = style.sources[rule.dataSource];
        wanted[rule.dataSource] = source.tiles ? source : source.url;
      }
    });
    var names = Object.keys(wanted);
    return Promise.all(names.map(function (name) {
      var where = wanted[name];
      var described = typeof where === 'string' ? getJSON(absolute(where)) :
        Promise.resolve(where);
      return described.then(function (tilejson) { return [name, tileset(tilejson, datum)]; });
    })).then(function (pairs) {
      var out = {};
      pairs.forEach(function (pair) { out[pair[0]] = pair[1]; });
      return out;
    });
  }

  /** [lon, lat] of a point of a cached tile (tile coordinates 0..size) at data zoom z. */
  function lonLat(key, size, point) {
    var parts = key.split(':').map(Number);  // protomaps' toIndex: x:y:z
    var world = size * Math.pow(2, parts[2]);
    var x = (parts[0] * size + point.x) / world;
    var y = (parts[1] * size + point.y) / world;
    var lat = Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180 / Math.PI;
    return [x * 360 - 180, lat];
  }

  function featureId(feature) {
    return feature.props.id !== undefined ? feature.props.id : feature.id;
  }

  function add(map, options) {
    var levelDiff = options.levelDiff === undefined ? 1 : options.levelDiff;
    var allRules = [];
    var on = {};  // source-layer → switched on
    var switchable = {};  // source-layers the page offers as overlays
    var controller = {layer: null, rules: allRules, levelDiff: levelDiff, requested: 0};

    function active() {
      return allRules.filter(function (r) { return on[r.dataLayer]; });
    }

    /** True if a switched-on rule of ``source`` draws at the display zoom ``z``. */
    function drawsAt(source, z) {
      return active().some(function (r) {
        return (r.dataSource || '') === source && (r.minzoom || 0) <= z &&
          (r.maxzoom === undefined || z <= r.maxzoom);
      });
    }

    function applyRules() {
      if (!controller.layer) { return; }
      controller.layer.paintRules = active();
      // Tiles skipped while nothing of theirs was shown are asked for now.
      controller.refresh();
    }

    /** A Leaflet layer switching the style layers of source-layer ``name`` on and off;
     *  options.minZoom: drawn from this map zoom only, even where the style starts lower
     *  (and nothing is fetched for it below). */
    controller.overlay = function (name, overlayOptions) {
      var Overlay = L.Layer.extend({
        onAdd: function () { on[name] = true; applyRules(); fetchStyle(); start(); },
        onRemove: function () { on[name] = false; applyRules(); }
      });
      var overlay = new Overlay();
      overlay.sourceLayer = name;
      switchable[name] = (overlayOptions || {}).minZoom || 0;
      return overlay;
    };

    /** A source that asks the server only for tiles of its zooms that a switched-on layer
     *  draws (a district view need not download buildings it does not show), and takes a
     *  failed tile as empty (said once in the console) instead of breaking the map. */
    function guarded(name, view, range) {
      var inner = view.tileCache.source;
      view.tileCache.source = {
        get: function (c, size) {
          if (c.z < range.minzoom || c.z > range.maxzoom || !drawsAt(name, c.z + levelDiff)) {
            var skipped = new Map();
            skipped.skipped = true;  // not asked for (loaded() leaves it out)
            return Promise.resolve(skipped);
          }
          controller.requested += 1;
          return inner.get(c, size).catch(function (err) {
            if (err.name === 'AbortError') { throw err; }
            console.warn('gridmap: tile ' + c.z + '/' + c.y + '/' + c.x + ': ' + err.message);
            return new Map();
          });
        }
      };
    }

    // Nothing is asked for until a switched-on overlay is about to show (its minZoom, or
    // the next zoom): then the style, the TileJSON of its sources, the renderer, the tiles.
    // The style may be given as a promise (of its URL or document): a page waits for its base
    // map (which decides the datum) before any of it.
    var readyResolve, readyReject, styledResolve, styledReject;
    controller.ready = new Promise(function (resolve, reject) {
      readyResolve = resolve;
      readyReject = reject;
    });
    controller.styled = new Promise(function (resolve, reject) {
      styledResolve = resolve;
      styledReject = reject;
    });
    controller.styled.catch(readyReject);
    var styling = null;

    function soon() {
      var zoom = map.getZoom() + 1;
      return Object.keys(on).some(function (name) {
        return on[name] && switchable[name] <= zoom;
      });
    }

    function fetchStyle() {
      if (styling || !soon()) { return; }
      styling = Promise.resolve(options.style).then(function (s) {
        return typeof s === 'string' ? getJSON(s) : s;
      }).then(function (doc) {
        var datum = options.datum ? options.datum() : 'wgs84';
        // Only the layers the page offers are drawn (and their tiles asked for).
        var drawn = plan(doc, levelDiff).filter(function (r) {
          return switchable[r.dataLayer] !== undefined;
        });
        drawn.forEach(function (r) {
          r.minzoom = Math.max(r.minzoom || 0, switchable[r.dataLayer]);
        });
        return sources(doc, drawn, datum, options.layerSource).then(function (srcs) {
          drawn.forEach(function (r) { allRules.push(r); });
          controller.style = doc;
          controller.datum = datum;
          controller.sources = srcs;
          styledResolve(controller);
          start();
        });
      }).catch(styledReject);
    }
    map.on('zoomend', function () { fetchStyle(); start(); });

    var starting = null;
    /** Loads the renderer and puts the tile layer on the map, once a switched-on layer is
     *  drawn at the map's zoom or the next one in: a view that draws no tile (the district
     *  view) downloads neither the renderer nor any tile. */
    function start() {
      if (starting || !allRules.length) { return; }
      var zoom = map.getZoom() + 1;
      var wanted = active().some(function (r) {
        return (r.minzoom || 0) <= zoom && (r.maxzoom === undefined || map.getZoom() <= r.maxzoom);
      });
      if (!wanted) { return; }
      starting = (window.protomapsL ? Promise.resolve() : loadScript(options.library))
        .then(function () {
          allRules.forEach(function (r) { r.symbolizer = symbolizer(r.styleLayer, levelDiff); });
          if (options.pane && !map.getPane(options.pane)) {
            var pane = map.createPane(options.pane);
            pane.style.zIndex = String(options.zIndex || 350);
            pane.style.pointerEvents = 'none';
          }
          var srcs = controller.sources;
          var protomapsSources = {};
          Object.keys(srcs).forEach(function (name) {
            protomapsSources[name] = {url: srcs[name].url, maxDataZoom: srcs[name].maxzoom,
              levelDiff: levelDiff};
          });
          controller.layer = protomapsL.leafletLayer({
            sources: protomapsSources,
            paintRules: [],
            labelRules: [],
            attribution: '',
            pane: options.pane || 'tilePane'
          });
          controller.layer.views.forEach(function (view, name) {
            guarded(name, view, srcs[name]);
          });
          controller.layer.paintRules = active();
          controller.layer.addTo(map);
          readyResolve(controller);
        }).catch(readyReject);
    }

    controller.query = function (latlng, px) {
      if (!controller.layer) { return []; }
      var found = controller.layer.queryTileFeaturesDebug(latlng.lng, latlng.lat, px || 6);
      var hits = [];
      var seen = {};
      var z = map.getZoom();
      // top-most first: the last rule drawn is on top
      controller.layer.paintRules.slice().reverse().forEach(function (rule) {
        if ((rule.minzoom || 0) > z || (rule.maxzoom !== undefined && z > rule.maxzoom)) {
          return;
        }
        var picked = found.get(rule.dataSource || '') || [];
        picked.forEach(function (p) {
          if (p.layerName !== rule.dataLayer) { return; }
          if (rule.filter && !rule.filter(Math.round(z), p.feature)) { return; }
          var id = featureId(p.feature);
          var key = rule.dataLayer + ':' + (id !== undefined ? id : hits.length);
          if (seen[key]) { return; }
          seen[key] = true;
          hits.push({layer: rule.dataLayer, id: id, props: p.feature.props});
        });
      });
      return hits;
    };

    controller.features = function (name) {
      var out = {};
      if (!controller.layer) { return []; }
      controller.layer.views.forEach(function (view) {
        var size = view.tileCache.tileSize;
        view.tileCache.cache.forEach(function (entry, key) {
          (entry.data.get(name) || []).forEach(function (f) {
            var id = featureId(f);
            var item = {id: id, props: f.props, type: f.geomType};
            if (f.geomType === 1) { item.lonLat = lonLat(key, size, f.geom[0][0]); }
            out[id !== undefined ? id : JSON.stringify(f.props)] = item;
          });
        });
      });
      return Object.keys(out).map(function (k) { return out[k]; });
    };

    /** [z, y, x] of the tiles the server sent that hold source-layer ``name``'s data (or
     *  would: an empty tile is sent as 204) and the renderer keeps. */
    controller.loaded = function (name) {
      var out = [];
      if (!controller.layer) { return out; }
      controller.layer.views.forEach(function (view, source) {
        if (source !== 'layer:' + name && !allRules.some(function (r) {
          return r.dataLayer === name && r.dataSource === source;
        })) { return; }
        view.tileCache.cache.forEach(function (entry, key) {
          if (entry.data.skipped) { return; }
          var xyz = key.split(':').map(Number);
          out.push([xyz[2], xyz[1], xyz[0]]);
        });
      });
      return out;
    };

    controller.refresh = function () {
      if (!controller.layer) { return; }
      controller.layer.views.forEach(function (view) { view.tileCache.cache.clear(); });
      controller.layer.clearLayout();
      controller.layer.rerenderTiles();
    };

    /** The lowest map zoom at which a switched-on layer of ``name`` is drawn. */
    controller.minZoom = function (name) {
      var zooms = allRules.filter(function (r) { return r.dataLayer === name; })
        .map(function (r) { return r.minzoom || 0; });
      if (zooms.length) { return Math.min.apply(null, zooms); }
      return switchable[name] ? switchable[name] : null;
    };

    return controller;
  }

  GM.vectorTiles = {add: add, rules: rules, plan: plan, evaluate: evaluate};
}());
