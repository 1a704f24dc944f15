#!/usr/bin/env bash
# Installs what `cargo build --features gdal` needs on Debian: GDAL's headers and
# library (3.6 on bookworm) and pkg-config. gdal-sys ships prebuilt bindings for it,
# so no libclang/bindgen is needed.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libgdal-dev pkg-config
pkg-config --modversion gdal
