#!/bin/sh
# Builds the plugin and packs the zip Grafana installs:
#   plugins/fleetwatch-datasource/package.sh [OUTDIR] [GOOS/GOARCH ...]
# OUTDIR defaults to bin/; platforms default to linux/amd64 linux/arm64.
# The zip holds one folder named after the plugin id with plugin.json,
# module.js, the logo, the README and gpx_fleetwatch_<os>_<arch>.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
id=fleetwatch-incidents-datasource
out=${1:-bin}
[ $# -gt 0 ] && shift
platforms=${*:-linux/amd64 linux/arm64}
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$id/img"
cp "$here/plugin.json" "$here/module.js" "$here/README.md" "$stage/$id/"
cp "$here/img/logo.svg" "$stage/$id/img/"
for p in $platforms; do
	os=${p%/*}; arch=${p#*/}
	(cd "$here" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags '-s -w' \
		-o "$stage/$id/gpx_fleetwatch_${os}_${arch}" ./cmd/gpx_fleetwatch)
done
version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$here/plugin.json")
rm -f "$out/$id-$version.zip"
(cd "$stage" && zip -qr "$out/$id-$version.zip" "$id")
echo "$out/$id-$version.zip"
