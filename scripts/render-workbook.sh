#!/usr/bin/env bash
# Renders a workbook as a reader's printer would: PDF through LibreOffice
# headless, then PNG pages, to look at before a workbook goes out.
#   scripts/render-workbook.sh FILE.xlsx [OUTDIR]
# Installs Debian's libreoffice-calc-nogui, fonts-nanum and poppler-utils
# first where this user may.
set -euo pipefail
xlsx=${1:?usage: render-workbook.sh FILE.xlsx [OUTDIR]}
out=${2:-$(dirname "$xlsx")/render}
if ! command -v soffice >/dev/null || ! command -v pdftoppm >/dev/null || ! fc-list 2>/dev/null | grep -i nanum >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "render: needs libreoffice-calc-nogui fonts-nanum poppler-utils (apt-get install them)" >&2
		exit 1
	fi
	echo "installing LibreOffice Calc, Nanum fonts and poppler ..." >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q libreoffice-calc-nogui fonts-nanum poppler-utils >/dev/null
fi
mkdir -p "$out"
name=$(basename "$xlsx" .xlsx)
soffice --headless --convert-to pdf --outdir "$out" "$xlsx" >/dev/null 2>&1
pdftoppm -r 80 -png "$out/$name.pdf" "$out/$name"
echo "$out/$name.pdf: $(pdfinfo "$out/$name.pdf" | awk '/^Pages/ {print $2}') pages; PNG pages in $out"
