# SPDX-License-Identifier: ISC
# experiments.sh -- experiments with the real download-accelerator, against
# a local nginx and against its own paced server.
# timeout: 150
. "$(dirname "$0")/lib.sh"
E=$NT_BIN/experiments
A=$NT_BIN/download-accelerator
export TMPDIR=$T_TMP/tmp
mkdir -p "$TMPDIR" "$T_TMP/www"

if [ ! -x "$A" ]; then
	notok "download-accelerator is built in $NT_BIN (experiments needs it)"
	done_testing
	exit 1
fi
ok "download-accelerator is built in $NT_BIN"

head -c 20000 /dev/urandom >"$T_TMP/www/t1"
head -c 100000 /dev/urandom >"$T_TMP/www/t2"
nginx_start "$T_TMP/www" || { notok "nginx starts"; done_testing; exit 1; }
U=http://127.0.0.1:$NGINX_PORT
D=$T_TMP/out

# lines FILE: the data lines of FILE as "THREADS BYTES", sorted.
lines() { awk '{print $2, $3}' "$1" | sort -n | tr '\n' ' '; }

# Two files, three thread counts, one run each, and one URL that fails.
timeout 60 $NT_VALGRIND "$E" -q -t 1,2,4 -r 1 -d "$D" --fresh \
	a="$U/t1" b="$U/t2" gone="$U/missing" >"$T_TMP/o1" 2>"$T_TMP/e1"
is "$?" 1 "a failing URL makes the exit status 1"
is "$(lines "$D/data-a.txt")" "1 20000 2 20000 4 20000 " "data-a.txt: one line per thread count"
is "$(lines "$D/data-b.txt")" "1 100000 2 100000 4 100000 " "data-b.txt: one line per thread count"
is "$(grep -Evc "^$U/t1 [124] 20000 [0-9]+(\.[0-9]+)?$" "$D/data-a.txt")" 0 \
	"every line is URL THREADS BYTES SECONDS"
is "$(wc -l <"$D/data-gone.txt")" 0 "the failing URL records no time"
is "$(grep -c "^experiments: gone -n [124] (run 1 of 1): download-accelerator exited 1: .*404" "$T_TMP/e1")" 3 \
	"each failure is reported with its reason"
check "summary: the failing file's counts" grep -Eq '^ +4 +0 +1 +\(every run failed\)' "$T_TMP/o1"
check "summary: a table row per thread count" grep -Eq '^ +2 +1 +0 +[0-9.]+ +[0-9.]+-[0-9.]+ +[0-9.]+$' "$T_TMP/o1"
check "summary: the totals" grep -q '^9 runs, 3 failed' "$T_TMP/o1"
check "no progress line when stderr is not a terminal" sh -c '! grep -q "$(printf "\r")" "$1"' _ "$T_TMP/e1"
is "$(ls -A "$TMPDIR" | wc -l)" 0 "its temporary folder is gone"

# Without --fresh, runs add up, as in the original.
timeout 60 "$E" -q -t 1 -r 2 -d "$D" a="$U/t1" >/dev/null 2>&1
is "$?" 0 "all runs fine: exit 0"
is "$(wc -l <"$D/data-a.txt")" 5 "runs append to data-a.txt"
is "$(wc -l <"$D/data-b.txt")" 3 "data-b.txt untouched"

# Its own server: generated files, a per-connection cap, checksums.
D2=$T_TMP/local
timeout 90 "$E" -t 1,2 -r 2 -s 64k,128k,256k -c 512k -d "$D2" --fresh \
	>"$T_TMP/o2" 2>"$T_TMP/e2"
