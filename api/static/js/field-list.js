/*
 * gridmap field app: my grid (/grid/{code}) and the inbox (/inbox), one list of cases by
 * deadline beside (desktop) or under (phone) a map of them.
 *
 * My grid reads GET /api/v1/worklists/{code} (the grid, its open cases), the buildings
 * in the grid's box with their households, the facilities around it and the month's
 * figures (GET /api/v1/grids/{code}/month, beside the community's average). The inbox
 * reads GET /api/v1/inbox. Cards and markers: the state's colour, and time left as a
 * class (overdue stands out in red); a card opens the case page.
 * The buildings of my grid stay one GeoJSON answer, not vector tiles: one grid is ~100
 * buildings (a few kB), and that one answer is what the service worker keeps for the map
 * offline, where tiles would be a set of URLs per zoom to keep.
 */
/* global L, GM, gridmapCommon */
(function () {
  'use strict';
  var F = GM.field;
  var config = F.config;
  var t = F.t;
  var esc = gridmapCommon.escapeHtml;
  var list = document.getElementById('gm-list');
  var count = document.getElementById('gm-count');

  var map = F.newMap('gm-map');
  var outline = F.geoJSON(null, {style: function () { return config.gridStyle; },
    interactive: false}).addTo(map);
  var buildings = L.layerGroup().addTo(map);
  var facilities = L.layerGroup().addTo(map);
  var markers = L.layerGroup().addTo(map);
  window.gridmapField = {map: map};

  var RING = {'gm-t-overdue': config.overdueColour, 'gm-t-soon': '#ff7f00'};

  function card(item) {
    var cls = F.timeClass(item);
    var extra = '';
    if (item.handler) { extra += ' · ' + esc(t('handler')) + ' ' + esc(item.handler.name); }
    if (item.handling_level && item.handling_level !== 'grid') {
      extra += ' · ' + esc(t('escalated_to', {level: (config.t.levels || {})[item.handling_level] ||
        item.handling_level}));
    }
    var where = item.grid_name ? esc(item.grid_name) + ' · ' : '';
    var urge = item.urge ? '<span class="gm-badge">' + esc(t('urged')) + '</span>' : '';
    return '<li><a class="gm-card ' + cls + '" href="/cases/' + item.id + '" data-id="' +
      item.id + '" data-status="' + esc(item.status) + '" data-version="' + item.version + '">' +
      '<span class="gm-head"><span><b>#' + item.id + '</b> ' +
      esc(item.category_name || F.category(item.category)) + urge + '</span>' +
      F.stateBadge(item.status) + '</span>' +
      '<span class="gm-due ' + cls + '">' + esc(F.dueText(item)) + '</span><br>' +
      '<span class="gm-desc">' + where + esc(item.description || item.address || '') + extra +
      '</span></a></li>';
  }

  function drawCases(items) {
    markers.clearLayers();
    items.forEach(function (item) {
      if (!isFinite(item.lat) || !isFinite(item.lon) || item.lat === null) { return; }
      var cls = F.timeClass(item);
      var marker = L.circleMarker(F.latLng(item.lon, item.lat), {
        radius: cls === 'gm-t-overdue' ? 10 : 8, fillColor: F.stateColour(item.status),
        fillOpacity: 0.95, color: RING[cls] || '#ffffff', weight: RING[cls] ? 4 : 2
      });
      marker.bindPopup('<div class="gm-popup"><b>#' + item.id + '</b> ' +
        esc(F.category(item.category)) + '<br>' + esc(F.stateLabel(item.status)) + '<br>' +
        esc(F.dueText(item)) + '<br><a href="/cases/' + item.id + '">' + esc(t('open_case')) +
        '</a></div>');
      marker.addTo(markers);
    });
  }

  function drawList(items) {
    list.innerHTML = items.length ? items.map(card).join('') :
      '<li class="gm-count">' + esc(t('no_open')) + '</li>';
    var overdue = items.filter(function (i) { return F.timeClass(i) === 'gm-t-overdue'; }).length;
    count.textContent = t('open_cases', {n: items.length}) + ' · ' +
      t('overdue_cases', {n: overdue});
  }

  function bboxOf(bounds, grow) {
    var b = grow ? bounds.pad(grow) : bounds;
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map(function (v) { return v.toFixed(6); }).join(',');
  }

  function loadBuildings(bounds) {
    return F.getJSON(config.api + '/buildings?limit=2000&bbox=' + bboxOf(bounds))
      .then(function (body) {
        F.geoJSON(body, {
          style: function () { return {color: '#6b6b6b', weight: 0.8, fillColor: '#c9c2b4',
            fillOpacity: 0.7}; },
          pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 3}); },
          onEachFeature: function (f, layer) {
            var p = f.properties || {};
            layer.bindTooltip(esc(p.name || p.address || ('#' + f.id)) + ' · ' +
              esc(p.households === undefined ? '—' : p.households) + ' ' + esc(t('households')));
          }
        }).eachLayer(function (layer) { buildings.addLayer(layer); });
        markers.eachLayer(function (m) { m.bringToFront(); });
      }).catch(function (err) { console.warn('gridmap: buildings: ' + err.message); });
  }

  function loadFacilities(bounds) {
    return F.getJSON(config.api + '/facilities?limit=500&bbox=' + bboxOf(bounds, 0.5))
      .then(function (body) {
        F.geoJSON(body, {
          pointToLayer: function (f, latlng) {
            return L.circleMarker(latlng, {radius: 6, color: '#fff', weight: 1.5,
              fillColor: '#1b9e77', fillOpacity: 0.9});
          },
          onEachFeature: function (f, layer) {
            var p = f.properties || {};
            layer.bindTooltip(esc(p.name || '') + (p.type_name_zh ? ' · ' + esc(p.type_name_zh) : ''));
          }
        }).eachLayer(function (layer) { facilities.addLayer(layer); });
      }).catch(function (err) { console.warn('gridmap: facilities: ' + err.message); });
  }

  function pct(v) { return v === null || v === undefined ? '—' : Math.round(v * 100) + '%'; }
  function loadMonth() {
    var box = document.getElementById('gm-month');
    return gridmapCommon.send(config.api + '/grids/' + config.gridCode + '/month')
      .then(function (response) {
        if (!response.ok) { return; }  // figures not offered by this server
        return response.json().then(function (m) {
          var grid = m.grid || m;
          var avg = m.community_average || m.community || {};
          var cell = function (label, key, format) {
            var f = format || function (v) { return v === undefined || v === null ? '—' : v; };
            return '<div>' + esc(label) + '<b>' + esc(f(grid[key])) + '</b><span class="gm-avg">' +
              esc(t('month_avg')) + ' ' + esc(f(avg[key])) + '</span></div>';
          };
          box.innerHTML = cell(t('month_received'), 'received') + cell(t('month_closed'), 'closed') +
            cell(t('month_on_time'), 'on_time_rate', pct);
          box.hidden = false;
        });
      }).catch(function () { /* offline: no figures */ });
  }

  function loadGrid() {
    return F.getJSON(config.api + '/worklists/' + encodeURIComponent(config.gridCode))
      .then(function (body) {
        F.setServerNow(body.now);
        outline.addData(body.grid.geometry);
        F.fit(map, outline.getBounds());
        drawList(body.incidents);
        drawCases(body.incidents);
        GM.ready();
        var bounds = outline.getBounds();
        loadMonth();
        return Promise.all([loadBuildings(bounds), loadFacilities(bounds)]);
      });
  }

  function loadInbox() {
    return F.getJSON(config.api + '/inbox?limit=200').then(function (body) {
      if (body.now) { F.setServerNow(body.now); }
      var items = body.items || [];
      drawList(items);
      drawCases(items);
      var points = items.filter(function (i) { return isFinite(i.lat) && i.lat !== null; })
        .map(function (i) { return F.latLng(i.lon, i.lat); });
      if (points.length) { F.fit(map, L.latLngBounds(points)); } else { map.setView([36.7, 119.1], 12); }
      if (body.counts) {
        count.textContent += ' · ' + t('urged') + ' ' + (body.counts.urged || 0);
      }
      GM.ready();
    });
  }

  (config.view === 'grid' ? loadGrid() : loadInbox()).catch(function (err) {
    count.textContent = '';
    F.say(t('load_failed', {error: err.message}), false);
    if (!map._loaded) { map.setView([36.7, 119.1], 12); }
    GM.ready();
  });
  document.addEventListener('gm-sent', function () {
    if (config.view === 'inbox') { loadInbox(); }
  });
}());
