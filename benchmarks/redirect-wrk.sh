#!/usr/bin/env bash
# redirect-wrk.sh compares the redirect throughput of shortid.Handler with a
# bare net/http handler writing the identical 302, using wrk on loopback.
# Each round starts the server pinned to CPU 0, loads it from wrk pinned to
# CPU 1 (one thread, 32 connections, keep-alive; wrk does not follow
# redirects), and stops it; the two implementations alternate so that
# background noise hits both alike. It prints each run, the median req/s of
# each implementation and the ratio blueprint/bare (median, min-max over
# the per-round ratios).
#
#	benchmarks/redirect-wrk.sh            # 5 rounds of 5 s
#	ROUNDS=9 DURATION=10s benchmarks/redirect-wrk.sh
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
PORT=${PORT:-18089}

cd "$(dirname "$0")"

if ! command -v wrk >/dev/null; then
	# apt-get needs root: use sudo unless we are root already (as in CI).
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		SUDO=sudo
	fi
	$SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
fi

bin=$(mktemp -d)/redirectserver
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/redirectserver

# one IMPL runs one round and prints its requests per second.
one() {
	local impl=$1 out url pid rps
	out=$(mktemp)
	taskset -c 0 "$bin" -impl "$impl" -addr "127.0.0.1:$PORT" >"$out" &
	pid=$!
	for _ in $(seq 50); do
		url=$(head -n1 "$out")
		[ -n "$url" ] && break
		sleep 0.1
	done
	if [ -z "$url" ]; then
		kill "$pid" 2>/dev/null || true
		echo "redirectserver -impl $impl did not start" >&2
		exit 1
	fi
	# Check the response once before loading it.
	code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
	if [ "$code" != 302 ]; then
		kill "$pid"
		echo "$impl: GET $url = $code, want 302" >&2
		exit 1
	fi
	rps=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" "$url" | awk '/^Requests\/sec:/ {print $2}')
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -f "$out"
	echo "$rps"
}

declare -a bp bare ratio
for r in $(seq "$ROUNDS"); do
	b=$(one blueprint)
	n=$(one bare)
	bp+=("$b")
	bare+=("$n")
	ratio+=("$(awk -v a="$b" -v b="$n" 'BEGIN {printf "%.3f", a/b}')")
	printf 'round %d: blueprint %s req/s, bare %s req/s, ratio %s\n' "$r" "$b" "$n" "${ratio[-1]}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {print lo "-" hi}'; }

mb=$(median "${bp[@]}")
mn=$(median "${bare[@]}")
echo "blueprint median: $mb req/s"
echo "bare      median: $mn req/s"
printf 'ratio blueprint/bare: %.3f (median of medians), per-round %s (median %s)\n' \
	"$(awk -v a="$mb" -v b="$mn" 'BEGIN {print a/b}')" "$(minmax "${ratio[@]}")" "$(median "${ratio[@]}")"
