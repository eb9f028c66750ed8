/*
 * gridmap district map (/): subdistricts, communities and grids with their names,
 * facilities, and from vector tiles the buildings (once zoomed in) and the cases.
 *
 * The page carries only its configuration (window.GRIDMAP_DISTRICT, from
 * layers/districtmap.py); the areas come in one light answer
 * (/api/v1/map/outlines: simplified, ~1 m coordinates) and the facilities in
 * another, asked for before the map is even built. They are drawn on one canvas (a
 * phone redraws hundreds of polygons far faster than as SVG; one canvas, because a
 * canvas takes every pointer event over the whole map and would hide the shapes of a
 * canvas below it): areas, then facilities.
 * The large layers (20,000+ buildings, every case the person may see) come as vector
 * tiles (each from its collection's tiles, GET /ogc/collections/{id}/tiles/WebMercatorQuad/
 * {z}/{y}/{x}, drawn by api/static/js/vector-tiles.js with the server's style
 * /ogc/styles/default) on canvas tiles in a pane under that canvas
 * that takes no pointer events: a click asks the tiles what is under it first (a building
 * or a case), then the areas' shapes. On a GCJ-02 base map the tiles are asked for in
 * GCJ-02 (datum=gcj02), so they line up with it as the other overlays do through GM.datum.
 * The grids stay in the outlines answer at every zoom, not tiles: with their names, hover
 * and popups they are the page's main subject, and the demo's 400 grids are 23 kB gzipped
 * in that one cached answer, where the grids' tiles of its opening view are 40 kB.
 * Residents' items (councils, micro-projects, 由民做主; issue 14) are an overlay off by
 * default, read from /api/v1/participation/items?format=geojson when first switched on.
 * GM.ready() marks the map usable once the areas and their names are drawn; the style, the
 * renderer's script and the tiles are asked for only after that, once the map is zoomed in
 * far enough for a tile layer to show (the cases from the zoom where the incident map
 * shows them too: a district's year of cases is too many dots to read), so the district
 * view costs what it did before the tiles.
 */