is "$?" 0 "local server: every run fine"
is "$(lines "$D2/data-small.txt")" "1 65536 1 65536 2 65536 2 65536 " "data-small.txt"
is "$(lines "$D2/data-medium.txt")" "1 131072 1 131072 2 131072 2 131072 " "data-medium.txt"
is "$(lines "$D2/data-large.txt")" "1 262144 1 262144 2 262144 2 262144 " "data-large.txt"
t1=$(awk '$2 == 1 {print $4; exit}' "$D2/data-large.txt")
check "one connection is held to the cap (256 KiB at 512 KiB/s: $t1 s >= 0.4)" \
	awk -v t="$t1" 'BEGIN{exit !(t >= 0.4)}'
check "the summary shows the cap and the ideal time" grep -q 'served here at 512 KiB/s per connection' "$T_TMP/o2"
check "and names the URL it served" grep -Eq '^large: 256 KiB, http://127\.0\.0\.1:[0-9]+/large\.bin$' "$T_TMP/o2"
is "$(ls -A "$TMPDIR" | wc -l)" 0 "generated files and server gone"

# On a terminal (a pty from script(1)): the progress line, then the table.
timeout 60 script -qec "'$E' -t 1 -r 2 -s 64k -c 1M -d '$T_TMP/pty'" /dev/null >"$T_TMP/pty.out" 2>&1
check "on a terminal: a progress line with runs, file, threads, elapsed, ETA" \
	grep -q "experiments: 1/2 runs done, now small -n 1 (run 2/2), elapsed 0:0[0-9], ETA 0:0[0-9]" "$T_TMP/pty.out"

# Wrong downloads are failures, never times: accelerators that lie.
cat >"$T_TMP/liar" <<'EOF'
#!/bin/sh
# A deliberately broken accelerator, to test that experiments checks.
# LIAR=bytes: right size, wrong bytes; LIAR=size: claims a wrong size;
# LIAR=part: leaves only a .part file; LIAR=talk: prints two lines, the
# first with a terminal's clear-screen sequence.
# With --json (-n auto), events: LIAR=json: sixteen at most, two held
# longest, after 20 KB of progress events; json-url: done names another
# URL; json-cut: done cut short; json-none: no done event; json-long: a
# line of 10 KB; json-line: the result line instead.
n=$2 json=
for a; do url=$a; [ "$a" = --json ] && json=1; done
f=$(basename "$url")
size=$(curl -s -o "$f" -w '%{size_download}' "$url") || exit 1
case $LIAR in
bytes) printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null ;;
size) size=$((size + 1)) ;;
part) mv "$f" "$f.part" ;;
talk) printf 'progress \033[2J 50%%\n' ;;
esac
case $json$LIAR in
1json|1json-url|1json-cut|1json-none|1json-long)
	[ "$LIAR" = json ] && seq 200 | sed 's/.*/{"event":"progress","name":"f","bytes":&,"size":65536,"rate":1.5,"connections":2}/'
	[ "$LIAR" = json-long ] && printf '{"event":"progress","name":"%010000d"}\n' 0
	for c in 8:0 16:0.1 2:0.3; do
		printf '{"event":"connections","connections":%s,"seconds":%s}\n' \
			"${c%:*}" "${c#*:}"
	done
	[ "$LIAR" = json-url ] && url=$url.x
	ev="{\"event\":\"done\",\"url\":\"$url\",\"bytes\":$size,"
	case $LIAR in
	json-cut) echo "$ev\"sec" ;;
	json-none) ;;
	*) echo "$ev\"seconds\":1.25,\"connections\":16}" ;;
	esac
	exit 0 ;;
esac
echo "$url $n $size 0.01"
EOF
chmod +x "$T_TMP/liar"
for mode in bytes size part talk; do
	D3=$T_TMP/liar-$mode
	LIAR=$mode timeout 60 "$E" -q -a "$T_TMP/liar" -t 1 -r 1 -s 64k -d "$D3" \
		>/dev/null 2>"$T_TMP/e3"
	is "$?" 1 "liar ($mode): exit 1"
	is "$(wc -l <"$D3/data-small.txt")" 0 "liar ($mode): nothing recorded"
	case $mode in
	bytes) want="SHA-256 differs" ;;
	size) want="reported 65537 bytes, wrote 65536" ;;
	part) want="small.bin.part is not a finished file" ;;
	talk) want="unexpected output" ;;
	esac
	check "liar ($mode): says '$want'" grep -q "^experiments: small -n 1 (run 1 of 1): $want" "$T_TMP/e3"
	[ $mode = talk ] && check "liar (talk): the child's escape is not passed on" \
		sh -c '! grep -q "$(printf "\033")" "$1"' _ "$T_TMP/e3"
