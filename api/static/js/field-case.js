/*
 * gridmap field app: one case (/cases/{id}).
 *
 * Reads GET /api/v1/incidents/{id}, its history (in Chinese: the answer's action_zh,
 * actor_label and at_local where the server gives them, else this page's table of steps)
 * and its photos. The steps the person may take now (config.allowed, from
 * gis.incidents.next_steps) are large buttons; one opens a form with a note (required
 * where the workflow wants a reason, and for 督办), whom to dispatch to, the rating of an
 * evaluation, and photos at handle/verify. A step is queued with the version it was made
 * on (GM.field.outbox) and sent at once when there is signal; a conflict appears in the
 * outbox with the server's state and the note kept.
 */
/* global L, GM, gridmapCommon */
(function () {
  'use strict';
  var F = GM.field;
  var config = F.config;
  var t = F.t;
  var esc = gridmapCommon.escapeHtml;
  var api = config.api + '/incidents/' + config.caseId;
  var NOTE_ALWAYS = ['urge'];
  var PHOTO_STAGE = {handle: 'handling', feedback: 'handling', verify: 'verification'};

  var map = F.newMap('gm-map');
  var marker = null;
  var incident = null;
  var pending = null;  // the action whose form is open

  var buttons = document.getElementById('gm-buttons');
  var form = document.getElementById('gm-step');
  var note = document.getElementById('gm-note');
  var handler = document.getElementById('gm-handler');

  function facts(body) {
    var rows = [
      [t('reported_at'), F.localTime(body.reported_at)],
      [t('level'), (config.t.levels || {})[body.handling_level] || body.handling_level],
      [t('handler'), body.handler ? body.handler.name : '—'],
      [t('description'), body.description || '—'],
      [t('location'), body.address || (body.lon !== null && body.lon !== undefined ?
        body.lon.toFixed(5) + ', ' + body.lat.toFixed(5) : '—')]
    ];
    document.getElementById('gm-facts').innerHTML = rows.map(function (r) {
      return '<dt>' + esc(r[0]) + '</dt><dd>' + esc(r[1]) + '</dd>';
    }).join('');
  }

  function draw(body) {
    incident = body;
    document.getElementById('gm-category').textContent = F.category(body.category);
    var state = document.getElementById('gm-state');
    state.textContent = F.stateLabel(body.status);
    state.style.background = F.stateColour(body.status);
    state.dataset.status = body.status;
    var due = document.getElementById('gm-due');
    var open = (config.openStates || []).indexOf(body.status) >= 0;
    due.textContent = body.deadline_at && open ? F.dueText(body) : '';
    due.className = 'gm-due ' + (open ? F.timeClass(body) : '');
    document.getElementById('gm-masked').hidden = !body.masked;
    facts(body);
    if (body.lat !== null && body.lat !== undefined) {
      if (marker) { marker.remove(); }
      marker = L.circleMarker(F.latLng(body.lon, body.lat), {radius: 10, fillColor: F.stateColour(body.status),
        fillOpacity: 0.95, color: '#fff', weight: 2}).addTo(map);
      map.setView(F.latLng(body.lon, body.lat), 17);
    } else {
      map.setView([36.7, 119.1], 12);
    }
    drawButtons();
    if (body.photos) { drawPhotos(body.photos); }
  }

  function drawButtons() {
    var allowed = config.allowed || [];
    buttons.innerHTML = allowed.length ? allowed.map(function (a) {
      return '<button type="button" data-action="' + esc(a) + '">' +
        esc((config.t.buttons || {})[a] || a) + '</button>';
    }).join('') : '<p class="gm-hint">' + esc(t('no_actions')) + '</p>';
  }

  function drawPhotos(photos) {
    photos = photos || [];
    var box = document.getElementById('gm-photo-list');
    box.innerHTML = photos.length ? photos.map(function (p) {
      return '<a href="' + esc(p.url) + '"><img src="' + esc(p.thumb_url || p.url) + '" alt="' +
        esc(p.stage) + '"></a>';
    }).join('') : '<p class="gm-hint">' + esc(t('no_photos')) + '</p>';
  }

  function stepLabel(h) {
    return h.action_zh || (config.t.steps || {})[h.action] || h.action;
  }

  function drawHistory(body) {
    document.getElementById('gm-history').innerHTML = body.history.map(function (h) {
      var source = incident && incident.source;
      var who = h.actor_label || (h.action === 'reported' ?
        (config.t.sources || {})[source] || source || '' : h.actor);
      var level = h.level_zh ? ' · ' + h.level_zh : '';
      var rating = h.rating_zh ? ' · ' + h.rating_zh : '';
      return '<li data-action="' + esc(h.action) + '"><b>' + esc(stepLabel(h)) + '</b>' +
        esc(level + rating) + ' · ' + esc(who || '') + '<br><span class="gm-when">' +
        esc(h.at_local || F.localTime(h.at)) + '</span>' +
        (h.note && h.action !== 'reported' ? '<br>' + esc(h.note) : '') + '</li>';
    }).join('');
    var urges = body.history.filter(function (h) { return h.action === 'urge'; });
    var box = document.getElementById('gm-urge');
    if (urges.length) {
      var u = urges[urges.length - 1];
      box.textContent = t('urged') + ' · ' + (u.actor_label || u.actor) + ' · ' +
        (u.at_local || F.localTime(u.at)) + '：' + (u.note || '');
      box.hidden = false;
    }
  }

  function load() {
    return F.getJSON(api).then(function (body) {
      draw(body);
      if (!body.photos) { drawPhotos([]); }
      GM.ready();
      return Promise.all([
        F.getJSON(api + '/history').then(drawHistory),
        body.photos ? null : gridmapCommon.send(api + '/photos').then(function (r) {
          if (r.ok) { return r.json().then(drawPhotos); }
          drawPhotos([]);
        }).catch(function () { drawPhotos([]); })
      ]);
    }).catch(function (err) {
      F.say(t('load_failed', {error: err.message}), false);
      if (!map._loaded) { map.setView([36.7, 119.1], 12); }
      GM.ready();
    });
  }

  function open(action) {
    pending = action;
    form.hidden = false;
    var toUnit = action === 'hand_over';  // 交办: to the head of a unit
    var chooses = action === 'dispatch' || action === 'redispatch' || toUnit;
    document.getElementById('gm-handler-label').hidden = !chooses;
    if (toUnit) {
      handler.innerHTML = '<option value="">' + esc(t('choose_unit')) + '</option>' +
        (config.units || []).map(function (u) {
          return '<option value="' + u.id + '">' + esc(u.name) + '（' + esc(u.head || '') +
            '）</option>';
        }).join('');
      handler.value = (config.units || []).length === 1 ? String(config.units[0].id) : '';
    } else if (chooses) {
      handler.innerHTML = '<option value="">' + esc(t('choose_handler')) + '</option>' +
        (config.handlers || []).map(function (h) {
          return '<option value="' + h.id + '">' + esc(h.name) + '（' + esc(h.role) + '）</option>';
        }).join('');
      var primary = (config.handlers || []).filter(function (h) { return h.primary; })[0];
      handler.value = action === 'dispatch' && primary ? String(primary.id) : '';
    }
    document.getElementById('gm-rating').hidden = action !== 'evaluate';
    document.getElementById('gm-step-photos-label').hidden = !PHOTO_STAGE[action];
    var required = needsNote(action);
    note.placeholder = required ? t('note_required', {action: (config.t.buttons || {})[action]}) :
      t('note_optional');
    note.required = required;
    buttons.querySelectorAll('button').forEach(function (b) {
      b.classList.toggle('gm-primary', b.dataset.action === action);
    });
    (chooses ? handler : note).focus();
  }

  function needsNote(action) {
    return (config.needsNote || []).indexOf(action) >= 0 || NOTE_ALWAYS.indexOf(action) >= 0;
  }

  buttons.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-action]');
    if (button) { open(button.dataset.action); }
  });
  document.getElementById('gm-dismiss').addEventListener('click', function () {
    form.hidden = true;
    pending = null;
  });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!pending || !incident) { return; }
    var text = note.value.trim();
    if (needsNote(pending) && !text) {
      F.say(t('note_required', {action: (config.t.buttons || {})[pending]}), false);
      note.focus();
      return;
    }
    var body = {action: pending, expected_version: incident.version};
    if (text) { body.note = text; }
    if (pending === 'dispatch' || pending === 'redispatch') {
      var id = Number(handler.value);
      if (!id) { F.say(t('choose_handler'), false); return; }
      body.handler_staff_id = id;
    }
    if (pending === 'hand_over') {
      var unit = Number(handler.value);
      if (!unit) { F.say(t('choose_unit'), false); return; }
      body.unit_id = unit;
    }
    if (pending === 'evaluate') {
      body.rating = form.querySelector('input[name=rating]:checked').value;
    }
    var url = api + '/transitions';  // 督办 (urge) is a step of its own too
    var files = Array.prototype.slice.call(document.getElementById('gm-step-photos').files || []);
    var stage = PHOTO_STAGE[pending];
    var step = {kind: 'step', url: url, body: body, caseId: config.caseId};
    F.outbox.enqueue(step).then(function (item) {
      return files.reduce(function (p, file, i) {
        return p.then(function () {
          return F.outbox.enqueue({kind: 'photo', created: item.created + i + 1,
            url: api + '/photos', stage: stage, file: file, fileName: file.name,
            caseId: config.caseId, label: '#' + config.caseId});
        });
      }, Promise.resolve()).then(function () { return item; });
    }).then(function (item) {
      form.hidden = true;
      form.dataset.waiting = '1';
      return F.outbox.flush().then(function () { return F.outbox.all(); }).then(function (items) {
        var left = items.filter(function (i) { return i.key === item.key; })[0];
        delete form.dataset.waiting;
        if (!left) {
          F.say(t('sent'), true);
          window.location.reload();
        } else if (left.state === 'pending') {
          F.say(t('queued'), true);
        } else {
          F.say(left.state === 'failed' ? t('failed', {error: left.error}) : t('conflict_text'),
            false);
        }
      });
    });
  });

  document.addEventListener('gm-conflict', function () { load(); });  // show the case as it is
  document.addEventListener('gm-sent', function (event) {
    // A step queued without signal went through: the page again, with the next steps.
    var item = event.detail.item;
    if (item.kind === 'step' && item.caseId === config.caseId && !form.dataset.waiting) {
      window.location.reload();
    }
  });
  load();
}());
