/*
 * gridmap norms page (/norms): every household norm per community, as a map and a table.
 *
 * One answer, GET /api/v1/norms/communities, gives the rows (floor area, staff, funds
 * due), the district total and, per measure, the map's classes (layers/norms.py): the
 * page draws them and compares with >= only. The communities' shapes come light from
 * /api/v1/map/outlines; the base map (basemap.js) decides the datum overlays are drawn
 * in (GM.datum). Picking a measure restyles the map in place; a heading sorts the table;
 * a row zooms to its community and a community's popup lists its figures. The words
 * are window.GRIDMAP_NORMS.style.labels, in the page's language (?lang=en switches).
 * GM.ready() once the table and the map are drawn (or the failure is said).
 */
(function () {
  'use strict';
  var escapeHtml = gridmapCommon.escapeHtml;
  var getJSON = gridmapCommon.getJSON;
  var config = window.GRIDMAP_NORMS;
  var style = config.style;
  var t = style.labels;
  var en = config.lang === 'en';
  var locale = en ? 'en' : 'zh-CN';

  var summary = document.getElementById('gm-summary');
  var measureSelect = document.getElementById('gm-measure');
  var legend = document.getElementById('gm-legend');
  var head = document.querySelector('#gm-table thead tr');
  var body = document.querySelector('#gm-table tbody');
  var foot = document.querySelector('#gm-table tfoot');

  var answer = null;       // the API's answer
  var byCode = {};         // community code -> row
  var shapes = {};         // community code -> Leaflet layer
  var sortKey = 'name';
  var sortUp = true;

  function number(value, digits) {
    if (value === null || value === undefined) { return '—'; }
    return Number(value).toLocaleString(locale, {maximumFractionDigits: digits || 0,
      minimumFractionDigits: digits || 0});
  }

  // The table's columns: key, heading, how a cell is written, the value it sorts by.
  var COLUMNS = [
    {key: 'name', head: t.community, text: function (r) {
      return escapeHtml(r.name) + (r.subdistrict_name ?
        ' <span class="gm-hint">' + escapeHtml(r.subdistrict_name) + '</span>' : '');
    }, sort: function (r) { return r.code; }},
    {key: 'households', head: t.households, num: true},
    {key: 'floor_area_required_m2', head: t.floor_required, num: true, digits: 1},
    {key: 'service_floor_m2', head: t.floor_present, num: true, digits: 1},
    {key: 'floor_area_shortfall_m2', head: t.floor_shortfall, num: true, digits: 1, short: true},
    {key: 'grid_managers', head: t.grid_managers, num: true, text: function (r) {
      return pair(r.grid_managers, r.grid_managers_needed);
    }, sort: function (r) { return r.grid_managers - r.grid_managers_needed; }},
    {key: 'community_workers', head: t.community_workers, num: true, text: function (r) {
      return pair(r.community_workers, r.community_workers_needed);
    }, sort: function (r) { return r.community_workers - r.community_workers_needed; }},
    {key: 'staff_shortfall', head: t.staff_shortfall, num: true, short: true},
    {key: 'community_work_cny', head: t.community_work, num: true},
    {key: 'grid_service_cny', head: t.grid_service, num: true},
    {key: 'party_service_cny', head: t.party_service, num: true},
    {key: 'total_cny', head: t.total, num: true}
  ];

  function pair(present, needed) {
    var text = number(present) + ' / ' + number(needed);
    return present < needed ? '<span class="gm-short">' + text + '</span>' : text;
  }

  function cell(column, row) {
    if (column.text) { return column.text(row); }
    var value = row[column.key];
    var text = number(value, column.digits);
    return column.short && value > 0 ? '<span class="gm-short">' + text + '</span>' : text;
  }

  function sortValue(column, row) {
    return column.sort ? column.sort(row) : row[column.key];
  }

  // --- the map ---------------------------------------------------------------------------
  function toLatLng(c) {
    return GM.datum ? GM.datum.coordsToLatLng(c) : L.latLng(c[1], c[0]);
  }

  var map = L.map('gm-map', {zoomSnap: 0.25, zoomDelta: 0.5});
  L.control.scale({imperial: false}).addTo(map);
  map.createPane('gm-communities').style.zIndex = 400;
  map.createPane('gm-district').style.zIndex = 410;
  map.getPane('gm-district').style.pointerEvents = 'none';
  window.gridmapNorms = {map: map};  // for tests and the browser console
  var communityLayer = L.geoJSON(null, {pane: 'gm-communities', coordsToLatLng: toLatLng,
    style: communityStyle, onEachFeature: bindCommunity});
  var districtLayer = L.geoJSON(null, {pane: 'gm-district', coordsToLatLng: toLatLng,
    interactive: false, style: function () { return style.district; }});
  communityLayer.addTo(map);
  districtLayer.addTo(map);

  function classes() { return answer.classes[measureSelect.value]; }

  function colourOf(value) {
    var c = classes();
    if (value === null || value === undefined) { return style.noData; }
    var colour = c.colours[0];
    c.breaks.forEach(function (minimum, i) { if (value >= minimum) { colour = c.colours[i]; } });
    return colour;
  }

  function communityStyle(feature) {
    var row = answer && byCode[feature.properties.code];
    var fill = row ? colourOf(row[measureSelect.value]) : style.noData;
    return L.extend({}, style.community, {fillColor: fill});
  }

  function popupOf(row) {
    var lines = [
      [t.households, number(row.households)],
      [t.floor_required, number(row.floor_area_required_m2, 1)],
      [t.floor_present, number(row.service_floor_m2, 1)],
      [t.floor_shortfall, number(row.floor_area_shortfall_m2, 1)],
      [t.grid_managers, number(row.grid_managers) + ' / ' + number(row.grid_managers_needed)],
      [t.community_workers, number(row.community_workers) + ' / ' +
        number(row.community_workers_needed)],
      [t.staff_shortfall, number(row.staff_shortfall)],
      [t.community_work, number(row.community_work_cny)],
      [t.grid_service, number(row.grid_service_cny)],
      [t.party_service, number(row.party_service_cny)],
      [t.total, number(row.total_cny)]
    ];
    return '<b>' + escapeHtml(row.name) + '</b> ' + escapeHtml(row.code) +
      '<table class="gm-popup">' + lines.map(function (l) {
        return '<tr><th>' + escapeHtml(l[0]) + '</th><td>' + l[1] + '</td></tr>';
      }).join('') + '</table>';
  }

  function bindCommunity(feature, layer) {
    var code = feature.properties.code;
    shapes[code] = layer;
    layer.bindTooltip(function () { return escapeHtml(feature.properties.name); },
      {sticky: true});
    layer.bindPopup(function () {
      var row = byCode[code];
      return row ? popupOf(row) : escapeHtml(feature.properties.name);
    }, {maxHeight: 260});
  }

  function drawLegend() {
    var c = classes();
    legend.innerHTML = '<b id="gm-legend-title">' + escapeHtml(en ? c.label_en : c.label_zh) +
      '</b>' + c.legend.map(function (r) {
        return '<div class="gm-row"><i style="background:' + r.colour + '"></i>' +
          escapeHtml(en ? r.label_en : r.label_zh) + '</div>';
      }).join('');
  }

  function restyle() {
    communityLayer.setStyle(communityStyle);
    drawLegend();
    document.body.dataset.measure = measureSelect.value;
  }

  // --- the table -------------------------------------------------------------------------
  function drawHead() {
    head.innerHTML = COLUMNS.map(function (c) {
      var sorted = c.key === sortKey ? (sortUp ? 'ascending' : 'descending') : 'none';
      return '<th scope="col" data-key="' + c.key + '" aria-sort="' + sorted + '"' +
        (c.num ? ' class="num"' : '') + ' tabindex="0">' + escapeHtml(c.head) + '</th>';
    }).join('');
  }

  function drawRows() {
    var column = COLUMNS.filter(function (c) { return c.key === sortKey; })[0] || COLUMNS[0];
    var rows = answer.rows.slice().sort(function (a, b) {
      var x = sortValue(column, a);
      var y = sortValue(column, b);
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return (sortUp ? order : -order) || (a.code < b.code ? -1 : 1);
    });
    body.innerHTML = rows.map(function (r) {
      return '<tr data-code="' + escapeHtml(r.code) + '">' + COLUMNS.map(function (c) {
        return '<td' + (c.num ? ' class="num"' : '') + '>' + cell(c, r) + '</td>';
      }).join('') + '</tr>';
    }).join('');
    drawHead();
  }

  function drawTotal() {
    var total = answer.total;
    foot.innerHTML = '<tr id="gm-total">' + COLUMNS.map(function (c) {
      if (c.key === 'name') {
        return '<td>' + escapeHtml(t.district_total) + ' ' + escapeHtml(total.name || '') + '</td>';
      }
      return '<td class="num" data-key="' + c.key + '">' + cell(c, total) + '</td>';
    }).join('') + '</tr>';
    var shortFloor = answer.rows.filter(function (r) { return r.floor_area_shortfall_m2 > 0; });
    var shortStaff = answer.rows.filter(function (r) { return r.staff_shortfall > 0; });
    summary.innerHTML = '<div id="gm-summary-total">' + escapeHtml(t.summary)
      .replace('{communities}', '<b>' + number(total.communities) + '</b>')
      .replace('{households}', '<b>' + number(total.households) + '</b>')
      .replace('{total}', '<b id="gm-total-cny">' + number(total.total_cny) + '</b>') +
      '</div><div id="gm-summary-short">' + escapeHtml(t.shortfalls)
      .replace('{floor}', number(total.floor_area_shortfall_m2, 1))
      .replace('{floor_n}', number(shortFloor.length))
      .replace('{staff}', number(total.staff_shortfall))
      .replace('{staff_n}', number(shortStaff.length)) + '</div>';
  }

  function sortBy(key) {
    if (key === sortKey) { sortUp = !sortUp; } else {
      sortKey = key;
      sortUp = key === 'name';  // names A→Z; figures the largest first
    }
    drawRows();
  }

  head.addEventListener('click', function (e) {
    var th = e.target.closest('th[data-key]');
    if (th) { sortBy(th.dataset.key); }
  });
  head.addEventListener('keydown', function (e) {
    var th = e.target.closest('th[data-key]');
    if (th && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); sortBy(th.dataset.key); }
  });

  body.addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-code]');
    if (!tr) { return; }
    body.querySelectorAll('tr.gm-selected').forEach(function (r) {
      r.classList.remove('gm-selected');
    });
    tr.classList.add('gm-selected');
    var layer = shapes[tr.dataset.code];
    if (layer) {
      // Not animated: a popup opened during a zoom animation races it (and its autoPan).
      map.fitBounds(layer.getBounds(), {padding: [20, 20], maxZoom: 16, animate: false});
      layer.openPopup(layer.getBounds().getCenter());
      document.getElementById('gm-map').scrollIntoView({block: 'nearest'});
    }
  });

  measureSelect.innerHTML = style.measures.map(function (m) {
    return '<option value="' + escapeHtml(m.column) + '">' + escapeHtml(m.label) + '</option>';
  }).join('');
  var wanted = new URLSearchParams(window.location.search).get('measure');
  measureSelect.value = style.measures.some(function (m) { return m.column === wanted; }) ?
    wanted : style.defaultMeasure;
  measureSelect.addEventListener('change', function () {
    if (!answer) { return; }
    var params = new URLSearchParams(window.location.search);
    params.set('measure', measureSelect.value);
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, '', '?' + params.toString());
    }
    restyle();
  });

  // --- loading ---------------------------------------------------------------------------
  var base = GM.basemap && config.basemap ? getJSON(config.basemap).catch(function (err) {
    console.warn('gridmap: base map: ' + err.message);
    return null;
  }) : Promise.resolve(null);
  Promise.all([getJSON(config.api + '/norms/communities'), getJSON(config.api + '/map/outlines'),
    base]).then(function (loaded) {
    answer = loaded[0];
    answer.rows.forEach(function (r) { byCode[r.code] = r; });
    if (loaded[2]) { GM.datum.display = loaded[2].display === 'gcj02' ? 'gcj02' : 'wgs84'; }
    districtLayer.addData(loaded[1].district);
    communityLayer.addData(loaded[1].communities);
    if (communityLayer.getLayers().length) {
      map.fitBounds(communityLayer.getBounds(), {padding: [10, 10]});
    } else { map.setView([36.70, 119.16], 12); }
    if (loaded[2]) { window.gridmapNorms.basemap = GM.basemap.add(map, loaded[2]); }
    restyle();
    drawRows();
    drawTotal();
    document.body.dataset.norms = 'drawn';
    GM.ready();
  }).catch(function (err) {
    map.setView([36.70, 119.16], 12);
    summary.innerHTML = '<span class="gm-error">' + escapeHtml(t.failed + err.message) + '</span>';
    GM.ready();  // usable, saying what failed
  });
}());
