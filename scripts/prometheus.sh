#!/usr/bin/env bash
# Installs Debian's prometheus (a real remote-write sender for the ingestion
# test) where this user may. The package starts nothing here. Where it may
# not, it says so in one line and succeeds: the test then skips with its own
# line.
set -uo pipefail

command -v prometheus >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "prometheus.sh: prometheus missing and this user cannot apt-get install it: the remote-write test will skip" >&2
	exit 0
fi
echo "installing Debian's prometheus ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q prometheus >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q prometheus >/dev/null 2>&1; } ||
	echo "prometheus.sh: apt-get could not install prometheus: the remote-write test will skip" >&2
# The package may start a system Prometheus on :9090; the tests run their own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus prometheus-node-exporter >/dev/null 2>&1 || true; fi
exit 0
