#!/usr/bin/env bash
# Starts a private clickhouse-server for tests: its own config, data dir and ports,
# run as user clickhouse. Installs Debian's clickhouse-server first where it may.
#   scripts/clickhouse-server.sh start DIR PORT   -> prints the DSN when the server answers
#   scripts/clickhouse-server.sh stop DIR
#   scripts/clickhouse-server.sh install
set -euo pipefail

cmd=${1:?usage: clickhouse-server.sh start|stop DIR [PORT] | install}
dir=${2:-}

ensure_installed() {
	command -v clickhouse-server >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "clickhouse-server is not installed and this user cannot install it (apt-get install clickhouse-server)" >&2
		exit 1
	fi
	echo "installing Debian's clickhouse-server ..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q clickhouse-server clickhouse-client >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q clickhouse-server clickhouse-client >/dev/null; }
}

run_as() {
	if [ "$(id -u)" -eq 0 ] && id clickhouse >/dev/null 2>&1; then
		runuser -u clickhouse -- "$@"
	else
		"$@"
	fi
}

case "$cmd" in
install)
	ensure_installed
	;;
start)
	[ -n "$dir" ] || { echo "start: data dir missing" >&2; exit 2; }
	port=${3:-19000}
	ensure_installed
	mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}
	cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <http_port>$((port + 1))</http_port>
    <interserver_http_port>$((port + 2))</interserver_http_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
XML
	cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
	if [ "$(id -u)" -eq 0 ] && id clickhouse >/dev/null 2>&1; then chown -R clickhouse: "$dir"; fi
	run_as clickhouse-server --config-file="$dir/config.xml" --pid-file="$dir/server.pid" --daemon
	for _ in $(seq 1 100); do
		if clickhouse-client --port "$port" --query "SELECT 1" >/dev/null 2>&1; then
			echo "clickhouse://default@127.0.0.1:$port/default"
			exit 0
		fi
		sleep 0.1
	done
	echo "clickhouse-server on port $port did not answer within 10s; see $dir/log/error.log" >&2
	exit 1
	;;
stop)
	[ -n "$dir" ] && [ -f "$dir/server.pid" ] || exit 0
	pid=$(cat "$dir/server.pid")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	;;
*)
	echo "usage: clickhouse-server.sh start|stop DIR [PORT] | install" >&2
	exit 2
	;;
esac