done
# -n auto is asked for --json events (a fixed count is not) and recorded
# at the count held longest; bad events are failures, said in one line.
D3=$T_TMP/liar-json
LIAR=json timeout 60 $NT_VALGRIND "$E" -q -a "$T_TMP/liar" -t 1,auto -r 1 \
	-s 64k -d "$D3" >/dev/null 2>"$T_TMP/e3"
is "$?" 0 "liar (json): exit 0"
is "$(lines "$D3/data-small.txt")" "1 65536 " "liar (json): -n 1 records its line"
is "$(awk '{print $2, $3, $4}' "$D3/auto-small.txt")" "2 65536 1.250" \
	"liar (json): -n auto records the count held longest, not the most"
for mode in json-url json-cut json-none json-long json-line; do
	D3=$T_TMP/liar-$mode
	LIAR=$mode timeout 60 $NT_VALGRIND "$E" -q -a "$T_TMP/liar" -t auto \
		-r 1 -s 64k -d "$D3" >/dev/null 2>"$T_TMP/e3"
	is "$?" 1 "liar ($mode): exit 1"
	is "$(wc -l <"$D3/auto-small.txt")" 0 "liar ($mode): nothing recorded"
	case $mode in
	json-url) want='line 4: done: another URL: "{"event":"done",' ;;
	json-cut) want='line 4: a string is not closed: "{"event":"done",' ;;
	json-none) want='no done event$' ;;
	json-long) want='line 1: a line of 8 KiB or more: "{"event":"progress","name":"0000.*\.\.\."$' ;;
	json-line) want='line 1: not a JSON object: "http://127' ;;
	esac
	check "liar ($mode): says '$want'" \
		grep -q "^experiments: small -n auto (run 1 of 1): unexpected output: $want" \
		"$T_TMP/e3"
	# (valgrind's own lines aside)
	is "$(grep -Evc '^(==|--)[0-9]+(==|--)' "$T_TMP/e3")" 1 \
		"liar ($mode): in one line"
done

# Ctrl-C: the run in flight stops, the server and files go, exit 130.
D4=$T_TMP/int
timeout 60 "$E" -q -t 1 -r 5 -s 4M -c 256k -d "$D4" >"$T_TMP/o4" 2>"$T_TMP/e4" &
pid=$!
sleep 1.5
kill -INT $pid
t0=$EPOCHREALTIME
wait $pid
is "$?" 130 "SIGINT: exit 130"
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')
check "and promptly ($t s)" awk -v t="$t" 'BEGIN{exit !(t < 8)}'
check "says it was stopped" grep -q '^experiments: stopped by signal 2 after 0 of 5 runs' "$T_TMP/e4"
is "$(ls -A "$TMPDIR" | wc -l)" 0 "temporary folder removed after SIGINT"
is "$(wc -l <"$D4/data-small.txt")" 0 "the interrupted run is not recorded"

