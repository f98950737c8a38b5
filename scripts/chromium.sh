#!/usr/bin/env bash
# Installs Debian's chromium and the Nanum fonts (Hangul) for the dashboard's
# browser test, where this user may. Where it may not, it says so in one line
# and succeeds: the browser test then skips with its own line.
set -uo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; then
	fc-list 2>/dev/null | grep -i nanum >/dev/null && exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "chromium.sh: chromium or fonts-nanum missing and this user cannot apt-get install them: the browser test will skip" >&2
	exit 0
fi
echo "installing Debian's chromium and fonts-nanum ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium fonts-nanum >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium fonts-nanum >/dev/null 2>&1; } ||
	echo "chromium.sh: apt-get could not install chromium: the browser test will skip" >&2
exit 0
