#!/usr/bin/env bash
# Reproduces web/vendor/ from the npm registry at the versions pinned in package.json and
# package-lock.json (npm ci checks the lock's integrity hashes). Only maintainers run this,
# after changing a version; `cargo build` embeds the committed files and needs no npm.
#
#   crates/pvekit-serve/web/vendor.sh          # refresh vendor/ (then review the diff)
#   crates/pvekit-serve/web/vendor.sh --check  # fail when vendor/ differs from npm's files
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
m="$work/node_modules"
out="$work/vendor"
mkdir -p "$out/uplot" "$out/xterm"
cp "$m/uplot/dist/uPlot.esm.js" "$m/uplot/dist/uPlot.min.css" "$m/uplot/LICENSE" "$out/uplot/"
cp "$m/@xterm/xterm/lib/xterm.mjs" "$m/@xterm/xterm/css/xterm.css" "$out/xterm/"
cp "$m/@xterm/xterm/LICENSE" "$out/xterm/LICENSE"
cp "$m/@xterm/addon-fit/lib/addon-fit.mjs" "$out/xterm/"
cp "$m/@xterm/addon-fit/LICENSE" "$out/xterm/LICENSE.addon-fit"
# Source maps are not shipped: drop their trailing references.
sed -i '/^\/\/# sourceMappingURL=/d' "$out"/*/*.mjs "$out"/*/*.js
for pkg in uplot @xterm/xterm @xterm/addon-fit; do
    node -e 'const p=require(process.argv[1]+"/package.json");console.log(p.name+"@"+p.version+" "+p.license)' "$m/$pkg"
done >"$out/VERSIONS"
if [[ "${1:-}" == "--check" ]]; then
    diff -r "$out" vendor && echo "vendor/ matches npm"
else
    rm -rf vendor
    cp -r "$out" vendor
    echo "vendor/ refreshed:"
    cat vendor/VERSIONS
fi
