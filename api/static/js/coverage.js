/*
 * gridmap coverage map (/coverage): who is inside the service radius of a facility type.
 *
 * Everything comes from the API and the style from layers/coverage.py
 * (window.GRIDMAP_COVERAGE). Changing the facility type or radius fetches
 * the new answers and restyles the map in place: the page never reloads.
 * Layers, bottom to top: grid choropleth of the household coverage rate,
 * hatched blind spots, service circles, buildings (uncovered ones from
 * uncoveredMinZoom, all from allBuildingsMinZoom), facilities, what-if.
 * A click on the map asks POST /api/v1/coverage/what-if what opening a
 * facility there would change; a facility's popup can ask what closing it would.
 * The panel ranks the worst-served communities (a click zooms to one) and takes
 * what is on screen away: GET /api/v1/coverage/export (GeoPackage, CSV) and
 * /api/v1/coverage/print (PNG, PDF) for the view's bbox. The grids come light
 * from /api/v1/map/outlines; GM.ready() once their choropleth is drawn.
 * Distance is a straight line (服务圈, the default) or a walk over the stored walking network
 * (步行距离, ?method=network in the address): every call then asks method=network, the
 * circles become each facility's walking service area, and a layer rings the buildings the
 * circle covers but no walk reaches (/api/v1/coverage/compare/buildings), with the
 * district's total beside the summary (/api/v1/coverage/compare). Where no network is
 * stored the API answers 404: the page says why and goes back to straight lines.
 * The buildings stay GeoJSON (/api/v1/coverage/buildings for the view), not the vector
 * tiles of coverage-<type>-buildings: those hold the figures at the catalogue's radius,
 * while this page draws coverage at whatever radius is picked (and what-ifs on top); the
 * view's answer is bounded (uncovered ones only below allBuildingsMinZoom, a limit, and
 * a hint saying how many were left out).
 */