# Finding the accelerator; bad usage.
mkdir -p "$T_TMP/lone"
cp "$E" "$T_TMP/lone/experiments"
err=$(timeout 10 env PATH=/nonexistent "$T_TMP/lone/experiments" -d "$T_TMP/x" a=http://127.0.0.1:1/x 2>&1)
is "$?" 1 "no accelerator anywhere: exit 1"
check "and says so" sh -c 'echo "$1" | grep -q "^experiments: download-accelerator: not found"' _ "$err"
for args in "-t 0" "-t 1,1" "-t x" "-t 65" "-r 0" "-s 1M,2M,3M,4M" "-c abc" \
	"--run-timeout 0" "noequals" "=http://x/" "a=ftp://x/y" "../a=http://x/" \
	"a=http://x/ a=http://y/"; do
	err=$(timeout 10 "$E" -d "$T_TMP/x" $args 2>&1 >/dev/null)
	is "$?" 2 "experiments $args: exit 2"
	check "experiments $args: says why" sh -c 'echo "$1" | head -n 1 | grep -q "^experiments: "' _ "$err"
done
timeout 10 "$E" --help | grep -q '^usage: experiments' && ok "--help" || notok "--help"
timeout 10 "$E" --version | grep -q '^experiments (netthreads) ' && ok "--version" || notok "--version"
# The two regimes and -n auto, on experiments' own server: a link all
# connections share, and auto runs recorded apart (auto-NAME.txt, N the
# count the accelerator held longest), names carrying a label. The real
# accelerator, its output kept to read the events.
cat >"$T_TMP/tee-accel" <<EOF
#!/bin/sh
out=\$("$A" "\$@"); rc=\$?
printf '%s\\n' "\$out" | tee -a "$T_TMP/events"
exit \$rc
EOF
chmod +x "$T_TMP/tee-accel"
timeout 120 "$E" -q -a "$T_TMP/tee-accel" -t 1,4,auto -r 1 -s 2M -c 0 \
	--link 1M --label lk -d "$T_TMP/reg" --fresh >"$T_TMP/o5" 2>"$T_TMP/e5"
is "$?" 0 "-t 1,4,auto with --link and --label: exit 0"
is "$(lines "$T_TMP/reg/data-lk-small.txt")" "1 2097152 4 2097152 " \
	"data-lk-small.txt: the fixed counts only"
# Sixteen at first, then shed to one or two: the count held longest is
# few, though the most at once (the result line's N) is many.
grep '^{' "$T_TMP/events" >"$T_TMP/auto.json"
most=$(jq -r 'select(.event == "done") | .connections' "$T_TMP/auto.json")
held=$(jq -r 'select(.event == "connections" or .event == "done") |
	"\(.event) \(.connections) \(.seconds)"' "$T_TMP/auto.json" | awk '
	$1 == "connections" { if (n) t[n] += $3 - s; n = $2; s = $3 }
	$1 == "done" { if (n) t[n] += $3 - s; else t[$2] = 1 }
	END {
		for (c in t)
			if (b == "" || t[c] > t[b] || (t[c] == t[b] && c + 0 < b + 0))
				b = c
		print b
	}')
check "auto-lk-small.txt: one run, at the count held longest (${held:-none})" \
	awk -v h="$held" '$2 == h && $3 == 2097152 { n++ } END { exit n != 1 }' \
	"$T_TMP/reg/auto-lk-small.txt"
check "which is few on a shared link ($(awk '{print $2}' "$T_TMP/reg/auto-lk-small.txt") <= 4)" \
	awk '$2 <= 4 { n++ } END { exit n != 1 }' "$T_TMP/reg/auto-lk-small.txt"
check "though the most at once is many (${most:-none} > 4)" \
	awk -v m="${most:-0}" 'BEGIN { exit !(m > 4) }'
check "the summary names the link" grep -q "a link of 1 MiB/s shared" "$T_TMP/o5"
check "and the auto row" grep -Eq "^ +auto +1 +0 " "$T_TMP/o5"
check "four connections through the link: no faster than one" \
	awk '$2 == 1 { a = $4 } $2 == 4 { b = $4 } END { exit !(b >= 0.8 * a) }' \
	"$T_TMP/reg/data-lk-small.txt"
for args in "-t 1,auto,auto" "--link 0" "--label a/b" "--label ''"; do
	eval "timeout 10 \"\$E\" $args -d \"$T_TMP/x\"" >/dev/null 2>&1
	is "$?" 2 "experiments $args: exit 2"
done
done_testing
