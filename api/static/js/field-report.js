/*
 * gridmap field app: a new report (/report).
 *
 * Where: a tap on the map, or 我的位置 (navigator.geolocation: WGS84, as every phone's
 * position is; sent with datum "wgs84"). A tap is in the datum the map is drawn in
 * (GM.datum.display: "gcj02" over Amap or Tencent tiles, else "wgs84") and is sent as
 * it is with that datum: the API converts it, once. What: a category and, if it has them, a subclass; a description; photos from the
 * camera, shrunk to at most 2048 px as JPEG before they are queued (the server checks and
 * re-encodes them anyway). The report is queued with its Idempotency-Key and sent at once
 * when there is signal, its photos after it (GM.field.outbox).
 */
/* global L, GM, gridmapCommon */
(function () {
  'use strict';
  var F = GM.field;
  var config = F.config;
  var t = F.t;
  var esc = gridmapCommon.escapeHtml;
  var MAX_SIDE = 2048;

  var map = F.newMap('gm-map');
  window.gridmapField = {map: map};
  var areas = F.geoJSON(null, {style: function () { return config.gridStyle; },
    interactive: false}).addTo(map);
  (config.outlines || []).forEach(function (g) { areas.addData(g); });
  var where = document.getElementById('gm-where');
  var point = null;   // {lon, lat, datum}
  var pin = null;
  var photos = [];    // {file: Blob, name}

  function datum() {
    return GM.datum && GM.datum.display ? GM.datum.display : 'wgs84';
  }

  function place(latlng, sent) {
    if (pin) { pin.remove(); }
    pin = L.circleMarker(latlng, {radius: 10, color: '#fff', weight: 3, fillColor: '#e31a1c',
      fillOpacity: 1}).addTo(map);
    point = sent;
    where.textContent = t('picked', {lon: sent.lon.toFixed(6), lat: sent.lat.toFixed(6)}) +
      ' (' + sent.datum.toUpperCase() + ')';
    where.dataset.datum = sent.datum;
  }

  map.on('click', function (event) {
    var ll = event.latlng;
    place(ll, {lon: ll.lng, lat: ll.lat, datum: datum()});
  });

  document.getElementById('gm-locate').addEventListener('click', function () {
    if (!navigator.geolocation) { F.say(t('locate_failed', {error: '—'}), false); return; }
    where.textContent = t('locating');
    navigator.geolocation.getCurrentPosition(function (pos) {
      var c = pos.coords;
      var ll = F.latLng(c.longitude, c.latitude);
      place(ll, {lon: c.longitude, lat: c.latitude, datum: 'wgs84'});
      where.textContent += ' · ' + t('located', {m: Math.round(c.accuracy)});
      map.setView(ll, Math.max(map.getZoom(), 17));
    }, function (err) {
      where.textContent = t('tap_map');
      F.say(t('locate_failed', {error: err.message}), false);
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
  });

  // --- categories ------------------------------------------------------------------------
  var top = document.getElementById('gm-category');
  var sub = document.getElementById('gm-subcategory');
  var tree = config.tree || [];
  top.innerHTML = '<option value="">' + esc(t('choose_category')) + '</option>' +
    tree.map(function (c) { return '<option value="' + esc(c.code) + '">' + esc(c.name) + '</option>'; })
      .join('');
  function fillSub() {
    var chosen = tree.filter(function (c) { return c.code === top.value; })[0];
    var children = chosen ? chosen.subclasses : [];
    sub.innerHTML = '<option value="">' + esc(t('choose_subcategory')) + '</option>' +
      children.map(function (c) { return '<option value="' + esc(c.code) + '">' + esc(c.name) + '</option>'; })
        .join('');
    sub.disabled = !children.length;
  }
  top.addEventListener('change', fillSub);
  fillSub();

  // --- photos ----------------------------------------------------------------------------
  function shrink(file) {
    if (!window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.type === 'image/jpeg') { return file; }
      var canvas = document.createElement('canvas');
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, 'image/jpeg', 0.85);
      });
    }).catch(function () { return file; });  // not decodable here: the server will say
  }
  var input = document.getElementById('gm-photos');
  var thumbs = document.getElementById('gm-thumbs');
  input.addEventListener('change', function () {
    var files = Array.prototype.slice.call(input.files || []);
    Promise.all(files.map(shrink)).then(function (blobs) {
      blobs.forEach(function (blob, i) {
        photos.push({file: blob, name: (files[i].name || 'photo').replace(/\.\w+$/, '') + '.jpg'});
        var img = document.createElement('img');
        img.src = URL.createObjectURL(blob);
        img.alt = files[i].name;
        thumbs.appendChild(img);
      });
      input.value = '';
    });
  });

  // --- send ------------------------------------------------------------------------------
  document.getElementById('gm-report').addEventListener('submit', function (event) {
    event.preventDefault();
    var category = sub.value || top.value;
    if (!category) { F.say(t('no_category'), false); top.focus(); return; }
    if (!point) { F.say(t('no_location'), false); return; }
    var body = {category: category, lon: point.lon, lat: point.lat, datum: point.datum,
      source: 'patrol'};
    var description = document.getElementById('gm-description').value.trim();
    if (description) { body.description = description; }
    var item = {kind: 'report', url: config.api + '/incidents', body: body, photos: photos};
    F.outbox.enqueue(item).then(function (queued) {
      photos = [];
      thumbs.innerHTML = '';
      document.getElementById('gm-description').value = '';
      return F.outbox.flush().then(function () { return F.outbox.all(); }).then(function (items) {
        var left = items.filter(function (i) { return i.key === queued.key; })[0];
        if (!left) { return; }  // sent: the gm-sent event says so
        F.say(left.state === 'pending' ? t('queued') : t('failed', {error: left.error}),
          left.state === 'pending');
      });
    });
  });

  document.addEventListener('gm-sent', function (event) {
    var d = event.detail;
    if (d.item.kind !== 'report') { return; }
    F.say(t('reported', {id: d.answer.id}), true);
    var status = document.getElementById('gm-status');
    var link = document.createElement('a');
    link.href = '/cases/' + d.answer.id;
    link.id = 'gm-new-case';
    link.textContent = ' ' + t('open_case') + ' #' + d.answer.id;
    status.appendChild(link);
  });

  if (areas.getLayers().length) { F.fit(map, areas.getBounds()); } else { map.setView([36.7, 119.1], 12); }
  GM.ready();
}());
