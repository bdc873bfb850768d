#!/usr/bin/env bash
# Refresh the Swagger UI that /api/docs serves from hall_server/static/vendor/swagger-ui/
# (the hall serves it itself: a hall's network may have no internet). Needs npm.
set -euo pipefail
version=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
dest="$here/hall_server/static/vendor/swagger-ui"
cp "$tmp"/package/{swagger-ui-bundle.js,swagger-ui.css,LICENSE,NOTICE} "$dest/"
grep '"version"' "$tmp/package/package.json" | sed 's/[^0-9.]//g' > "$dest/VERSION"
echo "swagger-ui-dist $(cat "$dest/VERSION") in $dest"
