#!/usr/bin/env bash
# Starts a private ZooKeeper for cluster tests: its own zoo.cfg, data dir and
# client port. Installs Debian's zookeeper first where it may.
#   scripts/zookeeper.sh start DIR PORT   -> returns when it answers
#   scripts/zookeeper.sh stop DIR
#   scripts/zookeeper.sh install
set -euo pipefail
cmd=${1:?usage: zookeeper.sh start|stop DIR [PORT] | install}
dir=${2:-}
jar=/usr/share/java/zookeeper.jar

ensure_installed() {
	[ -f "$jar" ] && command -v java >/dev/null && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "zookeeper is not installed and this user cannot install it (apt-get install zookeeper)" >&2
		exit 1
	fi
	echo "installing Debian's zookeeper ..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q zookeeper >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q zookeeper >/dev/null; }
}

# serving: "ruok" answers before sessions are served; "srvr" says the mode
# only once they are (ClickHouse 18.16 crashes if its first connection fails).
# A ZooKeeper still starting may take the connection and say nothing: each
# probe gives up after 2 s.
serving() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && echo srvr >&3 && cat <&3' _ "$1" 2>/dev/null | grep -q "^Mode: standalone"
}

case "$cmd" in
install)
	ensure_installed
	;;
start)
	[ -n "$dir" ] || { echo "start: data dir missing" >&2; exit 2; }
	port=${3:?port}
	ensure_installed
	mkdir -p "$dir/data"
	cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
admin.enableServer=false
4lw.commands.whitelist=srvr
CFG
	nohup java -Xmx256m -Dzookeeper.log.dir="$dir" -cp "$jar" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
		>"$dir/zookeeper.log" 2>&1 &
	echo $! >"$dir/zookeeper.pid"
	deadline=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if serving "$port"; then exit 0; fi
		sleep 0.1
	done
	echo "zookeeper on port $port did not answer within 30s; see $dir/zookeeper.log" >&2
	exit 1
	;;
stop)
	[ -n "$dir" ] && [ -f "$dir/zookeeper.pid" ] || exit 0
	kill "$(cat "$dir/zookeeper.pid")" 2>/dev/null || true
	;;
*)
	echo "usage: zookeeper.sh start|stop DIR [PORT] | install" >&2
	exit 2
	;;
esac
