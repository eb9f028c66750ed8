#!/usr/bin/env bash
# Vendor the browser assets the web map and the API docs need into
# api/static/vendor/, so that / and /docs work without internet access.
#
# Every file comes from an npm package of an exact version (`npm pack`), so the
# result is reproducible; source maps, sources and unused builds are skipped to
# keep the tree small. Versions match what folium and FastAPI would otherwise
# load from CDNs; layers/webmap.py maps folium's asset names onto these paths
# and api/app.py points /docs at swagger-ui. Re-run after changing a version
# here and update api/static/vendor/README.md.
#
# Usage: scripts/vendor_assets.sh            (from anywhere; needs npm and tar)
set -euo pipefail

LEAFLET=1.9.3                 # folium.Map default_js "leaflet"
JQUERY=3.7.1                  # folium "jquery" (popups use $)
BOOTSTRAP=5.2.2               # folium "bootstrap", "bootstrap_css"
FONTAWESOME=6.2.0             # folium "awesome_markers_font_css"
AWESOME_MARKERS=2.0.2         # folium "awesome_markers", "awesome_markers_css"
GLYPHICONS=1.0.1              # folium "glyphicons_css" (Bootstrap 3.3.7 glyphicons only)
SWAGGER_UI=5.35.0             # FastAPI /docs
PROTOMAPS_LEAFLET=5.1.0       # vector tiles on the maps (api/static/js/vector-tiles.js)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/api/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

unpack() { # unpack NAME@VERSION DIR: npm pack into $WORK, extract into $WORK/DIR
    local spec="$1" dir="$2"
    mkdir -p "$WORK/$dir"
    local tgz
    tgz="$(cd "$WORK" && npm pack --silent "$spec" 2>/dev/null | tail -n 1)"
    tar -xzf "$WORK/$tgz" -C "$WORK/$dir" --strip-components=1
}

put() { # put SRC... DESTDIR: copy files into $DEST/DESTDIR
    local target="${*: -1}"
    mkdir -p "$DEST/$target"
    cp "${@:1:$#-1}" "$DEST/$target/"
}

rm -rf "$DEST/leaflet" "$DEST/jquery" "$DEST/bootstrap" "$DEST/fontawesome" \
    "$DEST/awesome-markers" "$DEST/glyphicons" "$DEST/folium" "$DEST/swagger-ui" \
    "$DEST/protomaps-leaflet"

unpack "leaflet@$LEAFLET" leaflet
put "$WORK"/leaflet/dist/leaflet.js "$WORK"/leaflet/dist/leaflet.css "$WORK"/leaflet/LICENSE leaflet
put "$WORK"/leaflet/dist/images/*.png leaflet/images

unpack "jquery@$JQUERY" jquery
put "$WORK"/jquery/dist/jquery.min.js "$WORK"/jquery/LICENSE.txt jquery

unpack "bootstrap@$BOOTSTRAP" bootstrap
put "$WORK"/bootstrap/dist/js/bootstrap.bundle.min.js bootstrap/js
put "$WORK"/bootstrap/LICENSE bootstrap
put "$WORK"/bootstrap/dist/css/bootstrap.min.css bootstrap/css

# Only woff2 webfonts: every browser that runs Leaflet 1.9 reads them, and the
# ttf fallbacks the CSS also names are never requested by those browsers.
unpack "@fortawesome/fontawesome-free@$FONTAWESOME" fontawesome
put "$WORK"/fontawesome/css/all.min.css fontawesome/css
put "$WORK"/fontawesome/webfonts/*.woff2 fontawesome/webfonts
put "$WORK"/fontawesome/LICENSE.txt fontawesome

unpack "drmonty-leaflet-awesome-markers@$AWESOME_MARKERS" awesome-markers
put "$WORK"/awesome-markers/js/leaflet.awesome-markers.min.js awesome-markers
put "$WORK"/awesome-markers/css/leaflet.awesome-markers.css awesome-markers
put "$WORK"/awesome-markers/css/images/markers-soft.png \
    "$WORK"/awesome-markers/css/images/markers-soft@2x.png \
    "$WORK"/awesome-markers/css/images/markers-shadow.png \
    "$WORK"/awesome-markers/css/images/markers-shadow@2x.png awesome-markers/images

unpack "glyphicons-only-bootstrap@$GLYPHICONS" glyphicons
put "$WORK"/glyphicons/css/bootstrap.min.css glyphicons/css
put "$WORK"/glyphicons/fonts/glyphicons-halflings-regular.woff2 \
    "$WORK"/glyphicons/fonts/glyphicons-halflings-regular.woff glyphicons/fonts

# folium's own leaflet.awesome.rotate.css is not in any package: it is one rule
# per whole degree, generated here.
mkdir -p "$DEST/folium"
for deg in $(seq 0 359); do
    printf '.fa-rotate-%d{-ms-transform:rotate(%ddeg);-webkit-transform:rotate(%ddeg);transform:rotate(%ddeg)}\n' \
        "$deg" "$deg" "$deg" "$deg"
done >"$DEST/folium/leaflet.awesome.rotate.min.css"

unpack "swagger-ui-dist@$SWAGGER_UI" swagger-ui
put "$WORK"/swagger-ui/swagger-ui-bundle.js "$WORK"/swagger-ui/swagger-ui.css \
    "$WORK"/swagger-ui/favicon-32x32.png "$WORK"/swagger-ui/LICENSE "$WORK"/swagger-ui/NOTICE swagger-ui

# Mapbox Vector Tiles drawn on Leaflet canvas tiles (no WebGL, no workers, no eval: the
# pages' CSP stays as it is). One self-contained IIFE build (window.protomapsL) with its
# dependencies (pbf, @mapbox/vector-tile, rbush, ...) bundled by its authors.
unpack "protomaps-leaflet@$PROTOMAPS_LEAFLET" protomaps-leaflet
put "$WORK"/protomaps-leaflet/dist/protomaps-leaflet.js "$WORK"/protomaps-leaflet/LICENSE \
    protomaps-leaflet

echo "Vendored into $DEST:"
du -sh "$DEST"
