#!/usr/bin/env bash
# Static checks of every GDScript file: gdparse, gdlint (godot_plugin/gdlintrc), gdformat --check.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${GDTOOLKIT_BIN:-$REPO/.venv/bin}"
cd "$REPO/godot_plugin"  # gdlint reads ./gdlintrc
mapfile -t FILES < <(find -L addons demo ../tests/godot -name '*.gd' -not -path 'demo/addons/*' | sort)
"$BIN/gdparse" "${FILES[@]}" >/dev/null
"$BIN/gdlint" "${FILES[@]}"
"$BIN/gdformat" --check "${FILES[@]}"
echo "gdscript: ${#FILES[@]} files parse, lint and format clean"
