/*
 * The floor of benchmarks/page_load_bench.py: the least a map page of gridmap can do.
 * Vendored Leaflet draws one grid-sized polygon (no base map, no data request), then
 * the page declares itself usable as every map page does through GM.ready():
 * performance.mark('gm-usable') and data-gm-ready="1" on <html>.
 */
(function () {
  'use strict';
  var map = L.map('map');
  var polygon = L.polygon([
    [36.7080, 119.1370], [36.7080, 119.1440], [36.7030, 119.1450], [36.7020, 119.1380]
  ], {color: '#08519c', weight: 2, fillOpacity: 0.2}).addTo(map);
  map.fitBounds(polygon.getBounds(), {padding: [20, 20]});
  performance.mark('gm-usable');
  document.documentElement.dataset.gmReady = '1';
}());
