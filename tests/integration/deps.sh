# SPDX-License-Identifier: ISC
# deps.sh -- scripts/deps against stand-ins for dpkg-query, apt-get, pgrep
# and service: it says what it installs, and stops an nginx service only
# when it has just installed nginx-light and no nginx ran before. And make
# on a machine without the libraries names the packages to install.
# timeout: 60
. "$(dirname "$0")/lib.sh"

stub=$T_TMP/stub
mkdir -p "$stub"
export STUB_DIR=$T_TMP
# Installed unless named in $STUB_MISSING.
cat >"$stub/dpkg-query" <<'S'
#!/bin/sh
for a; do p=$a; done
case " $STUB_MISSING " in *" $p "*) exit 1 ;; esac
printf 'install ok installed'
S
cat >"$stub/id" <<'S'
#!/bin/sh
echo 0
S
# apt-get install starts the nginx service when it installs nginx-light,
# as the Debian package does; STUB_APT_FAIL=1 makes it fail.
cat >"$stub/apt-get" <<'S'
#!/bin/sh
echo "apt-get $*" >>"$STUB_DIR/calls"
[ "${STUB_APT_FAIL:-0}" = 1 ] && exit 100
case "$*" in *install*nginx-light*) touch "$STUB_DIR/nginx-up" ;; esac
exit 0
S
cat >"$stub/pgrep" <<'S'
#!/bin/sh
[ -e "$STUB_DIR/nginx-up" ]
S
cat >"$stub/service" <<'S'
#!/bin/sh
echo "service $*" >>"$STUB_DIR/calls"
[ "$*" = "nginx stop" ] && rm -f "$STUB_DIR/nginx-up"
exit 0
S
chmod +x "$stub"/*

# run_deps MISSING NGINX_BEFORE: runs scripts/deps; sets rc, err, calls.
run_deps() {
	rm -f "$T_TMP/calls" "$T_TMP/nginx-up"
	[ "$2" = up ] && touch "$T_TMP/nginx-up"
	err=$(STUB_MISSING="$1" PATH="$stub:$PATH" sh "$NT_TOP/scripts/deps" 2>&1 >/dev/null)
	rc=$?
	calls=$(cat "$T_TMP/calls" 2>/dev/null)
}

run_deps "" down
is "$rc" 0 "nothing missing: exit 0"
is "$err$calls" "" "nothing missing: silent, nothing installed"

run_deps "nginx-light" down
is "$rc" 0 "nginx-light missing: exit 0"
check "says what it installs" sh -c 'echo "$1" | grep -q "^deps: installing: nginx-light$"' _ "$err"
check "installs it with apt-get" sh -c 'echo "$1" | grep -q "^apt-get install .*nginx-light"' _ "$calls"
check "stops the service its install started" sh -c 'echo "$1" | grep -qx "service nginx stop"' _ "$calls"

run_deps "nginx-light" up
is "$rc" 0 "nginx-light missing, an nginx already running: exit 0"
check "leaves an nginx that ran before alone" sh -c '! echo "$1" | grep -q "^service"' _ "$calls"
check "which is still running" test -e "$T_TMP/nginx-up"

run_deps "gnuplot-nox curl" up
is "$rc" 0 "other packages missing, the user's nginx running: exit 0"
check "says what it installs" sh -c 'echo "$1" | grep -q "^deps: installing: gnuplot-nox curl$"' _ "$err"
check "leaves the user's nginx alone" sh -c '! echo "$1" | grep -q "^service"' _ "$calls"

STUB_APT_FAIL=1 run_deps "gnuplot-nox" down
is "$rc" 1 "a failed installation: exit 1"
check "and says what to run" sh -c 'echo "$1" | grep -q "apt-get install -y gnuplot-nox"' _ "$err"

# make without the libraries: one line naming the packages, no compiler.
err=$(PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=/nonexistent \
	make -s -C "$NT_TOP" O="$T_TMP/build" 2>&1 >/dev/null)
check "make without libcurl, libcrypto and liburing fails" [ $? -ne 0 ]
is "$(echo "$err" | head -n 1)" \
	"netthreads: missing Debian packages: libcurl4-openssl-dev libssl-dev liburing-dev; scripts/deps (or make deps) installs them" \
	"make names the missing packages and scripts/deps"
check "before any compile" sh -c '! echo "$1" | grep -q "error:\|fatal"' _ "$err"
check "and builds nothing" test ! -e "$T_TMP/build/obj"
err=$(make -s -C "$NT_TOP" O="$T_TMP/build2" \
	TEST_NEEDS=-:no-such-header-nt.h:libcmocka-dev need-tests 2>&1 >/dev/null)
is "$(echo "$err" | head -n 1)" \
	"netthreads: missing Debian packages: libcmocka-dev; scripts/deps (or make deps) installs them" \
	"a missing header is found without pkg-config's help"
done_testing
