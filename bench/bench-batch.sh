#!/bin/bash
# SPDX-License-Identifier: ISC
# bench-batch.sh -- download and threaded-download side by side with wget -i,
# aria2c -i -j N, curl --parallel --parallel-max N and xargs -P N curl, at
# N = 1, 8, 32, on 200 files of 64 KiB and 20 of 10 MiB, from local servers:
# uncapped (nginx); capped at 2 MiB/s per connection (fault-httpd -r 2M,
# kernel pacing: nginx's limit_rate lets small files through at full speed);
# and with 50 ms added before each response (fault-httpd's stall=0.05,at=0
# fault: the response waits 50 ms before its body, headers corked with it).
# Prints wall time, CPU (user + system), peak RSS and ratios. The files are
# written to a tmpfs folder (BENCH_OUT, default /dev/shm when writable):
# on ext4, creating 200 files right after the previous run deleted 200
# costs the inode allocator more CPU than the download tools themselves
# spend (its scan past recently deleted inodes), and varies from run to
# run; tmpfs leaves the tools' own costs to compare.
#
#   BENCH_FULL=1   also the capped 10 MiB set at N = 1 (about 100 s a tool)
#   BENCH_REPS=K   best of K runs per cell (default 1; 5 for runs under 1.5 s)
#   BENCH_CASES="uncapped capped latency"   the cases to run
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
top=${NT_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${NT_BIN:-$top/build/plain/bin}
helpers=${NT_HELPERS:-$top/build/plain/helpers}
BB=${NT_BENCH_BIN:-$(dirname "$bin")/bench}
export NT_HELPERS=$helpers
reps=${BENCH_REPS:-1}
RATE=$((2 * 1024 * 1024))
DELAY=0.05

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nt-bench-batch.XXXXXX")
outroot=${BENCH_OUT:-}
if [ -z "$outroot" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then outroot=/dev/shm; fi
outdir=$(mktemp -d "${outroot:-$tmp}/nt-bench-out.XXXXXX")
cleanup() {
	rm -rf "$outdir"
	"$top/scripts/nginx-local" stop "$tmp/ng" >/dev/null 2>&1
	for p in ${fpids:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$BB/runstat" ] || { echo "bench-batch: $BB/runstat not built (make bench-progs)" >&2; exit 1; }
for t in wget aria2c curl xargs; do
	command -v "$t" >/dev/null || { echo "bench-batch: $t missing (scripts/deps bench)" >&2; exit 1; }
done
mkdir -p "$tmp/www/small" "$tmp/www/large"
for i in $(seq 1 200); do head -c 65536 /dev/urandom >"$tmp/www/small/s$i"; done
for i in $(seq 1 20); do head -c $((10 * 1048576)) /dev/urandom >"$tmp/www/large/l$i"; done
nport=$("$top/scripts/nginx-local" start "$tmp/ng" "$tmp/www") ||
	{ echo "bench-batch: nginx did not start" >&2; exit 1; }

# fault-httpd for the capped and latency cases. fh_start NAME ARGS...
fpids=
fh_start() {
	local name=$1 i
	shift
	"$helpers/fault-httpd" -d "$tmp/www" -c 256 --portfile "$tmp/$name.port" "$@" \
		>/dev/null 2>&1 &
	fpids="$fpids $!"
	for i in $(seq 1 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
}
[ -x "$helpers/fault-httpd" ] || { echo "bench-batch: fault-httpd not built" >&2; exit 1; }
fh_start capped -r $RATE
fh_start latency
cport=$(cat "$tmp/capped.port" 2>/dev/null)
dport=$(cat "$tmp/latency.port" 2>/dev/null)
[ -n "$cport" ] && [ -n "$dport" ] || { echo "bench-batch: fault-httpd did not start" >&2; exit 1; }

# run OUT CMD...: runs CMD in a fresh OUT folder, BENCH_REPS times (5 when
# a run is under 1.5 s, where the shared machine's noise matters most);
# prints "wall cpu rss_kib": the fastest wall time, the median CPU time
# (user + system, microseconds from wait4 through runstat) and the peak RSS
# of the largest process in the fastest run.
run() {
	local out=$1 r=0 want=$reps
	shift
	: >"$tmp/runs"
	while [ $r -lt $want ]; do
		r=$((r + 1))
		rm -rf "$out"; mkdir -p "$out"
		(cd "$out" && "$BB/runstat" "$tmp/time" "$@" >/dev/null 2>"$tmp/err")
		cat "$tmp/time" >>"$tmp/runs"
		awk '{ exit !($1 < 1.5) }' "$tmp/time" && [ $want -lt 5 ] && want=5
	done
	sort -n -k2,2 "$tmp/runs" | awk '{ c[NR] = $2 } END { print c[int((NR + 1) / 2)] }' >"$tmp/cpu"
	sort -n -k1,1 "$tmp/runs" | head -n 1 |
		awk -v c="$(cat "$tmp/cpu")" '{ printf "%.3f %.3f %d", $1, c, $3 }'
}

# cell SET N TOOL LIST: one measurement; prints the row's numbers or FAIL.
cell() {
	local set=$1 n=$2 tool=$3 list=$4 out=$outdir/out want got
	case $tool in
	download) r=$(run "$out" "$bin/download" -q -i "$list" -d .) ;;
	threaded-download) r=$(run "$out" "$bin/threaded-download" -q -j "$n" -i "$list" -d .) ;;
	wget) r=$(run "$out" wget -q -i "$list") ;;
	aria2c) r=$(run "$out" aria2c -q -i "$list" -j "$n" --allow-overwrite=true \
		--auto-file-renaming=false) ;;
	curl) r=$(run "$out" curl -s --parallel --parallel-max "$n" --remote-name-all $(cat "$list")) ;;
	xargs) r=$(run "$out" sh -c "xargs -P $n -n 1 curl -s -O < '$list'") ;;
	esac
	want=$(cat "$list" | wc -l)
	got=$(find "$out" -type f | wc -l)
	if [ "$got" -ne "$want" ]; then
		echo "FAIL($got/$want)"
	else
		echo "$r"
	fi
	rm -rf "$out"
}