(function () {
  'use strict';
  var escapeHtml = gridmapCommon.escapeHtml;
  var getJSON = gridmapCommon.getJSON;
  var config = window.GRIDMAP_COVERAGE;
  var style = config.style;
  var labels = style.labels;
  var api = config.api;
  var limit = config.maxPageSize;

  var typeSelect = document.getElementById('gm-type');
  var radiusSelect = document.getElementById('gm-radius');
  var summary = document.getElementById('gm-summary');
  var legend = document.getElementById('gm-legend');
  var hint = document.getElementById('gm-hint');
  var whatIfBody = document.getElementById('gm-whatif-body');
  var whatIfOn = document.getElementById('gm-whatif-on');
  var worstBody = document.querySelector('#gm-worst tbody');
  var exportStatus = document.getElementById('gm-export-status');
  var printTitle = document.getElementById('gm-print-title');
  var methodInputs = document.querySelectorAll('#gm-method input[name="gm-method"]');
  var methodNote = document.getElementById('gm-method-note');
  var compareLine = document.getElementById('gm-compare');
  var worstTitle = document.getElementById('gm-worst-title');
  var worstTitleText = worstTitle.textContent;

  var types = {};          // code -> facility-type properties
  var rates = {};          // grid code -> stats row
  var generation = 0;      // answers of an older selection are dropped
  var buildingsRequest = null;
  var method = 'circle';   // 'network': distances are walks over the stored network

  // The base map (basemap.js, when served) decides the datum overlays are drawn in:
  // API answers are WGS84 and go through toLatLng; the view's corners and a click
  // come back through toLonLat.
  function toLatLng(c) {
    return GM.datum ? GM.datum.coordsToLatLng(c) : L.latLng(c[1], c[0]);
  }
  function toLonLat(latlng) {
    return GM.datum ? GM.datum.fromLatLng(latlng) : [latlng.lng, latlng.lat];
  }
  function boxOf(b) {
    var sw = toLonLat(b.getSouthWest());
    var ne = toLonLat(b.getNorthEast());
    return [Math.max(sw[0], -180), Math.max(sw[1], -90), Math.min(ne[0], 180),
      Math.min(ne[1], 90)].map(function (v) { return v.toFixed(6); }).join(',');
  }

  var map = L.map('gm-map', {zoomSnap: 0.25, zoomDelta: 0.5, preferCanvas: false});
  map.getContainer().appendChild(hint);  // the hint floats over the map, not the panel
  L.control.scale({imperial: false}).addTo(map);
  [['gm-grids', 400], ['gm-blind', 405], ['gm-circles', 410], ['gm-buildings', 430],
   ['gm-overstated', 440], ['gm-facilities', 450], ['gm-whatif', 460]].forEach(function (p) {
    map.createPane(p[0]).style.zIndex = p[1];
  });
  var buildingRenderer = L.canvas({pane: 'gm-buildings', padding: 0.2});
  var overstatedRenderer = L.canvas({pane: 'gm-overstated', padding: 0.2});
  window.gridmapCoverage = {map: map};  // for tests and the browser console
  var gridFeatures = [];   // the light grid outlines, for zooming to a community

  var gridLayer = L.geoJSON(null, {pane: 'gm-grids', style: gridStyle, onEachFeature: gridTooltip,
    coordsToLatLng: toLatLng});
  var blindLayer = L.geoJSON(null, {pane: 'gm-blind', coordsToLatLng: toLatLng, style: function () { return style.blindSpot; },
    onEachFeature: blindTooltip});
  var circleLayer = L.geoJSON(null, {pane: 'gm-circles', interactive: false,
    coordsToLatLng: toLatLng,
    style: function () { return style.circle; }});
  var buildingLayer = L.layerGroup();
  var overstatedLayer = L.layerGroup();  // walking only: inside the circle, beyond the walk
  var facilityLayer = L.layerGroup();
  var whatIfLayer = L.layerGroup();
  [gridLayer, blindLayer, circleLayer, buildingLayer, facilityLayer, whatIfLayer].forEach(
    function (layer) { layer.addTo(map); });
  window.gridmapCoverage.overstated = overstatedLayer;
  var layerOrder = [gridLayer, blindLayer, circleLayer, buildingLayer, overstatedLayer,
    facilityLayer, whatIfLayer];
  var layersControl = L.control.layers(null, (function () {
    var overlays = {};
    overlays[labels.rate_legend] = gridLayer;
    overlays[labels.blind_spots] = blindLayer;
    overlays[labels.circles] = circleLayer;
    overlays[labels.uncovered + ' / ' + labels.covered] = buildingLayer;
    overlays[labels.facilities] = facilityLayer;
    overlays[labels.what_if] = whatIfLayer;
    return overlays;
  })(), {collapsed: true, position: 'topright', sortLayers: true, sortFunction: function (a, b) {
    return layerOrder.indexOf(a) - layerOrder.indexOf(b);  // the panes' order, bottom first
  }}).addTo(map);
  addHatchPattern();

  // --- helpers ---------------------------------------------------------------------------

  function percent(rate) {
    return rate === null || rate === undefined ? '—' : (rate * 100).toFixed(1) + '%';
  }

  function number(value) {
    return value === null || value === undefined ? '—' : Number(value).toLocaleString('zh-CN');
  }

  function metres(value) {
    return value === null || value === undefined ? '—' : number(Math.round(value));
  }

  function signed(value) {
    return (value > 0 ? '+' : value < 0 ? '−' : '') + number(Math.abs(value));
  }


  function walking() { return method === 'network'; }

  function query(extra) {
    var params = new URLSearchParams({facility_type: typeSelect.value});
    if (radiusSelect.value) { params.set('radius_m', radiusSelect.value); }
    if (walking()) { params.set('method', 'network'); }
    Object.keys(extra || {}).forEach(function (k) { params.set(k, extra[k]); });
    return params.toString();
  }

  function rateColour(rate) {
    if (rate === null || rate === undefined) { return style.ramp.noData; }
    var colour = style.ramp.classes[0][1];
    style.ramp.classes.forEach(function (c) { if (rate >= c[0]) { colour = c[1]; } });
    return colour;
  }

  function currentRadius() {
    if (radiusSelect.value) { return Number(radiusSelect.value); }
    var t = types[typeSelect.value];
    return t ? t.radius_m : null;
  }

  function selectionLabel() {
    var t = types[typeSelect.value];
    return (t ? t.name_zh : typeSelect.value) + ' · ' +
      (walking() ? labels.walk_distance : labels.radius) + currentRadius() + labels.metres;
  }

  function addHatchPattern() {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', '0');
    svg.setAttribute('height', '0');
    svg.style.position = 'absolute';
    var defs = document.createElementNS(ns, 'defs');
    var pattern = document.createElementNS(ns, 'pattern');
    var s = String(style.hatch.spacing);
    pattern.setAttribute('id', style.hatch.id);
    pattern.setAttribute('patternUnits', 'userSpaceOnUse');
    pattern.setAttribute('width', s);
    pattern.setAttribute('height', s);
    pattern.setAttribute('patternTransform', 'rotate(45)');
    var line = document.createElementNS(ns, 'line');
    line.setAttribute('x1', '0');
    line.setAttribute('y1', '0');
    line.setAttribute('x2', '0');
    line.setAttribute('y2', s);
    line.setAttribute('stroke', style.hatch.colour);
    line.setAttribute('stroke-width', '2');
    pattern.appendChild(line);
    defs.appendChild(pattern);
    svg.appendChild(defs);
    document.body.insertBefore(svg, document.body.firstChild);
  }

  // --- grids and legend ------------------------------------------------------------------
  function gridStyle(feature) {
    var row = rates[feature.properties.code];
    return L.extend({}, style.grid, {fillColor: rateColour(row ? row.coverage_rate : null)});
  }

  function gridTooltip(feature, layer) {
    layer.bindTooltip(function () {
      var p = feature.properties;
      var row = rates[p.code] || {};
      return '<b>' + escapeHtml(p.name) + '</b> ' + escapeHtml(p.code) + '<br>' +
        '覆盖率 ' + percent(row.coverage_rate) + '（' + number(row.households_covered) + ' / ' +
        number(row.households) + ' ' + labels.households + '）<br>' +
        '最近设施平均 ' + metres(row.mean_distance_m) + ' ' + labels.metres;
    }, {sticky: true});
  }

  function blindTooltip(feature, layer) {
    var p = feature.properties;
    layer.bindTooltip('<b>' + labels.blind_spots + '</b> ' + escapeHtml(p.community_name) +
      '<br>' + number(p.households) + ' ' + labels.households + '，' +
      number(p.buildings_uncovered) + ' 栋', {sticky: true});
  }

  function drawLegend(total) {
    var rows = style.ramp.legend.map(function (r) {
      return '<div class="gm-row"><i style="background:' + r.colour + '"></i>' +
        escapeHtml(r.label) + '</div>';
    }).join('');
    var dot = function (s, text) {
      return '<div class="gm-row"><i class="gm-dot" style="background:' + s.fillColor +
        '"></i>' + escapeHtml(text) + '</div>';
    };
    legend.innerHTML =
      '<b id="gm-legend-title">' + escapeHtml(selectionLabel()) + '</b>' +
      '<b>' + escapeHtml(labels.rate_legend) + '</b>' + rows +
      '<div id="gm-legend-total">全区 ' + percent(total ? total.coverage_rate : null) + '</div>' +
      '<b>楼栋</b>' + dot(style.buildingCovered, labels.covered) +
      dot(style.buildingUncovered, labels.uncovered) +
      (walking() ? '<div class="gm-row"><i class="gm-hollow" style="border-color:' +
        style.overstated.color + '"></i>' + escapeHtml(labels.overstated_legend) + '</div>' : '') +
      '<div class="gm-row"><i class="gm-ring" style="border-color:' + style.circle.color +
      '"></i>' + escapeHtml(walking() ? labels.walk_areas : labels.circles) + '</div>' +
      '<div class="gm-row"><svg width="14" height="10" style="margin-right:6px;' +
      'vertical-align:middle"><rect width="14" height="10" fill="url(#' + style.hatch.id +
      ')" stroke="' + style.blindSpot.color + '"></rect></svg>' +
      escapeHtml(labels.blind_spots) + '</div>' + dot(style.facility, labels.facilities);
  }

  // --- per selection ---------------------------------------------------------------------
  function refresh() {
    generation += 1;
    var mine = generation;
    var q = query();
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, '', '?' + q);
    }
    document.body.classList.add('gm-busy');
    whatIfLayer.clearLayers();
    whatIfBody.textContent = labels.what_if_hint;
    worstTitle.textContent = worstTitleText + (walking() ? '（' + labels.walk_distance + '）' : '');
    var stats = getJSON(api + '/coverage?' + query({by: 'grid'})).then(function (body) {
      if (mine !== generation) { return; }
      rates = {};
      body.rows.forEach(function (row) { rates[row.code] = row; });
      gridLayer.setStyle(gridStyle);
      drawLegend(body.total);
      var t = body.total;
      summary.textContent = body.total.name + '：' + number(t.households_covered) + ' / ' +
        number(t.households) + (walking() ? ' 户步行' + currentRadius() + labels.metres + '可达'
          : ' 户在服务半径内') + '，覆盖率 ' + percent(t.coverage_rate) +
        '，未覆盖 ' + number(t.households_uncovered) + ' 户';
    });
    var circles = getJSON(api + '/coverage/circles?' + q).then(function (body) {
      if (mine !== generation) { return; }
      circleLayer.clearLayers();
      circleLayer.addData(body);
    });
    var blind = getJSON(api + '/coverage/blind-spots?' + q).then(function (body) {
      if (mine !== generation) { return; }
      blindLayer.clearLayers();
      blindLayer.addData(body);
    });
    // After the statistics: the model is built by then and the ranking takes milliseconds
    // (asked at once, it would be one more heavy request waiting for a slot).
    var ranked = stats.then(function () {
      return getJSON(api + '/coverage/worst?' + query({by: 'community', n: '10'}));
    }).then(function (body) {
      if (mine !== generation || !body) { return; }
      drawWorst(body.rows);
    });
    // Walking: what the circle promises beyond a walk, once the walking model is built.
    var compared = !walking() ? null : stats.then(function () {
      return Promise.all([
        getJSON(api + '/coverage/compare?' + query({by: 'community'})),
        gridmapCommon.allPages(api + '/coverage/compare/buildings?' +
          query({limit: String(limit)}))
      ]);
    }).then(function (answers) {
      if (mine !== generation || !answers) { return; }
      drawCompare(answers[0].total);
      drawOverstated(answers[1]);
    });
    compareLine.hidden = !walking();
    if (!walking()) { compareLine.textContent = ''; }
    var params = new URLSearchParams({type: typeSelect.value, limit: String(limit)});
    var fac = getJSON(api + '/facilities?' + params.toString()).then(function (body) {
      if (mine !== generation) { return; }
      drawFacilities(body);
    });
    refreshBuildings();
    stats.then(function () { GM.ready(); }, function () {});  // a failure is reported below
    Promise.all([stats, circles, blind, fac, ranked, compared]).then(function () {
      if (mine === generation) {
        document.body.classList.remove('gm-busy');
        document.body.dataset.coverage = q;
      }
    }).catch(function (err) {
      if (mine !== generation) { return; }
      if (noNetwork(err)) { return; }
      summary.textContent = '加载失败：' + err.message;
      document.body.classList.remove('gm-busy');
      GM.ready();  // usable, saying what failed
    });
  }

  function drawCompare(t) {
    compareLine.textContent = '直线服务圈高估 ' + number(t.households_overstated) +
      ' 户（步行可达 ' + number(t.households_walk) + ' 户，直线 ' +
      number(t.households_circle) + ' 户）';
  }

  function drawOverstated(features) {
    overstatedLayer.clearLayers();
    var s = style.overstated;
    features.forEach(function (f) {
      var p = f.properties;
      L.circleMarker(toLatLng(f.geometry.coordinates), L.extend({}, s, {
        renderer: overstatedRenderer, radius: s.radius, bubblingMouseEvents: false
      })).bindPopup(
        '<table class="gm-popup"><tr><th colspan="2">' + escapeHtml(labels.overstated) +
        '</th></tr><tr><th>户数</th><td>' + number(p.households) +
        '</td></tr><tr><th>网格</th><td>' + escapeHtml(p.grid_code) +
        '</td></tr><tr><th>直线距离</th><td>' + metres(p.circle_m) + ' ' + labels.metres +
        '</td></tr><tr><th>步行距离</th><td>' +
        (p.walk_m === null ? '步行不可达' : metres(p.walk_m) + ' ' + labels.metres) +
        '</td></tr></table>'
      ).addTo(overstatedLayer);
    });
  }

  // --- straight line or walk -------------------------------------------------------------
  function setMethod(value) {
    method = value === 'network' ? 'network' : 'circle';
    methodInputs.forEach(function (input) { input.checked = input.value === method; });
    layersControl.removeLayer(circleLayer);
    layersControl.addOverlay(circleLayer, walking() ? labels.walk_areas : labels.circles);
    if (walking()) {
      layersControl.addOverlay(overstatedLayer, labels.overstated);
      overstatedLayer.addTo(map);
    } else {
      layersControl.removeLayer(overstatedLayer);
      overstatedLayer.clearLayers();
      map.removeLayer(overstatedLayer);
    }
  }

  // A 404 to a walking question: no walking network is stored. The API's description says
  // how to import one; the page shows it and goes on with straight lines.
  function noNetwork(err) {
    if (!walking() || err.status !== 404) { return false; }
    methodNote.textContent = err.message + '（' + labels.method_fallback + '）';
    methodNote.hidden = false;
    setMethod('circle');
    refresh();
    return true;
  }

  methodInputs.forEach(function (input) {
    input.addEventListener('change', function () {
      if (!input.checked || input.value === method) { return; }
      methodNote.hidden = true;
      setMethod(input.value);
      refresh();
    });
  });

  function drawFacilities(collection) {
    facilityLayer.clearLayers();
    collection.features.forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      var marker = L.circleMarker(toLatLng(c), L.extend({}, style.facility, {
        pane: 'gm-facilities', radius: style.facility.radius, bubblingMouseEvents: false
      }));
      marker.bindTooltip(escapeHtml(p.name));
      marker.bindPopup(function () {
        var rows = [['名称', p.name], ['类型', p.type_name_zh], ['容量', p.capacity],
          ['地址', p.address], [walking() ? labels.method_walk : '服务半径',
            currentRadius() + labels.metres]];
        return '<table class="gm-popup">' + rows.map(function (r) {
          var v = r[1] === null || r[1] === undefined || r[1] === '' ? '—' : r[1];
          return '<tr><th>' + r[0] + '</th><td>' + escapeHtml(v) + '</td></tr>';
        }).join('') + '</table><button type="button" class="gm-close" data-id="' + p.id + '">' +
          escapeHtml(labels.what_if_close) + '</button>';
      });
      marker.on('popupopen', function (e) {
        var button = e.popup.getElement().querySelector('.gm-close');
        if (button) {
          button.addEventListener('click', function () {
            askWhatIf({close: [p.id]}, '关闭「' + p.name + '」');
          });
        }
      });
      marker.addTo(facilityLayer);
    });
  }

  function refreshBuildings() {
    if (buildingsRequest) { buildingsRequest.abort(); buildingsRequest = null; }
    var zoom = map.getZoom();
    var all = zoom >= style.allBuildingsMinZoom;
    if (zoom < style.uncoveredMinZoom) {
      buildingLayer.clearLayers();
      hint.textContent = labels.zoom_for_buildings;
      hint.style.display = 'block';
      return;
    }
    var extra = {bbox: boxOf(map.getBounds()), limit: String(limit)};
    if (!all) { extra.covered = 'false'; }
    var controller = new AbortController();
    buildingsRequest = controller;
    var mine = generation;
    getJSON(api + '/coverage/buildings?' + query(extra), {signal: controller.signal})
      .then(function (body) {
        if (mine !== generation || buildingsRequest !== controller) { return; }
        buildingsRequest = null;
        buildingLayer.clearLayers();
        body.features.forEach(function (f) {
          var p = f.properties;
          var s = p.covered ? style.buildingCovered : style.buildingUncovered;
          var c = f.geometry.coordinates;
          L.circleMarker(toLatLng(c), L.extend({}, s, {
            renderer: buildingRenderer, radius: s.radius, bubblingMouseEvents: false
          })).bindPopup(
            '<table class="gm-popup"><tr><th>户数</th><td>' + number(p.households) +
            '</td></tr><tr><th>网格</th><td>' + escapeHtml(p.grid_code) +
            '</td></tr><tr><th>最近设施' + (walking() ? '（' + labels.walk_distance + '）' : '') +
            '</th><td>' + metres(p.nearest_m) + ' ' + labels.metres +
            '</td></tr><tr><th>半径内设施</th><td>' + p.facilities_within + '</td></tr></table>'
          ).addTo(buildingLayer);
        });
        var shown = all ? '' : labels.uncovered + ' ';
        var text = body.numberMatched > body.numberReturned
          ? '显示' + shown + body.numberReturned + ' / ' + body.numberMatched + ' 栋，放大查看全部'
          : (all ? '' : '放大至' + style.allBuildingsMinZoom + '级显示全部楼栋');
        hint.textContent = text;
        hint.style.display = text ? 'block' : 'none';
      })
      .catch(function (err) {
        if (err.name === 'AbortError' || mine !== generation || noNetwork(err)) { return; }
        hint.textContent = '楼栋加载失败：' + err.message;
      });
  }

  // --- the worst communities -------------------------------------------------------------
  function communityBounds(code) {
    var bounds = null;
    gridFeatures.forEach(function (f) {
      if (f.properties.parent_code !== code) { return; }
      var b = L.geoJSON(f, {coordsToLatLng: toLatLng}).getBounds();
      bounds = bounds ? bounds.extend(b) : b;
    });
    return bounds;
  }

  function drawWorst(rows) {
    worstBody.innerHTML = rows.map(function (r) {
      return '<tr data-code="' + escapeHtml(r.code) + '"><td class="num">' + r.rank + '</td>' +
        '<td>' + escapeHtml(r.name) + '</td><td class="num"><i style="background:' +
        rateColour(r.coverage_rate) + '"></i>' + percent(r.coverage_rate) + '</td>' +
        '<td class="num">' + number(r.households_uncovered) + '</td></tr>';
    }).join('') || '<tr><td colspan="4">—</td></tr>';
  }

  worstBody.addEventListener('click', function (e) {
    var row = e.target.closest('tr[data-code]');
    if (!row) { return; }
    worstBody.querySelectorAll('tr.gm-selected').forEach(function (r) {
      r.classList.remove('gm-selected');
    });
    row.classList.add('gm-selected');
    var bounds = communityBounds(row.dataset.code);
    if (bounds) { map.fitBounds(bounds, {padding: [20, 20], maxZoom: 16}); }
  });

  // --- what is on screen, taken away -----------------------------------------------------
  function viewBox() { return boxOf(map.getBounds()); }

  function takeAway(kind, format) {
    var extra = {bbox: viewBox(), format: format};
    if (kind === 'print' && printTitle.value.trim()) { extra.title = printTitle.value.trim(); }
    var url = api + '/coverage/' + kind + '?' + query(extra);
    exportStatus.className = '';
    exportStatus.textContent = kind === 'print' ? '正在生成地图…' : '正在导出…';
    return gridmapCommon.send(url).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (body) {
          throw new Error(body.description || response.statusText);
        });
      }
      var disposition = response.headers.get('Content-Disposition') || '';
      var name = (/filename="([^"]+)"/.exec(disposition) || [])[1] || 'coverage.' + format;
      return response.blob().then(function (blob) {
        var link = document.createElement('a');
        link.href = URL.createObjectURL(blob);
        link.download = name;
        document.body.appendChild(link);
        link.click();
        setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
        exportStatus.textContent = '已下载 ' + name + '（' +
          Math.max(1, Math.round(blob.size / 1024)) + ' kB）';
      });
    }).catch(function (err) {
      exportStatus.className = 'gm-error';
      exportStatus.textContent = '失败：' + err.message;
    });
  }

  document.getElementById('gm-actions').addEventListener('click', function (e) {
    var button = e.target.closest('button[data-kind]');
    if (!button || button.disabled) { return; }
    button.disabled = true;
    takeAway(button.dataset.kind, button.dataset.format).then(function () {
      button.disabled = false;
    });
  });

  // --- what-if ---------------------------------------------------------------------------
  function askWhatIf(change, title) {
    var body = {facility_type: typeSelect.value, open: change.open || [],
      close: change.close || []};
    if (radiusSelect.value) { body.radius_m = Number(radiusSelect.value); }
    if (walking()) { body.method = 'network'; }
    var mine = generation;
    whatIfBody.textContent = '计算中…';
    getJSON(api + '/coverage/what-if', {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)
    }).then(function (answer) {
      if (mine !== generation) { return; }
      showWhatIf(answer, title);
    }).catch(function (err) {
      if (mine !== generation || noNetwork(err)) { return; }
      whatIfBody.textContent = '模拟失败：' + err.message;
    });
  }

  function showWhatIf(a, title) {
    var net = a.net_households;
    var cls = net > 0 ? 'gm-gain' : (net < 0 ? 'gm-loss' : '');
    var grids = a.by_grid.slice(0, 5).map(function (g) {
      return '<tr><td>' + escapeHtml(g.name) + '</td><td class="num ' +
        (g.net_households > 0 ? 'gm-gain' : 'gm-loss') + '">' +
        signed(g.net_households) + '</td></tr>';
    }).join('');
    whatIfBody.innerHTML =
      '<div><b>' + escapeHtml(title) + '</b>（' + escapeHtml(a.facility_type_name) + '，' +
      (a.method === 'network' ? labels.walk_distance : '') + a.radius_m + labels.metres +
      '）</div>' +
      '<table id="gm-whatif-answer">' +
      '<tr><td>新增覆盖</td><td class="num gm-gain">' + signed(a.households_gained) +
      ' 户</td></tr>' +
      '<tr><td>失去覆盖</td><td class="num gm-loss">' + signed(-a.households_lost) +
      ' 户</td></tr>' +
      '<tr><td>净变化</td><td class="num ' + cls + '" id="gm-whatif-net">' +
      signed(net) + ' 户</td></tr>' +
      '<tr><td>全区覆盖率</td><td class="num">' + percent(a.coverage_rate_before) + ' → ' +
      percent(a.coverage_rate_after) + '</td></tr></table>' +
      (grids ? '<div>变化最大的网格</div><table>' + grids + '</table>' : '');
  }

  map.on('click', function (e) {
    if (!whatIfOn.checked) { return; }
    var ll = e.latlng;
    whatIfLayer.clearLayers();
    if (!walking()) {  // a walk reaches no circle: the point alone
      L.circle(ll, L.extend({}, style.whatIf, {radius: currentRadius(), pane: 'gm-whatif',
        interactive: false})).addTo(whatIfLayer);
    }
    L.circleMarker(ll, L.extend({}, style.whatIf, {radius: style.whatIf.radius,
      fillOpacity: 1, pane: 'gm-whatif', interactive: false})).addTo(whatIfLayer);
    var at = toLonLat(ll);  // the API takes WGS84
    askWhatIf({open: [{lon: at[0], lat: at[1]}]},
      '在 ' + at[0].toFixed(5) + ', ' + at[1].toFixed(5) + ' 新增');
  });

  var moveTimer = null;
  map.on('moveend', function () {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(refreshBuildings, 250);
  });

  // --- selects ---------------------------------------------------------------------------
  function fillRadii(keep) {
    var t = types[typeSelect.value];
    var options = [['', labels.default_radius + ' ' + t.radius_m + labels.metres]];
    style.radiusChoices.forEach(function (r) {
      if (r !== t.radius_m) { options.push([String(r), r + labels.metres]); }
    });
    radiusSelect.innerHTML = options.map(function (o) {
      return '<option value="' + o[0] + '">' + escapeHtml(o[1]) + '</option>';
    }).join('');
    if (keep && options.some(function (o) { return o[0] === keep; })) {
      radiusSelect.value = keep;
    }
  }

  typeSelect.addEventListener('change', function () {
    fillRadii(radiusSelect.value);
    refresh();
  });
  radiusSelect.addEventListener('change', refresh);

  var initial = new URLSearchParams(window.location.search);
  var base = GM.basemap && config.basemap ? getJSON(config.basemap).catch(function (err) {
    console.warn('gridmap: base map: ' + err.message);
    return null;
  }) : Promise.resolve(null);
  Promise.all([
    getJSON(api + '/facility-types?limit=' + limit),
    getJSON(api + '/map/outlines'),
    base
  ]).then(function (loaded) {
    var list = loaded[0].features.map(function (f) { return f.properties; });
    list.forEach(function (t) { types[t.code] = t; });
    typeSelect.innerHTML = list.map(function (t) {
      return '<option value="' + escapeHtml(t.code) + '">' + escapeHtml(t.name_zh) + '（' +
        t.facilities + '处）</option>';
    }).join('');
    var wanted = initial.get('facility_type');
    var first = list.filter(function (t) { return t.facilities > 0; })[0] || list[0];
    typeSelect.value = types[wanted] ? wanted : (first ? first.code : '');
    fillRadii(initial.get('radius_m') || '');
    setMethod(initial.get('method'));
    if (loaded[2]) {  // its datum first: the overlays are drawn where it draws
      GM.datum.display = loaded[2].display === 'gcj02' ? 'gcj02' : 'wgs84';
    }
    gridFeatures = loaded[1].grids.features;
    gridLayer.addData({type: 'FeatureCollection', features: gridFeatures});
    if (gridFeatures.length) { map.fitBounds(gridLayer.getBounds(), {padding: [10, 10]}); }
    else { map.setView([36.70, 119.16], 12); }
    // Added once the view is the district's, so its first streets are those of this view.
    if (loaded[2]) { window.gridmapCoverage.basemap = GM.basemap.add(map, loaded[2]); }
    if (typeSelect.value) { refresh(); } else { GM.ready(); }
  }).catch(function (err) {
    map.setView([36.70, 119.16], 12);
    summary.textContent = '加载失败：' + err.message;
    GM.ready();
  });
}());
