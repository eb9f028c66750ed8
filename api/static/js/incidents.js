/*
 * gridmap incident map (/incidents): per-grid rates, Gi* hot spots and incidents.
 *
 * The style comes from layers/incidents.py (window.GRIDMAP_INCIDENTS.style).
 * Changing the period or category asks GET /api/v1/incidents/statistics once
 * (and /hot-spots when that layer is on) and restyles the grids in place;
 * changing the measure asks nothing: every rate column of the statistics rows
 * (per_1000_households and any *_rate) is offered. Measures without fixed
 * breaks are cut at quantiles rounded to two significant figures, as
 * layers/incidents.py quantile_breaks does. Zoomed in, the incidents in view
 * are drawn as points coloured by workflow state.
 */
(function () {
  'use strict';
  var escapeHtml = gridmapCommon.escapeHtml;
  var getJSON = gridmapCommon.getJSON;
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

  var known = {};          // column -> measure definition of layers/incidents.py
  style.measures.forEach(function (m) { known[m.column] = m; });
  var categoryNames = {};
  config.categories.forEach(function (c) {
    categoryNames[c.code] = c.name;
    c.subclasses.forEach(function (s) { categoryNames[s.code] = s.name; });
  });
  var rows = {};           // grid code -> statistics row
  var columns = [];        // measure columns of the current answer
  var classes = null;      // {measure, breaks, colours} in force
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

  function shortNumber(v) { return String(Number(v.toPrecision(6))); }

  function formatValue(value, unit) {
    return unit === 'fraction' ? shortNumber(value * 100) + '%' : shortNumber(value);
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

  // --- classes (the same arithmetic as layers/incidents.py) ------------------------------
  function twoSignificant(value) {
    if (!(value > 0) || !isFinite(value)) { return 0; }
    if (!(value >= 1e-9 && value <= 1e12)) { return value; }
    var scale = 1;
    while (value * scale < 10) { scale *= 10; }
    while (value * scale >= 100) { scale /= 10; }
    return Math.floor(value * scale + 0.5) / scale;
  }

  function quantileBreaks(values, count) {
    var data = values.filter(function (v) {
      return v !== null && v !== undefined && isFinite(v);
    }).sort(function (a, b) { return a - b; });
    var breaks = [0];
    var n = data.length;
    if (!n) { return breaks; }
    for (var i = 1; i < count; i += 1) {
      var position = i / count * (n - 1);
      var low = Math.floor(position);
      var high = Math.min(low + 1, n - 1);
      var b = twoSignificant(data[low] + (data[high] - data[low]) * (position - low));
      if (b > breaks[breaks.length - 1]) { breaks.push(b); }
    }
    return breaks;
  }

  function measureFor(column) {
    if (known[column]) { return known[column]; }
    return {column: column, label: column, breaks: null, higherIsWorse: true,
      unit: column.indexOf('per_1000') === 0 ? 'per_1000' : 'fraction'};
  }

  function isMeasure(column) {
    return Boolean(known[column]) || /_rate$/.test(column) || column.indexOf('per_1000') === 0;
  }

  function classColours(measure, count) {
    var ramp = measure.higherIsWorse ? style.ramps.badHigh : style.ramps.goodHigh;
    if (count <= 1) { return [measure.higherIsWorse ? ramp[0] : ramp[ramp.length - 1]]; }
    var out = [];
    for (var i = 0; i < count; i += 1) {
      out.push(ramp[Math.round(i * (ramp.length - 1) / (count - 1))]);
    }
    return out;
  }

  function classify(column) {
    var measure = measureFor(column);
    var values = Object.keys(rows).map(function (code) { return rows[code][column]; });
    var breaks = measure.breaks ? measure.breaks.slice() : quantileBreaks(values, style.classes);
    classes = {measure: measure, breaks: breaks, colours: classColours(measure, breaks.length)};
  }

  function colourFor(value) {
    if (value === null || value === undefined || !isFinite(value)) { return style.noData.colour; }
    var colour = classes.colours[0];
    classes.breaks.forEach(function (b, i) { if (value >= b) { colour = classes.colours[i]; } });
    return colour;
  }

  function legendRows() {
    var b = classes.breaks;
    var unit = classes.measure.unit;
    var out = b.map(function (minimum, i) {
      var label;
      if (b.length === 1) { label = minimum === 0 ? '全部' : '≥' + formatValue(minimum, unit); }
      else if (i === 0) { label = '<' + formatValue(b[1], unit); }
      else if (i === b.length - 1) { label = '≥' + formatValue(minimum, unit); }
      else { label = formatValue(minimum, unit) + '–' + formatValue(b[i + 1], unit); }
      return {colour: classes.colours[i], label: label};
    });
    out.push({colour: style.noData.colour, label: style.noData.label});
    return out;
  }

  // --- grids, hot spots and legend -------------------------------------------------------
  function gridStyle(feature) {
    var row = rows[feature.properties.code];
    var value = row && classes ? row[classes.measure.column] : null;
    return L.extend({}, style.grid, {fillColor: classes ? colourFor(value) : style.noData.colour});
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
        var m = measureFor(c);
        lines.push([m.label, showValue(row[c], m.unit)]);
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
    var m = classes.measure;
    var html = '<b id="gm-legend-title">' + escapeHtml(m.label) + '</b>' +
      '<div id="gm-legend-rates">' + legendRows().map(function (r) {
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
    var keep = wantedMeasure || measureSelect.value || style.defaultMeasure;
    measureSelect.innerHTML = columns.map(function (c) {
      return '<option value="' + escapeHtml(c) + '">' + escapeHtml(measureFor(c).label) +
        '</option>';
    }).join('');
    measureSelect.value = columns.indexOf(keep) >= 0 ? keep : style.defaultMeasure;
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
    var params = new URLSearchParams({measure: measureSelect.value || style.defaultMeasure,
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
    classify(measureSelect.value || style.defaultMeasure);
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
      columns = body.rows.length ? Object.keys(body.rows[0]).filter(isMeasure)
        : [style.defaultMeasure];
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
    columns = [style.defaultMeasure];
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

  function allPages(url, features) {
    return getJSON(url).then(function (body) {
      features = (features || []).concat(body.features);
      var next = (body.links || []).filter(function (l) { return l.rel === 'next'; })[0];
      return next ? allPages(next.href, features) : features;
    });
  }

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
