#!/usr/bin/env bash
# Install everything the product needs from this repository's own files.
#   bash scripts/install.sh          # runtime (dashboard, CLI)
#   bash scripts/install.sh --dev    # runtime + test tools
# Uses whichever python3/pip is active: create and activate a virtual environment first
# if you do not want the packages in your system Python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extra=()
[[ "${1:-}" == "--dev" ]] && extra=(-r requirements-dev.txt)
"$PY" -m pip install --disable-pip-version-check -q -r requirements.txt "${extra[@]}"
# These declare a dependency on the full `tensorflow` wheel; they work with tensorflow-cpu.
"$PY" -m pip install --disable-pip-version-check -q --no-deps -r requirements-nodeps.txt
# Chromium renders the PNG and SVG chart exports (kaleido). Debian/Ubuntu package; needs root or sudo once.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null; then
    ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install Chromium; PNG/SVG chart export will not work until it is installed" >&2
  else
    echo "warning: install Chromium or Chrome for PNG/SVG chart export (or set BROWSER_PATH)" >&2
  fi
fi
# Fonts for the PDF report: DejaVu Sans (Latin, Greek, Cyrillic, Hebrew, Arabic) and WenQuanYi Micro Hei (Chinese,
# Japanese, Korean). Without them the report prints those letters as "?".
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null; then
    ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-dejavu-core fonts-wqy-microhei >/dev/null) \
      || echo "warning: could not install the report's fonts; the PDF report prints non-Latin letters as '?'" >&2
  fi
fi
# Editable install: makes `fer_core` importable from dashboard/ (streamlit does not add the repo root to sys.path).
"$PY" -m pip install --disable-pip-version-check -q --no-deps -e .
# Convert the shipped weights once for fast inference (LiteRT; about 30 s, cached in weights/.cache/).
"$PY" -m fer_core prepare >/dev/null