(function () {
  'use strict';
  var config = window.GRIDMAP_DISTRICT;
  var escapeHtml = gridmapCommon.escapeHtml;
  var getJSON = gridmapCommon.getJSON;
  var phone = window.matchMedia('(max-width: 700px)').matches;

  // Ask for the data first: the requests run while Leaflet builds the map.
  var outlines = getJSON(config.outlines);
  // Facilities are a layer of their own rule (a public map may open the areas and not
  // them): refused, the map goes on without them instead of asking to log in.
  var points = fetch(config.facilities, {credentials: 'same-origin'}).then(function (r) {
    return r.ok ? r.json() : {type: 'FeatureCollection', features: [], refused: r.status};
  });

  // The base map (api/static/js/basemap.js) decides the datum overlays are drawn in
  // (GM.datum): its configuration comes before any overlay is drawn.
  var base = GM.basemap && config.basemap ? getJSON(config.basemap).catch(function (err) {
    console.warn('gridmap: base map: ' + err.message);
    return null;
  }) : Promise.resolve(null);

  /** A WGS84 [lon, lat] from the API as a LatLng where the base map draws it. */
  function toLatLng(c) {
    return GM.datum ? GM.datum.coordsToLatLng(c) : L.latLng(c[1], c[0]);
  }

  var map = L.map('gm-map', {preferCanvas: true, zoomSnap: 0.25, zoomDelta: 0.5});
  L.control.scale({imperial: false}).addTo(map);
  if (config.bounds) {
    map.fitBounds(config.bounds, {padding: [10, 10], animate: false});
  } else {
    map.setView(config.centre, 12);
  }
  var state = {map: map, layers: {}, labels: {}, counts: {}};
  window.gridmapDistrict = state;  // for tests and the browser console

  var renderer = L.canvas({padding: 0.3});

  var notice = document.getElementById('gm-notice');
  function say(text) {
    notice.textContent = text || '';
    notice.style.display = text ? 'block' : 'none';
  }

  function table(fields, props) {
    return '<table class="gm-fields">' + fields.map(function (f) {
      var value = props[f[0]];
      var shown = value === null || value === undefined || value === '' ? config.noValue : value;
      return '<tr><th>' + escapeHtml(f[1]) + '</th><td>' + escapeHtml(shown) + '</td></tr>';
    }).join('') + '</table>';
  }

  // Field names of the outlines differ from the full records only for the parent.
  function withParent(props) {
    return L.extend({community_name: props.parent_name}, props);
  }

  // --- layers ----------------------------------------------------------------------------
  var overlays = {};
  var clickTaken = null;  // the last click an area's shape answered
  config.layers.forEach(function (def) {
    var layer = L.geoJSON(null, {
      renderer: renderer,
      coordsToLatLng: toLatLng,
      style: function () { return def.style; },
      interactive: def.tooltip.length > 0 || def.popup.length > 0,
      onEachFeature: function (feature, shape) {
        var props = withParent(feature.properties);
        if (def.tooltip.length) {
          shape.bindTooltip(function () { return table(def.tooltip, props); }, {sticky: true});
        }
        if (def.popup.length) {
          // A building or a case drawn (in the tiles) over the area wins the click.
          shape.on('click', function (e) {
            clickTaken = e.originalEvent;  // the map's own click handler leaves it alone
            shape.closeTooltip();
            if (!tilePopup(e.latlng)) {
              L.popup().setLatLng(e.latlng).setContent(table(def.popup, props)).openOn(map);
            }
          });
        }
      }
    });
    state.layers[def.key] = layer;
    overlays[def.title] = layer;
    if (def.show) { layer.addTo(map); }
  });

  // The vector tiles: one tile layer, its source layers switched on and off as overlays.
  var usable;
  var whenUsable = new Promise(function (resolve) { usable = resolve; });
  var tiles = GM.vectorTiles.add(map, {
    style: whenUsable.then(function () { return config.tiles.style; }),
    library: config.tiles.library,
    levelDiff: config.tiles.levelDiff,
    pane: 'gm-tiles',
    zIndex: 350,  // over the base map (250), under the areas' canvas (400)
    datum: function () { return GM.datum ? GM.datum.display : 'wgs84'; },
    layerSource: function (name) { return config.tiles.layerTileJSON.replace('{layer}', name); }
  });
  state.tiles = tiles;
  var buildings = tiles.overlay(config.buildings.sourceLayer,
    {minZoom: config.buildings.minZoom});
  state.layers.buildings = buildings;
  overlays[config.buildings.title] = buildings;
  if (config.buildings.show) { buildings.addTo(map); }

  var incidents = null;
  if (config.incidents) {
    incidents = tiles.overlay(config.incidents.sourceLayer, {minZoom: config.incidents.minZoom});
    state.layers.incidents = incidents;
    overlays[config.incidents.title] = incidents;
    if (config.incidents.show) { incidents.addTo(map); }
  }

  var facilities = L.layerGroup();
  state.layers.facilities = facilities;
  overlays[config.points.title] = facilities;
  if (config.points.show) { facilities.addTo(map); }

  // Residents' items (issue 14): councils' micro-projects, 由民做主 items and council
  // matters, off until switched on; then read once from the participation list as GeoJSON
  // (page by page, following its next links) and drawn as circles coloured by kind.
  var participation = null;
  var participationLoaded = null;
  if (config.participation) {
    participation = L.layerGroup();
    state.layers.participation = participation;
    overlays[config.participation.title] = participation;
  }

  L.control.layers(null, overlays, {collapsed: phone, position: 'topright'}).addTo(map);

  // --- names -----------------------------------------------------------------------------
  var labelled = config.layers.filter(function (def) { return def.label; });
  var labelGroups = {};
  labelled.forEach(function (def) {
    labelGroups[def.key] = L.layerGroup().addTo(map);
    state.labels[def.key] = labelGroups[def.key];
  });
  var labelData = {};  // key -> [{name, latlng, marker}]

  function placeLabels() {
    var zoom = map.getZoom();
    var view = map.getBounds().pad(0.1);
    labelled.forEach(function (def) {
      var group = labelGroups[def.key];
      var shown = map.hasLayer(state.layers[def.key]) &&
        zoom >= def.label.minZoom && zoom < def.label.maxZoom;
      (labelData[def.key] || []).forEach(function (item) {
        var want = shown && view.contains(item.latlng);
        if (want && !item.marker) {
          item.marker = L.marker(item.latlng, {
            interactive: false, keyboard: false,
            icon: L.divIcon({className: 'gm-label-anchor', iconSize: [0, 0],
              html: '<div class="gm-label gm-label-' + def.key + '">' +
                escapeHtml(item.name) + '</div>'})
          });
        }
        if (want && !group.hasLayer(item.marker)) { group.addLayer(item.marker); }
        if (!want && item.marker && group.hasLayer(item.marker)) {
          group.removeLayer(item.marker);
        }
      });
    });
    declutter();
  }

  // Hide labels that would overlap one already shown; larger areas' labels come first.
  var labelOrder = labelled.map(function (def) { return '.gm-label-' + def.key; }).join(', ');
  function declutter() {
    var placed = [];
    var all = Array.prototype.slice.call(document.querySelectorAll(labelOrder));
    var rank = {};
    labelled.forEach(function (def, i) { rank['gm-label-' + def.key] = i; });
    all.sort(function (a, b) { return rank[a.classList[1]] - rank[b.classList[1]]; });
    all.forEach(function (el) {
      el.style.visibility = 'visible';
      var r = el.getBoundingClientRect();
      if (r.width === 0) { return; }
      var hit = placed.some(function (p) {
        return r.left < p.right + 4 && r.right + 4 > p.left &&
               r.top < p.bottom + 2 && r.bottom + 2 > p.top;
      });
      if (hit) { el.style.visibility = 'hidden'; } else { placed.push(r); }
    });
  }

  map.on('zoomend moveend overlayadd overlayremove', placeLabels);

  // --- legend ----------------------------------------------------------------------------
  var legend = document.getElementById('gm-legend');
  legend.open = !phone;
  function drawLegend(present) {
    var types = config.facilityTypes.filter(function (t) { return present[t.code]; });
    var rows = types.map(function (t) {
      return '<div class="gm-legend-item"><i style="background:' + t.colour + '"></i>' +
        escapeHtml(t.name) + '</div>';
    }).join('');
    var ramp = config.buildings.legend.map(function (r) {
      return '<div class="gm-legend-item"><i class="gm-swatch" style="background:' + r[0] +
        '"></i>' + escapeHtml(r[1]) + '</div>';
    }).join('');
    document.getElementById('gm-legend-body').innerHTML =
      (rows ? '<div id="gm-legend-facilities"><b>' + escapeHtml(config.points.title) +
        '</b>' + rows + '</div>' : '') +
      '<div id="' + config.buildings.legendId + '"><b>' +
      escapeHtml(config.buildings.legendTitle) + '</b>' + ramp + '</div>';
    buildingsHint();
  }
  drawLegend({});

  // --- data ------------------------------------------------------------------------------
  var ownLabels = true;  // false when the base map draws the places' names itself
  base = base.then(function (basemap) {
    if (basemap) {
      state.basemap = GM.basemap.add(map, basemap);
      ownLabels = !basemap.labels;
    }
    return basemap;
  });
  var searchBox = document.getElementById('gm-search');
  if (GM.search && searchBox) { GM.search(searchBox, map); }

  Promise.all([base, outlines]).then(function (got) {
    var body = got[1];
    var drawn = 0;
    config.layers.forEach(function (def) {
      var collection = body[def.key] || {features: []};
      state.layers[def.key].addData(collection);
      state.counts[def.key] = collection.features.length;
      drawn += collection.features.length;
      if (def.label && ownLabels) {
        labelData[def.key] = collection.features.filter(function (f) {
          return f.properties.name && f.properties.label;
        }).map(function (f) {
          var p = f.properties;
          return {name: p.name, latlng: toLatLng(p.label), marker: null};
        });
      }
    });
    state.drawn = drawn;  // none: the page says so (the server saw an empty database)
    placeLabels();
    GM.ready();
    usable();
  }).catch(function (err) {
    say(config.messages.failed + err.message);
    GM.ready();
    usable();
  });

  var colours = {};
  config.facilityTypes.forEach(function (t) { colours[t.code] = t.colour; });
  Promise.all([base, points]).then(function (got) {
    var body = got[1];
    if (body.refused && body.refused !== 401 && body.refused !== 403) {
      say(config.messages.failed + 'HTTP ' + body.refused);
    }
    var present = {};
    body.features.forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      present[p.type] = true;
      var marker = L.circleMarker(toLatLng(c), L.extend({}, config.points.style, {
        renderer: renderer, radius: config.points.radius, bubblingMouseEvents: false,
        fillColor: colours[p.type] || config.points.style.fillColor
      }));
      marker.bindTooltip(escapeHtml(p.name));
      marker.bindPopup(function () { return escapeHtml(p.name) + '…'; });
      marker.on('popupopen', function (e) {
        marker.closeTooltip();
        getJSON(config.facility + encodeURIComponent(p.id)).then(function (full) {
          e.popup.setContent(table(config.points.popup, full.properties));
        }).catch(function (err) { e.popup.setContent(escapeHtml(err.message)); });
      });
      facilities.addLayer(marker);
    });
    state.counts.facilities = body.features.length;
    drawLegend(present);
  }).catch(function (err) {
    say(config.messages.failed + err.message);
  });

  // --- residents' items ------------------------------------------------------------------
  /** Every feature of a paged GeoJSON answer, following its rel=next links. */
  function readAll(url, found) {
    return getJSON(url).then(function (body) {
      var all = found.concat(body.features || []);
      var next = (body.links || []).filter(function (l) { return l.rel === 'next'; })[0];
      return next ? readAll(next.href, all) : all;
    });
  }

  function loadParticipation() {
    if (participationLoaded) { return participationLoaded; }
    var def = config.participation;
    var colour = {};
    def.kinds.forEach(function (k) { colour[k.code] = k.colour; });
    participationLoaded = base.then(function () {
      return readAll(def.url, []);
    }).then(function (features) {
      features.forEach(function (f) {
        var p = f.properties;
        var marker = L.circleMarker(toLatLng(f.geometry.coordinates), {
          renderer: renderer, radius: def.radius, bubblingMouseEvents: false,
          color: '#ffffff', weight: 1.5, fillOpacity: 0.9,
          fillColor: colour[p.kind] || '#868e96', className: 'gm-participation'
        });
        marker.feature = f;
        marker.bindTooltip(escapeHtml(p.title));
        marker.bindPopup(function () { return table(def.popup, p); });
        participation.addLayer(marker);
      });
      state.counts.participation = features.length;
      return features.length;
    }).catch(function (err) {
      participationLoaded = null;
      say(config.messages.failed + err.message);
    });
    return participationLoaded;
  }

  function participationLegend() {
    var part = document.getElementById('gm-legend-participation');
    if (part) { part.style.display = map.hasLayer(participation) ? '' : 'none'; }
  }

  if (participation) {
    var legendBody = document.getElementById('gm-legend');
    var part = document.createElement('div');
    part.id = 'gm-legend-participation';
    part.innerHTML = '<b>' + escapeHtml(config.participation.title) + '</b>' +
      config.participation.kinds.map(function (k) {
        return '<div class="gm-legend-item"><i style="background:' + k.colour + '"></i>' +
          escapeHtml(k.name) + '</div>';
      }).join('');
    legendBody.appendChild(part);
    map.on('overlayadd', function (e) {
      if (e.layer === participation) { loadParticipation(); }
    });
    map.on('overlayadd overlayremove', participationLegend);
    if (config.participation.show) {
      participation.addTo(map);
      loadParticipation();
    }
    participationLegend();
    state.loadParticipation = loadParticipation;  // for tests
  }

  // --- the vector tiles: hints, popups --------------------------------------------------
  tiles.styled.then(buildingsHint);  // the style says from which zoom buildings show
  tiles.ready.catch(function (err) { say(config.messages.failed + err.message); });

  // Below the buildings' zoom a hint asks to zoom in; their legend shows while they do.
  function buildingsHint() {
    var hint = document.getElementById(config.buildings.hintId);
    var shown = map.hasLayer(buildings);
    var legendPart = document.getElementById(config.buildings.legendId);
    if (legendPart) { legendPart.style.display = shown ? '' : 'none'; }
    var from = tiles.minZoom(config.buildings.sourceLayer);
    if (from === null) { from = config.buildings.minZoom; }
    var text = shown && map.getZoom() < from ?
      config.buildings.messages.zoomIn.replace('{zoom}', String(from)) : '';
    hint.textContent = text;
    hint.style.display = text ? 'block' : 'none';
  }
  map.on('zoomend overlayadd overlayremove', buildingsHint);
  map.whenReady(buildingsHint);

  var TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;
  /** A tile feature's properties as people read them: codes by name, times in Beijing time. */
  function named(def, props) {
    var out = {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      var names = def.names && def.names[key];
      if (names && names[value]) {
        value = names[value];
      } else if (typeof value === 'string' && TIME.test(value)) {
        value = new Date(value).toLocaleString('zh-CN', {timeZone: 'Asia/Shanghai', hour12: false});
      }
      out[key] = value;
    });
    return out;
  }

  var tileLayers = {};
  tileLayers[config.buildings.sourceLayer] = config.buildings;
  if (config.incidents) { tileLayers[config.incidents.sourceLayer] = config.incidents; }

  /** The URL of the full record of a feature picked in the tiles: def.item with {id}, or
   *  {bbox} (a list around the click, the feature picked from it by id). */
  function itemUrl(def, id, latlng) {
    var p = GM.datum ? GM.datum.fromLatLng(latlng) : [latlng.lng, latlng.lat];
    var d = config.tiles.itemBoxDegrees;
    var bbox = [p[0] - d, p[1] - d, p[0] + d, p[1] + d].map(function (v) {
      return v.toFixed(6);
    }).join(',');
    return def.item.replace('{id}', encodeURIComponent(id)).replace('{bbox}', bbox);
  }

  /** The popup of what the tiles draw under ``latlng`` (a case or a building, the top-most),
   *  if anything: the tile's own fields at once, completed from the API's record when the
   *  tile leaves some out (tiles carry what they draw; no text of a case is in a tile).
   *  True if a popup opened. */
  function tilePopup(latlng) {
    var hits = tiles.query(latlng, config.tiles.pickPixels).filter(function (h) {
      return tileLayers[h.layer];
    });
    if (!hits.length) { return false; }
    var def = tileLayers[hits[0].layer];
    var id = hits[0].id;
    var props = hits[0].props;
    var popup = L.popup().setLatLng(latlng).setContent(table(def.popup, named(def, props)))
      .openOn(map);
    var missing = def.popup.some(function (f) { return !(f[0] in props); });
    if (missing && id !== undefined && def.item) {
      getJSON(itemUrl(def, id, latlng)).then(function (body) {
        var full = body.features ? body.features.filter(function (f) {
          return String(f.id) === String(id);
        })[0] : body;
        if (!full) { return; }
        var record = L.extend({}, full.properties || full, props);
        popup.setContent(table(def.popup, named(def, record)));
      }).catch(function (err) { console.warn('gridmap: ' + err.message); });
    }
    return true;
  }
  map.on('click', function (e) {
    if (e.originalEvent !== clickTaken) { tilePopup(e.latlng); }
  });
}());
