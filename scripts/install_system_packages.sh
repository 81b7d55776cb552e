#!/usr/bin/env bash
# System packages the CPU engines and the sample documents need, installed when missing:
# Tesseract 5 with English, Russian and orientation data, fonts for the sample pages (DejaVu; WenQuanYi for Chinese),
# Chromium for the Documents view's browser tests (driven by Playwright, which downloads no browser), and qpdf and
# poppler-utils, with which the tests read the searchable PDFs back (qpdf --check, pdftotext).
# Packages given as arguments are added (the image environments install what a Dockerfile's apt-get line names).
set -euo pipefail

packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus tesseract-ocr-osd fonts-dejavu-core fonts-wqy-microhei chromium \
  qpdf poppler-utils "$@")
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${missing[*]}. This is not a Debian/Ubuntu machine: install Tesseract 5" \
       "with English, Russian and OSD language data and the DejaVu fonts, then run make again." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing system packages: ${missing[*]}"
$sudo apt-get update -qq || echo "apt-get update failed; trying with the current package lists" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