label() {
	case $1 in
	download) echo "download" ;;
	threaded-download) echo "threaded-download -j N" ;;
	wget) echo "wget -i" ;;
	aria2c) echo "aria2c -i -j N" ;;
	curl) echo "curl --parallel-max N" ;;
	xargs) echo "xargs -P N curl" ;;
	esac
}

echo "# $(date -u +%F) $(nproc) cores; wall s / CPU s (user+sys) / peak RSS MiB;"
echo "# x best = wall / fastest peer at the same N (below 1.00: faster);"
echo "# x curl = CPU / curl --parallel's CPU at the same N;"
echo "# ideal = ceil(files / N) x (file time at the cap, or the 50 ms delay)"
for cond in ${BENCH_CASES:-uncapped capped latency}; do
	case $cond in
	uncapped) base=http://127.0.0.1:$nport ;;
	capped) base=http://127.0.0.1:$cport ;;
	latency) base=http://127.0.0.1:$dport/fault/stall=$DELAY,at=0 ;;
	esac
	for set in small large; do
		if [ $set = small ]; then files=200 size=65536 title="200 x 64 KiB"
		else files=20 size=$((10 * 1048576)) title="20 x 10 MiB"; fi
		list=$tmp/list-$cond-$set
		for i in $(seq 1 $files); do
			[ $set = small ] && echo "$base/small/s$i" || echo "$base/large/l$i"
		done >"$list"
		echo
		echo "## $title, $cond"
		printf '%-24s %3s %8s %8s %8s %7s %7s %7s\n' tool N wall cpu rss "x best" "x curl" ideal
		for n in 1 8 32; do
			if [ $cond = capped ] && [ $set = large ] && [ $n = 1 ] && [ -z "${BENCH_FULL:-}" ]; then
				echo "(N = 1 skipped: 100 s a tool; BENCH_FULL=1 runs it)"
				continue
			fi
			case $cond in
			capped) ideal=$(awk -v f=$files -v n=$n -v s=$size -v r=$RATE \
				'BEGIN { w = int((f + n - 1) / n); printf "%.2f", w * s / r }') ;;
			latency) ideal=$(awk -v f=$files -v n=$n -v d=$DELAY \
				'BEGIN { w = int((f + n - 1) / n); printf "%.2f", w * d }') ;;
			*) ideal=- ;;
			esac
			tools="threaded-download aria2c curl xargs"
			[ $n = 1 ] && tools="download wget $tools"
			declare -A res=()
			best=
			for t in $tools; do
				res[$t]=$(cell $set $n $t "$list")
				case $t in download|threaded-download) continue ;; esac
				w=${res[$t]%% *}
				case $w in FAIL*) continue ;; esac
				if [ -z "$best" ] || awk -v a="$w" -v b="$best" 'BEGIN { exit !(a < b) }'; then
					best=$w
				fi
			done
			for t in $tools; do
				set -- ${res[$t]}
				if [ $# -lt 3 ]; then
					printf '%-24s %3s %8s\n' "$(label $t)" $n "$1"
					continue
				fi
				ccpu=$(echo "${res[curl]}" | awk 'NF == 3 { print $2 }')
				printf '%-24s %3s %8s %8s %8.1f %7s %7s %7s\n' "$(label $t)" $n "$1" "$2" \
					"$(awk -v k="$3" 'BEGIN { print k / 1024 }')" \
					"$(awk -v a="$1" -v b="${best:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" \
					"$(awk -v a="$2" -v b="${ccpu:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" \
					"$ideal"
			done
			unset res
		done
	done
done
