#!/usr/bin/env bash
# Install what gridmap needs on a fresh Debian/Ubuntu machine; safe to run again.
#   scripts/bootstrap.sh runtime   PostGIS server packages, virtualenv, the package
#   scripts/bootstrap.sh dev       the above plus Chromium and test/lint tools
set -euo pipefail
mode="${1:-runtime}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

PG_VERSION="${GRIDMAP_PG_VERSION:-15}"
apt_packages=(
  "postgresql-${PG_VERSION}"
  "postgresql-${PG_VERSION}-postgis-3"
  "postgresql-${PG_VERSION}-pgrouting"
  postgresql-contrib
  fonts-noto-cjk  # Chinese text in printable maps
)
if [ "$mode" = "dev" ]; then
  apt_packages+=(chromium gdal-bin)  # gdal-bin: ogrinfo/ogr2ogr, the OAPIF client in the tests
fi

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  missing+=(python3 python3-venv python3-dev)
fi

if ((${#missing[@]})); then
  echo "gridmap: installing system packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "gridmap: please install as root: apt-get install ${missing[*]}" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The virtualenv is (re)built when pyproject.toml changes.
stamp=".venv/.gridmap-$mode-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv/bin/python ]; then
  echo "gridmap: creating .venv"
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ]; then
  echo "gridmap: installing Python dependencies ($mode), log in .venv/pip.log"
  target="."
  [ "$mode" = "dev" ] && target=".[dev]"
  if ! { .venv/bin/python -m pip install --upgrade pip \
         && .venv/bin/python -m pip install -e "$target"; } >.venv/pip.log 2>&1; then
    tail -n 30 .venv/pip.log >&2
    echo "gridmap: installing Python dependencies failed; the full log is .venv/pip.log" >&2
    exit 1
  fi
  rm -f .venv/.gridmap-"$mode"-*
  touch "$stamp"
fi
