/*
 * gridmap grid picker (/incidents/grid): search and filter the grids listed.
 *
 * The page lists every grid the person covers (at most a district's few hundred),
 * so the search and filters run in the page, at each keystroke: a grid is shown
 * when its code, name, community, subdistrict or grid manager contains every word
 * typed, and it lies in the chosen subdistrict and community, and (if asked) it
 * has overdue cases. The choice is kept in the address (?q=&subdistrict=
 * &community=&overdue=1) so a reload or a shared link shows the same list.
 * Without scripts the whole list is shown.
 */
(function () {
  'use strict';
  var form = document.getElementById('gm-filters');
  if (!form) { return; }
  var search = document.getElementById('gm-search');
  var subdistrict = document.getElementById('gm-subdistrict');
  var community = document.getElementById('gm-community');
  var overdue = document.getElementById('gm-overdue');
  var shown = document.getElementById('gm-shown');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#gm-grids tbody tr'));
  var communityOptions = Array.prototype.slice.call(community.options);

  function words() {
    return search.value.toLowerCase().split(/\s+/).filter(function (w) { return w; });
  }

  function limitCommunities() {
    var parent = subdistrict.value;
    communityOptions.forEach(function (option) {
      option.hidden = Boolean(option.value && parent && option.dataset.parent !== parent);
    });
    var chosen = community.selectedOptions[0];
    if (chosen && chosen.hidden) { community.value = ''; }
  }

  function keep() {
    var params = new URLSearchParams();
    if (search.value.trim()) { params.set('q', search.value.trim()); }
    if (subdistrict.value) { params.set('subdistrict', subdistrict.value); }
    if (community.value) { params.set('community', community.value); }
    if (overdue.checked) { params.set('overdue', '1'); }
    var query = params.toString();
    window.history.replaceState(null, '', window.location.pathname + (query ? '?' + query : ''));
  }

  function apply() {
    var wanted = words();
    var count = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var show = wanted.every(function (w) { return d.search.indexOf(w) >= 0; }) &&
        (!subdistrict.value || d.subdistrict === subdistrict.value) &&
        (!community.value || d.community === community.value) &&
        (!overdue.checked || Number(d.overdue) > 0);
      row.hidden = !show;
      if (show) { count += 1; }
    });
    shown.textContent = count === rows.length
      ? '共 ' + rows.length + ' 个网格'
      : '显示 ' + count + ' / ' + rows.length + ' 个网格' + (count ? '' : '：没有符合条件的网格');
    document.body.dataset.shown = String(count);
  }

  function changed() {
    limitCommunities();
    apply();
    keep();
  }

  var initial = new URLSearchParams(window.location.search);
  search.value = initial.get('q') || '';
  subdistrict.value = initial.get('subdistrict') || '';
  if (subdistrict.selectedIndex < 0) { subdistrict.value = ''; }
  limitCommunities();
  community.value = initial.get('community') || '';
  if (community.selectedIndex < 0) { community.value = ''; }
  overdue.checked = initial.get('overdue') === '1';

  form.addEventListener('submit', function (e) { e.preventDefault(); changed(); });
  search.addEventListener('input', changed);
  [subdistrict, community, overdue].forEach(function (el) {
    el.addEventListener('change', changed);
  });
  limitCommunities();
  apply();
}());
