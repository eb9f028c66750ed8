/*
 * gridmap incident map (/incidents): per-grid rates, Gi* hot spots and incidents.
 *
 * The style comes from layers/incidents.py (window.GRIDMAP_INCIDENTS.style).
 * Changing the period or category asks GET /api/v1/incidents/statistics once
 * (and /hot-spots when that layer is on) and restyles the grids in place;
 * changing the measure asks nothing: the statistics answer's ``classes`` name
 * every measure it offers (per_1000_households and any *_rate) with its
 * breaks, class colours and legend, all computed by layers/incidents.py
 * measure_classes; the page only finds the class each grid's value reaches.
 * Zoomed in, the incidents in view are drawn as points coloured by workflow state.
 */
(function () {
  'use strict';
  var escapeHtml = gridmapCommon.escapeHtml;
  var getJSON = gridmapCommon.getJSON;
  var allPages = gridmapCommon.allPages;
  var config = window.GRIDMAP_INCIDENTS;
  var style = config.style;
  var labels = style.labels;
  var api = config.api;
  var limit = config.maxPageSize;

  var measureSelect = document.getElementById('gm-measure');
  var periodSelect = document.getElementById('gm-period');
  var categorySelect = document.getElementById('gm-category');
  var hotBox = document.getElementById('gm-hot');
  var summary = document.getElementById('gm-summary');
  var legend = document.getElementById('gm-legend');
  var hint = document.getElementById('gm-hint');

  var defaultMeasure = style.defaultMeasure.column;
  var categoryNames = {};
  config.categories.forEach(function (c) {
    categoryNames[c.code] = c.name;
    c.subclasses.forEach(function (s) { categoryNames[s.code] = s.name; });
  });
  var rows = {};           // grid code -> statistics row
  var measures = {};       // column -> its classes in the current answer
  var columns = [];        // measure columns of the current answer
  var classes = null;      // the answer's classes of the measure shown
  var hotClasses = {};     // grid code -> Gi* class
  var generation = 0;      // answers of an older selection are dropped
  var pointsRequest = null;
  var initial = new URLSearchParams(window.location.search);
  var wantedMeasure = initial.get('measure');

  var map = L.map('gm-map', {zoomSnap: 0.25, zoomDelta: 0.5});
  L.control.scale({imperial: false}).addTo(map);
  [['gm-grids', 400], ['gm-hot', 410], ['gm-points', 450]].forEach(function (p) {
    map.createPane(p[0]).style.zIndex = p[1];
  });
  window.gridmapIncidents = {map: map};  // for tests and the browser console

  var gridLayer = L.geoJSON(null, {pane: 'gm-grids', style: gridStyle,
    onEachFeature: gridPopup}).addTo(map);
  var hotLayer = L.geoJSON(null, {pane: 'gm-hot', style: hotStyle, onEachFeature: gridPopup});
  var pointLayer = L.layerGroup().addTo(map);

  // --- helpers ---------------------------------------------------------------------------

  function number(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) { return '—'; }
    return Number(value).toLocaleString('zh-CN', {maximumFractionDigits: digits || 0});
  }

  function showValue(value, unit) {
    if (value === null || value === undefined || !isFinite(value)) { return '—'; }
    return unit === 'fraction' ? number(value * 100, 1) + '%' : number(value, 1);
  }

  function localTime(iso) {
    if (!iso) { return '—'; }
    return new Date(iso).toLocaleString('zh-CN', {timeZone: 'Asia/Shanghai', hour12: false,
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'});
  }


  function say(text) {
    hint.textContent = text || '';
    hint.style.display = text ? 'block' : 'none';
  }

  // --- classes (computed by the server) -------------------------------------------------
  function measureOf(column) {
    return measures[column] ? measures[column].measure : style.defaultMeasure;
  }

  function colourFor(value) {
    if (value === null || value === undefined || !isFinite(value)) { return style.noDataColour; }
    var colour = classes.colours[0];
    classes.breaks.forEach(function (b, i) { if (value >= b) { colour = classes.colours[i]; } });
    return colour;
  }

  // --- grids, hot spots and legend -------------------------------------------------------
  function gridStyle(feature) {
    var row = rows[feature.properties.code];
    var value = row && classes ? row[classes.measure.column] : null;
    return L.extend({}, style.grid, {fillColor: classes ? colourFor(value) : style.noDataColour});
  }

  function hotStyle(feature) {
    var cls = feature.properties['class'];
    var colour = style.hotSpotNoClass;
    style.hotSpots.forEach(function (h) { if (h['class'] === cls) { colour = h.colour; } });
    return L.extend({}, style.hotSpot, {fillColor: colour});
  }

  function hotLabel(cls) {
    var found = style.hotSpots.filter(function (h) { return h['class'] === cls; })[0];
    return found ? found.label : '—';
  }

  function gridPopup(feature, layer) {
    var text = function () {
      var p = feature.properties;
      var row = rows[p.code] || {};
      var lines = [
        ['网格', p.name + ' ' + p.code],
        [labels.households, number(row.households)],
        [labels.received, number(row.received)]
      ];
      columns.forEach(function (c) {
        var m = measureOf(c);
        lines.push([m.label_zh, showValue(row[c], m.unit)]);
      });
      if (hotClasses[p.code]) { lines.push(['Gi*', hotLabel(hotClasses[p.code])]); }
      return '<table class="gm-popup">' + lines.map(function (l) {
        return '<tr><th>' + escapeHtml(l[0]) + '</th><td>' + escapeHtml(l[1]) + '</td></tr>';
      }).join('') + '</table>';
    };
    layer.bindTooltip(text, {sticky: true});
    layer.bindPopup(function () {
      return text() + '<a href="/incidents/grid/' + encodeURIComponent(feature.properties.code) +
        '">' + escapeHtml(labels.worklist_title) + '</a>';
    });
    layer.on('popupopen', function () { layer.closeTooltip(); });
  }

  function drawLegend() {
    var html = '<b id="gm-legend-title">' + escapeHtml(classes.measure.label_zh) + '</b>' +
      '<div id="gm-legend-rates">' + classes.legend.map(function (r) {
        return '<div class="gm-row"><i style="background:' + r.colour + '"></i>' +
          escapeHtml(r.label) + '</div>';
      }).join('') + '</div>';
    if (map.hasLayer(hotLayer)) {
      html += '<b>' + escapeHtml(labels.hot_spots) + '</b><div id="gm-legend-hot">' +
        style.hotSpots.map(function (h) {
          return '<div class="gm-row"><i style="background:' + h.colour + '"></i>' +
            escapeHtml(h.label) + '</div>';
        }).join('') + '</div>';
    }
    if (map.getZoom() >= style.pointsMinZoom) {
      html += '<b>' + escapeHtml(labels.incidents) + '</b>' +
        Object.keys(style.states).map(function (s) {
          return '<div class="gm-row"><i class="gm-dot" style="background:' +
            style.states[s].colour + '"></i>' + escapeHtml(style.states[s].label) + '</div>';
        }).join('');
    }
    legend.innerHTML = html;
  }

  function fillMeasures() {
    var keep = wantedMeasure || measureSelect.value || defaultMeasure;
    measureSelect.innerHTML = columns.map(function (c) {
      return '<option value="' + escapeHtml(c) + '">' + escapeHtml(measureOf(c).label_zh) +
        '</option>';
    }).join('');
    measureSelect.value = columns.indexOf(keep) >= 0 ? keep : defaultMeasure;
  }

  function period() {
    return config.periods.filter(function (p) { return p.key === periodSelect.value; })[0] ||
      config.periods[0];
  }

  function selection() {
    var p = period();
    var params = new URLSearchParams({start: p.start, end: p.end});
    if (categorySelect.value) { params.set('category', categorySelect.value); }
    return params;
  }

  function address() {
    var params = new URLSearchParams({measure: measureSelect.value || defaultMeasure,
      period: period().key});
    if (categorySelect.value) { params.set('category', categorySelect.value); }
    if (hotBox.checked) { params.set('hot', '1'); }
    return params.toString();
  }

  function markReady() {
    var q = address();
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, '', '?' + q);
    }
    document.body.dataset.incidents = q;
  }

  function restyle() {
    classes = measures[measureSelect.value || defaultMeasure];
    gridLayer.setStyle(gridStyle);
    drawLegend();
  }

  function drawSummary() {
    var received = 0;
    var households = 0;
    Object.keys(rows).forEach(function (code) {
      received += rows[code].received || 0;
      households += rows[code].households || 0;
    });
    var cat = categorySelect.value ? categoryNames[categorySelect.value] : labels.all_categories;
    var perThousand = households ? received * 1000 / households : null;
    summary.textContent = period().label + ' · ' + cat + '：' + number(received) + ' 件，' +
      '每千户 ' + number(perThousand, 1) + ' 件';
  }

  // --- per selection ---------------------------------------------------------------------
  function refresh() {
    generation += 1;
    var mine = generation;
    delete document.body.dataset.incidents;
    document.body.classList.add('gm-busy');
    var params = selection();
    params.set('level', 'grid');
    var stats = getJSON(api + '/incidents/statistics?' + params.toString()).then(function (body) {
      if (mine !== generation) { return; }
      rows = {};
      body.rows.forEach(function (row) { rows[row.code] = row; });
      measures = body.classes;
      columns = Object.keys(measures);
      fillMeasures();
      wantedMeasure = null;  // the address's measure is used once, when the columns are known
      restyle();
      drawSummary();
    });
    var hot = hotBox.checked ? refreshHot(mine) : Promise.resolve();
    refreshPoints();
    Promise.all([stats, hot]).then(function () {
      if (mine !== generation) { return; }
      drawLegend();
      document.body.classList.remove('gm-busy');
      markReady();
    }).catch(function (err) {
      summary.textContent = '加载失败：' + err.message;
      document.body.classList.remove('gm-busy');
    });
  }

  function refreshHot(mine) {
    return getJSON(api + '/incidents/hot-spots?' + selection().toString()).then(function (body) {
      if (mine !== generation) { return; }
      hotClasses = {};
      body.features.forEach(function (f) { hotClasses[f.properties.code] = f.properties['class']; });
      hotLayer.clearLayers();
      hotLayer.addData(body);
      if (!map.hasLayer(hotLayer)) { hotLayer.addTo(map); }
    });
  }

  function refreshPoints() {
    if (pointsRequest) { pointsRequest.abort(); pointsRequest = null; }
    if (map.getZoom() < style.pointsMinZoom) {
      pointLayer.clearLayers();
      say(labels.zoom_for_points);
      return;
    }
    var b = map.getBounds();
    var params = selection();
    params.set('bbox', [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(6);
    }).join(','));
    params.set('limit', String(limit));
    params.set('personal', 'false');  // no pins on people: disputes, petitions, help requests
    var controller = new AbortController();
    pointsRequest = controller;
    getJSON(api + '/incidents?' + params.toString(), {signal: controller.signal})
      .then(function (body) {
        if (pointsRequest !== controller) { return; }
        pointsRequest = null;
        pointLayer.clearLayers();
        body.features.forEach(drawPoint);
        say(body.numberMatched > body.numberReturned
          ? '显示 ' + body.numberReturned + ' / ' + body.numberMatched + ' 件，放大查看全部' : '');
      })
      .catch(function (err) {
        if (err.name !== 'AbortError') { say('事件加载失败：' + err.message); }
      });
  }

  function drawPoint(f) {
    var p = f.properties;
    var c = f.geometry.coordinates;
    var state = style.states[p.status] || {label: p.status, colour: '#777'};
    var overdue = state.open && p.deadline_at && new Date(p.deadline_at) < new Date();
    L.circleMarker([c[1], c[0]], L.extend({}, style.incident, {
      pane: 'gm-points', radius: style.incident.radius, fillColor: state.colour,
      color: overdue ? style.overdue : style.incident.color, bubblingMouseEvents: false
    })).bindPopup(function () {
      var lines = [
        ['类别', categoryNames[p.category] || p.category], ['状态', state.label],
        ['上报时间', localTime(p.reported_at)], ['处置期限', localTime(p.deadline_at)],
        ['描述', p.description || '—']
      ];
      return '<table class="gm-popup">' + lines.map(function (l) {
        return '<tr><th>' + escapeHtml(l[0]) + '</th><td>' + escapeHtml(l[1]) + '</td></tr>';
      }).join('') + '</table>' + (p.grid_code ? '<a href="/incidents/grid/' +
        encodeURIComponent(p.grid_code) + '">' + escapeHtml(labels.worklist_title) + '</a>' : '');
    }).addTo(pointLayer);
  }

  var moveTimer = null;
  map.on('moveend', function () {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(function () {
      refreshPoints();
      if (classes) { drawLegend(); }
    }, 250);
  });

  // --- controls --------------------------------------------------------------------------
  function fillControls(initial) {
    periodSelect.innerHTML = config.periods.map(function (p) {
      return '<option value="' + escapeHtml(p.key) + '">' + escapeHtml(p.label) + '</option>';
    }).join('');
    var options = ['<option value="">' + escapeHtml(labels.all_categories) + '</option>'];
    config.categories.forEach(function (c) {
      options.push('<optgroup label="' + escapeHtml(c.name) + '">');
      options.push('<option value="' + escapeHtml(c.code) + '">' + escapeHtml(c.name) +
        '（全部）</option>');
      c.subclasses.forEach(function (s) {
        options.push('<option value="' + escapeHtml(s.code) + '">' + escapeHtml(s.name) +
          '</option>');
      });
      options.push('</optgroup>');
    });
    categorySelect.innerHTML = options.join('');
    var wantedPeriod = initial.get('period');
    if (config.periods.some(function (p) { return p.key === wantedPeriod; })) {
      periodSelect.value = wantedPeriod;
    }
    var wantedCategory = initial.get('category');
    if (wantedCategory && categoryNames[wantedCategory]) { categorySelect.value = wantedCategory; }
    hotBox.checked = initial.get('hot') === '1';
    columns = [defaultMeasure];
    fillMeasures();
  }

  measureSelect.addEventListener('change', function () {
    restyle();
    markReady();
  });
  periodSelect.addEventListener('change', refresh);
  categorySelect.addEventListener('change', refresh);
  hotBox.addEventListener('change', function () {
    if (hotBox.checked) {
      refresh();
    } else {
      map.removeLayer(hotLayer);
      hotClasses = {};
      drawLegend();
      markReady();
    }
  });

  fillControls(initial);
  allPages(api + '/grids?limit=' + limit).then(function (grids) {
    gridLayer.addData({type: 'FeatureCollection', features: grids});
    if (grids.length) { map.fitBounds(gridLayer.getBounds(), {padding: [10, 10]}); }
    else { map.setView([36.70, 119.16], 12); }
    refresh();
  }).catch(function (err) {
    map.setView([36.70, 119.16], 12);
    summary.textContent = '加载失败：' + err.message;
  });
}());
