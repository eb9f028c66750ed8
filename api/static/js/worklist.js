/*
 * gridmap grid manager's worklist (/incidents/grid/{code}).
 *
 * GET /api/v1/worklists/{code} gives the grid's open cases, soonest deadline
 * first (overdue ones lead and are highlighted), each with its version and
 * the actions the workflow allows now. A button posts that action to
 * /api/v1/incidents/{id}/transitions quoting the version; actions that must
 * say why (window.GRIDMAP_WORKLIST.style.actions[a].needsNote) ask for a note
 * first. Dispatch and redispatch (style.actions[a].choosesHandler) ask whom:
 * a chooser of the grid's handlers (the worklist's ``handlers``: the grid's
 * staff, then the community's; names and roles, no phone numbers), the grid
 * manager preselected for a dispatch, and post ``handler_staff_id``. A 409
 * reloads the list and says why (someone else changed the case, or the step
 * is no longer allowed). After every step the list is reloaded. Who acts is the
 * logged-in person (the server knows them from the login; gridmapCommon.send adds
 * the page's CSRF token to each step and sends an ended login to the login page).
 * Rows and map markers select each other. Style: layers/incidents.py.
 */
(function () {
  'use strict';
  var escapeHtml = gridmapCommon.escapeHtml;
  var send = gridmapCommon.send;
  var config = window.GRIDMAP_WORKLIST;
  var style = config.style;
  var labels = style.labels;
  var api = config.api;

  var list = document.getElementById('gm-list');
  var count = document.getElementById('gm-count');
  var message = document.getElementById('gm-message');

  var items = {};      // id -> incident of the last load
  var handlers = [];   // whom cases can be dispatched to, as of the last load
  var managerId = null; // the grid's primary grid manager (preselected for dispatch)
  var markers = {};    // id -> circle marker
  var selected = null; // id
  var loads = 0;
  var clockOffset = 0; // server now - browser now, milliseconds

  var map = L.map('gm-map', {zoomSnap: 0.25});
  L.control.scale({imperial: false}).addTo(map);
  var gridLayer = L.geoJSON(null, {style: function () { return style.grid; },
    interactive: false}).addTo(map);
  var markerLayer = L.layerGroup().addTo(map);
  window.gridmapWorklist = {map: map, markers: markers};  // for tests and the console


  function localTime(iso) {
    if (!iso) { return '—'; }
    return new Date(iso).toLocaleString('zh-CN', {timeZone: 'Asia/Shanghai', hour12: false,
      month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'});
  }

  function duration(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) { return days + '天' + hours + '小时'; }
    if (hours) { return hours + '小时' + mins + '分'; }
    return mins + '分';
  }

  function stateOf(status) {
    return style.states[status] || {label: status, colour: '#777'};
  }

  function actionLabel(action) {
    if (style.actions[action]) { return style.actions[action].label; }
    return {reported: '上报', merge: '合并'}[action] || action;
  }

  function say(text, ok) {
    message.textContent = text;
    message.className = ok ? 'gm-ok' : 'gm-error';
  }

  function dueText(item) {
    if (!item.deadline_at) { return labels.no_deadline + '（' + localTime(item.reported_at) + ' 上报）'; }
    var left = (new Date(item.deadline_at).getTime() - (Date.now() + clockOffset)) / 1000;
    var text = '期限 ' + localTime(item.deadline_at) + '，';
    if (left < 0) { return text + labels.overdue + ' ' + duration(left); }
    text += labels.remaining + ' ' + duration(left);
    if (item.remaining_working_s !== null && item.remaining_working_s !== undefined) {
      text += '（工作时间 ' + duration(item.remaining_working_s) + '）';
    }
    return text;
  }

  // --- list and markers ------------------------------------------------------------------
  function row(item) {
    var state = stateOf(item.status);
    var buttons = item.allowed.map(function (a) {
      return '<button type="button" data-action="' + escapeHtml(a) + '">' +
        escapeHtml(actionLabel(a)) + '</button>';
    }).join('');
    var category = config.categories[item.category] || item.category;
    return '<li class="gm-item' + (item.overdue ? ' gm-overdue' : '') + '" data-id="' + item.id +
      '" data-status="' + escapeHtml(item.status) + '" data-version="' + item.version + '">' +
      '<div class="gm-head"><span><b>#' + item.id + '</b> ' + escapeHtml(category) + '</span>' +
      '<span class="gm-state" style="background:' + state.colour + '">' +
      escapeHtml(state.label) + '</span></div>' +
      '<div class="gm-due">' + escapeHtml(dueText(item)) + '</div>' +
      '<div class="gm-desc">' + escapeHtml(item.description || item.address || '') +
      (item.handler ? ' · <span class="gm-handler">' + escapeHtml(labels.handler) + ' ' +
        escapeHtml(item.handler.name) + '</span>' : '') +
      (item.handling_level !== 'grid' ? ' · 已上报至' +
        escapeHtml(style.levels[item.handling_level] || item.handling_level) : '') +
      '</div>' +
      '<div class="gm-actions">' + buttons +
      '<button type="button" data-history="1">' + escapeHtml(labels.history) + '</button></div>' +
      '<div class="gm-note"><label class="gm-choose">' + escapeHtml(labels.handler) +
      ' <select></select></label><textarea rows="2" placeholder="' + escapeHtml(labels.note) +
      '"></textarea><button type="button" data-confirm="1">' + escapeHtml(labels.confirm) +
      '</button><button type="button" data-dismiss="1">' + escapeHtml(labels.cancel_form) +
      '</button></div><div class="gm-history"></div></li>';
  }

  function drawMarkers(incidents) {
    markerLayer.clearLayers();
    Object.keys(markers).forEach(function (k) { delete markers[k]; });
    incidents.forEach(function (item) {
      var state = stateOf(item.status);
      var marker = L.circleMarker([item.lat, item.lon], L.extend({}, style.marker, {
        radius: style.marker.radius, fillColor: state.colour,
        color: item.overdue ? style.overdue : style.marker.color, bubblingMouseEvents: false
      }));
      marker.bindPopup(function () {
        var category = config.categories[item.category] || item.category;
        return '<table class="gm-popup"><tr><th>#' + item.id + '</th><td>' +
          escapeHtml(category) + '</td></tr><tr><th>状态</th><td>' + escapeHtml(state.label) +
          '</td></tr><tr><th>期限</th><td>' + escapeHtml(dueText(item)) + '</td></tr>' +
          '<tr><th>描述</th><td>' + escapeHtml(item.description || '—') + '</td></tr></table>';
      });
      marker.on('click', function () { select(item.id, false); });
      marker.addTo(markerLayer);
      markers[item.id] = marker;
    });
  }

  function select(id, fromList) {
    if (selected !== null && markers[selected]) {
      markers[selected].setStyle({weight: style.marker.weight});
    }
    var previous = list.querySelector('.gm-selected');
    if (previous) { previous.classList.remove('gm-selected'); }
    selected = id;
    var li = list.querySelector('.gm-item[data-id="' + id + '"]');
    if (li) {
      li.classList.add('gm-selected');
      if (!fromList) { li.scrollIntoView({block: 'nearest'}); }
    }
    var marker = markers[id];
    if (marker) {
      marker.setStyle({weight: style.selectedWeight});
      if (fromList) {
        map.panTo(marker.getLatLng());
        marker.openPopup();
      }
    }
  }

  function load() {
    return send(api + '/worklists/' + encodeURIComponent(config.gridCode))
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.description || response.statusText); }
          return body;
        });
      })
      .then(function (body) {
        clockOffset = new Date(body.now).getTime() - Date.now();
        handlers = body.handlers || [];
        managerId = body.manager ? body.manager.id : null;
        if (!loads) {
          gridLayer.addData(body.grid.geometry);
          map.fitBounds(gridLayer.getBounds(), {padding: [20, 20]});
        }
        items = {};
        body.incidents.forEach(function (item) { items[item.id] = item; });
        list.innerHTML = body.incidents.length ? body.incidents.map(row).join('')
          : '<li>' + escapeHtml(labels.no_open) + '</li>';
        count.textContent = '待办 ' + body.incidents.length + ' 件，其中' + labels.overdue + ' ' +
          body.overdue + ' 件';
        drawMarkers(body.incidents);
        if (selected !== null && items[selected]) { select(selected, false); }
        else { selected = null; }
        loads += 1;
        document.body.dataset.loads = String(loads);
      })
      .catch(function (err) { say('加载失败：' + err.message, false); });
  }

  // --- workflow --------------------------------------------------------------------------
  function handlerName(id) {
    for (var i = 0; i < handlers.length; i += 1) {
      if (handlers[i].id === id) { return handlers[i].name; }
    }
    return '#' + id;
  }

  function act(item, action, note, handlerId) {
    var body = {action: action, expected_version: item.version};
    if (note) { body.note = note; }
    if (handlerId) { body.handler_staff_id = handlerId; }
    return send(api + '/incidents/' + item.id + '/transitions', {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (response.ok) {
          say('#' + item.id + ' ' + actionLabel(action) + '：' + stateOf(item.status).label +
            ' → ' + stateOf(answer.status).label +
            (handlerId ? '，' + labels.handler + ' ' + handlerName(handlerId) : ''), true);
        } else if (response.status === 409 && answer.current_version !== undefined) {
          say('#' + item.id + ' ' + labels.stale + '（版本 ' + item.version + ' → ' +
            answer.current_version + '）', false);
        } else if (response.status === 409) {
          say('#' + item.id + ' 无法' + actionLabel(action) + '：当前状态只允许 ' +
            (answer.allowed || []).map(actionLabel).join('、') + '。已重新载入。', false);
        } else {
          say('#' + item.id + ' ' + actionLabel(action) + '失败：' + answer.description, false);
          return;
        }
        return load();
      });
    }).catch(function (err) { say('提交失败：' + err.message, false); });
  }

  function showHistory(item, box) {
    if (box.style.display === 'block') { box.style.display = 'none'; return; }
    gridmapCommon.getJSON(api + '/incidents/' + item.id + '/history')
      .then(function (body) {
        box.innerHTML = '<table>' + body.history.map(function (h) {
          // The intake step's actor may be the reporter: show the source, not the person.
          var who = h.action === 'reported' ? (item.source || '上报') : h.actor;
          return '<tr><td>' + escapeHtml(localTime(h.at)) + '</td><td>' +
            escapeHtml(actionLabel(h.action)) + '</td><td>' + escapeHtml(stateOf(h.to_state).label) +
            '</td><td>' + escapeHtml(who) + '</td><td>' +
            escapeHtml(h.action === 'reported' ? '' : (h.note || '')) + '</td></tr>';
        }).join('') + '</table>';
        box.style.display = 'block';
      })
      .catch(function (err) { say('处理记录加载失败：' + err.message, false); });
  }

  function handlerOption(h, item) {
    var what = h.role + (h.duty ? '·' + h.duty : '') +
      (h.primary_manager ? '·' + labels.primary_manager : '') +
      (item.handler && item.handler.id === h.id ? '·' + labels.current_handler : '');
    return '<option value="' + h.id + '">' + escapeHtml(h.name) + '（' + escapeHtml(what) +
      '）</option>';
  }

  // Dispatch preselects the grid manager; redispatch makes the user choose someone.
  function fillChooser(select, item, action) {
    var groups = [[labels.grid_staff, true], [labels.community_staff, false]];
    var html = '<option value="">' + escapeHtml(labels.choose_handler) + '</option>';
    groups.forEach(function (group) {
      var members = handlers.filter(function (h) { return h.in_grid === group[1]; });
      if (!members.length) { return; }
      html += '<optgroup label="' + escapeHtml(group[0]) + '">' +
        members.map(function (h) { return handlerOption(h, item); }).join('') + '</optgroup>';
    });
    select.innerHTML = html;
    select.value = action === 'dispatch' && managerId !== null ? String(managerId) : '';
    if (select.selectedIndex < 0) { select.value = ''; }
  }

  function openForm(item, noteBox, action, needs) {
    noteBox.dataset.action = action;
    var chooser = noteBox.querySelector('.gm-choose');
    chooser.style.display = needs.choosesHandler ? 'block' : 'none';
    if (needs.choosesHandler) { fillChooser(chooser.querySelector('select'), item, action); }
    var textarea = noteBox.querySelector('textarea');
    textarea.placeholder = needs.needsNote ? actionLabel(action) + '的理由（必填）'
      : labels.note_optional;
    noteBox.style.display = 'block';
    (needs.choosesHandler ? chooser.querySelector('select') : textarea).focus();
  }

  list.addEventListener('click', function (event) {
    var li = event.target.closest('.gm-item');
    if (!li) { return; }
    var item = items[li.dataset.id];
    var button = event.target.closest('button');
    var noteBox = li.querySelector('.gm-note');
    if (!button) {
      if (!event.target.closest('.gm-note')) { select(item.id, true); }  // not while typing
      return;
    }
    if (button.dataset.history) { showHistory(item, li.querySelector('.gm-history')); return; }
    if (button.dataset.dismiss) { noteBox.style.display = 'none'; return; }
    if (button.dataset.confirm) {
      var pending = noteBox.dataset.action;
      var spec = style.actions[pending] || {};
      var note = noteBox.querySelector('textarea').value.trim();
      var handlerId = null;
      if (spec.choosesHandler) {
        handlerId = Number(noteBox.querySelector('select').value) || null;
        if (!handlerId) { say(labels.choose_handler, false); return; }
      }
      if (spec.needsNote && !note) { say('请填写' + actionLabel(pending) + '的理由', false); return; }
      act(item, pending, note, handlerId);
      return;
    }
    var action = button.dataset.action;
    var needs = style.actions[action] || {};
    if (needs.needsNote || needs.choosesHandler) {
      openForm(item, noteBox, action, needs);
      return;
    }
    act(item, action);
  });

  load();
}());
