# SPDX-License-Identifier: ISC
# lib.sh -- shared by the integration scripts: TAP output, temporary folders,
# and servers that are always stopped when the script ends.
#
# Scripts run under tests/run, which sets NT_BIN (programs), NT_HELPERS
# (test helpers), NT_TOP (the source tree), NT_VARIANT and NT_VALGRIND; run
# alone (bash tests/integration/X.sh) a script uses the plain build.
set -u
: "${NT_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${NT_BIN:=$NT_TOP/build/plain/bin}"
: "${NT_HELPERS:=$NT_TOP/build/plain/helpers}"
: "${NT_VALGRIND:=}"
: "${NT_VARIANT:=plain}"
export NT_HELPERS

T_N=0
T_FAIL=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nt-test.XXXXXX")
T_ATEXIT=""
# The programs read no defaults file of whoever runs the tests.
export XDG_CONFIG_HOME=$T_TMP/config

t_cleanup() {
	eval "$T_ATEXIT"
	rm -rf "$T_TMP"
}
trap t_cleanup EXIT
trap 'exit 143' TERM INT

# at_exit CMD: runs CMD (a string) when the script ends, last first.
at_exit() { T_ATEXIT="$1; $T_ATEXIT"; }

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
notok() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $*"; }
diag() { echo "# $*"; }

# check DESC CMD...: passes when CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else notok "$desc"; fi
}

# is GOT WANT DESC: passes when the two strings are equal.
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		notok "$3"
		diag "  got: '$1'"
		diag " want: '$2'"
	fi
}

# done_testing: prints the plan and sets the exit status.
done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
}

# nginx_start ROOT [SNIPPET]: a private nginx serving ROOT; sets NGINX_PORT.
nginx_start() {
	local state
	state=$(mktemp -d "$T_TMP/nginx.XXXXXX")
	NGINX_PORT=$("$NT_TOP/scripts/nginx-local" start "$state" "$@") || {
		diag "nginx did not start"
		return 1
	}
	at_exit "'$NT_TOP/scripts/nginx-local' stop '$state'"
}

# wait_file F: waits (at most 15 s) until F exists and is not empty.
wait_file() {
	local i=0
	while [ ! -s "$1" ] && [ $i -lt 300 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$1" ]
}

# fh_start NAME [ARGS...]: starts fault-httpd ($NT_HELPERS) serving $W,
# logging to $T_TMP/NAME.log; sets PORT. Stopped when the script ends.
fh_start() {
	local name=$1
	shift
	"$NT_HELPERS/fault-httpd" -d "$W" --portfile "$T_TMP/$name.port" \
		--log "$T_TMP/$name.log" "$@" 2>"$T_TMP/$name.err" &
	at_exit "kill $! 2>/dev/null"
	wait_file "$T_TMP/$name.port" && PORT=$(cat "$T_TMP/$name.port")
}
