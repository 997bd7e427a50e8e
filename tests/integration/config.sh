#!/bin/bash
# SPDX-License-Identifier: ISC
# config.sh -- the defaults file of the three downloaders: where it is
# looked for, that the command line wins, --config and --no-config, and a
# bad line reported as FILE:LINE with exit 2.
# timeout: 60
. "$(dirname "$0")/lib.sh"
D=$NT_BIN/download
TD=$NT_BIN/threaded-download
DA=$NT_BIN/download-accelerator

cd "$T_TMP" || exit 1
: >empty
mkdir -p xdg/netthreads home/.config/netthreads
printf '# where files go\ndir = from-xdg\nquiet\n' >xdg/netthreads/config
printf 'dir = from-home\n' >home/.config/netthreads/config
printf 'dir = from-file\n' >named
export HOME=$T_TMP/home XDG_CONFIG_HOME=$T_TMP/xdg

for p in "$D" "$TD"; do
	n=$(basename "$p")
	rm -rf from-* cli downloads
	"$p" -i empty >o 2>e
	check "$n: \$XDG_CONFIG_HOME/netthreads/config is read" \
		test -d from-xdg -a ! -s o
	XDG_CONFIG_HOME= "$p" -i empty >o 2>e
	check "$n: else ~/.config/netthreads/config" test -d from-home
	"$p" -i empty -d cli >o 2>e
	check "$n: the command line wins" test -d cli
	"$p" --config named -i empty >o 2>e
	check "$n: --config FILE is read instead" test -d from-file
	rm -rf downloads
	"$p" --no-config -i empty >o 2>e
	check "$n: --no-config reads none" test -d downloads -a -s o

	printf 'quiet\n\nbogus = 1\n' >bad
	"$p" --config bad -i empty >o 2>e
	is "$?:$(cat e)" "2:$n: bad:3: unknown option 'bogus'" \
		"$n: a bad line: FILE:LINE: why, exit 2"
	printf 'retries = many\n' >bad
	"$p" --config bad -i empty >o 2>e
	rc=$?
	check "$n: a bad value: FILE:LINE and the value, exit 2" \
		test $rc -eq 2 -a "$(grep -c "^$n: bad:1: many: " e)" = 1
	printf 'quiet = yes\n' >bad
	"$p" --config bad -i empty >o 2>e
	is "$?:$(cat e)" "2:$n: bad:1: 'quiet' takes no value" \
		"$n: a value for a flag is refused"
	printf 'help\n' >bad
	"$p" --config bad -i empty >o 2>e
	is "$?:$(cat e)" "2:$n: bad:1: 'help' is not for a defaults file" \
		"$n: help in the file is refused"
	"$p" --config missing -i empty >o 2>e
	is "$?:$(cat e)" "2:$n: missing: No such file or directory" \
		"$n: a missing --config file: exit 2"
done

printf 'jobs = 0\n' >bad
"$TD" --config bad -i empty >o 2>e
check "threaded-download: its own options in the file" \
	grep -q "^threaded-download: bad:1: 0: invalid connection count" e

W=$T_TMP/www
mkdir -p "$W"
head -c 200000 /dev/urandom >"$W/f"
nginx_start "$W" || {
	notok "nginx starts"
	done_testing
	exit 1
}
U=http://127.0.0.1:$NGINX_PORT
printf 'connections = 3\nquiet\ndir = da\nheader = X-Test: 1\n' \
	>xdg/netthreads/config
"$DA" "$U/f" >o 2>e
check "download-accelerator: reads the defaults file" \
	grep -q "^$U/f 3 200000 " o
check "download-accelerator: dir from the file" cmp -s "$W/f" da/f
"$DA" -n 5 -o g "$U/f" >o 2>e
check "download-accelerator: the command line wins" \
	grep -q "^$U/f 5 200000 " o
printf 'connections = x\n' >xdg/netthreads/config
"$DA" "$U/f" >o 2>e
is "$?:$(head -n 1 e)" \
	"2:download-accelerator: $XDG_CONFIG_HOME/netthreads/config:1: x: invalid connection count (1 to 64, or auto): not a number" \
	"download-accelerator: a bad value in the file: FILE:LINE, exit 2"
"$DA" --no-config -o h "$U/f" >o 2>e
check "download-accelerator --no-config: reads none" cmp -s "$W/f" h
done_testing
