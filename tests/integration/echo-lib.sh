# echo-lib.sh -- sourced by the echo tests (not run by itself): starting an
# echo server on a kernel-chosen port and reading facts about it from /proc.

# srv_start NAME CMD...: runs CMD in the background (stderr to
# $T_TMP/NAME.log), waits for its "listening on" line; sets SPID, SPORT.
srv_start() {
	local name=$1 i
	shift
	SLOG=$T_TMP/$name.log
	"$@" 2>"$SLOG" &
	SPID=$!
	at_exit "kill -9 $SPID 2>/dev/null"
	SPORT=
	for i in $(seq 1 300); do
		SPORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' "$SLOG" | head -n 1)
		[ -n "$SPORT" ] && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	diag "$name did not start:"
	sed 's/^/#   /' "$SLOG"
	return 1
}

# srv_stop: SIGTERM, then wait at most $1 seconds (default 10); sets
# SRC (exit status, 124 when it did not exit) and SSECS (seconds taken).
srv_stop() {
	local limit=${1:-10} t0=$EPOCHREALTIME i
	kill -TERM "$SPID" 2>/dev/null
	SRC=124
	for i in $(seq 1 $((limit * 20))); do
		if ! kill -0 "$SPID" 2>/dev/null; then
			wait "$SPID"
			SRC=$?
			break
		fi
		sleep 0.05
	done
	[ $SRC -eq 124 ] && kill -9 "$SPID" 2>/dev/null
	SSECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
nfds() { ls "/proc/$1/fd" | wc -l; }
# cpu_ticks PID: user + system clock ticks so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# field NAME FILE: the value after NAME in echo-bench output.
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
