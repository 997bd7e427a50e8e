# SPDX-License-Identifier: ISC
# plot.sh -- plot on sample data: real PNG files of the right size, and
# malformed data reported by file and line.
# timeout: 120
. "$(dirname "$0")/lib.sh"
P=$NT_BIN/plot
D=$T_TMP/data
O=$T_TMP/png
mkdir -p "$D"

# png_dims FILE: "WIDTH HEIGHT" from a PNG's signature and IHDR chunk, or
# "not a PNG".
png_dims() {
	local sig
	sig=$(od -An -tx1 -N16 "$1" | tr -d ' \n')
	if [ "$sig" != "89504e470d0a1a0a0000000d49484452" ]; then
		echo "not a PNG"
		return
	fi
	od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8}'
}

# Sample data: five runs at each of 1,2,3,5,10 threads, times near 2/T,
# one slow outlier, and a comment line.
awk 'BEGIN {
	srand(7)
	print "# sample data"
	split("1 2 3 5 10", ts, " ")
	for (i = 1; i <= 5; i++)
		for (r = 0; r < 5; r++)
			printf "http://x/m.bin %d 10485760 %.3f\n", ts[i], 2 / ts[i] * (1 + rand() / 10)
	print "http://x/m.bin 5 10485760 1.9"
}' >"$D/data-medium.txt"
awk 'BEGIN { for (t = 1; t <= 4; t *= 2) printf "http://x/s.bin %d 1048576 %.3f\n", t, 0.3 + 0.01 * t }' >"$D/data-small.txt"

out=$(timeout 60 $NT_VALGRIND "$P" -d "$D" -o "$O" 2>"$T_TMP/err")
is "$?" 0 "plot on sample data exits 0"
is "$(png_dims "$O/download-time-medium.png")" "800 600" "download-time-medium.png: a PNG of 800x600"
is "$(png_dims "$O/download-time-small.png")" "800 600" "download-time-small.png: a PNG of 800x600"
is "$(png_dims "$O/speedup.png")" "800 600" "speedup.png: a PNG of 800x600"
is "$(echo "$out" | grep -c '^wrote ')" 3 "says which files it wrote"
is "$(cat "$T_TMP/err")" "" "nothing on stderr"
check "the images have content (over 8 KB)" \
	sh -c '[ $(stat -c %s "$1") -gt 8000 ] && [ $(stat -c %s "$2") -gt 8000 ]' _ \
	"$O/download-time-medium.png" "$O/speedup.png"

# -n auto runs beside a data file (auto-NAME.txt): drawn on speedup.png
# as a point of their own, where the count they held longest and their
# median time put them; a bad line there is reported like any other.
# gnuplot is the real one, its script kept to read the key.
mkdir -p "$T_TMP/gp"
cat >"$T_TMP/gp/gnuplot" <<EOF
#!/bin/sh
cp "\$1" "$T_TMP/speedup.gp"
exec "$(command -v gnuplot)" "\$@"
EOF
chmod +x "$T_TMP/gp/gnuplot"
cp "$O/speedup.png" "$T_TMP/speedup-plain.png"
printf 'http://x/s.bin 3 1048576 0.2\nhttp://x/s.bin 4 1048576 0.25\nbad\n' \
	>"$D/auto-small.txt"
PATH=$T_TMP/gp:$PATH timeout 60 $NT_VALGRIND "$P" -d "$D" -o "$O" \
	>/dev/null 2>"$T_TMP/err"
is "$?" 0 "plot with an auto file exits 0"
check "speedup.png now shows the auto point" \
	sh -c '! cmp -s "$1" "$2"' _ "$O/speedup.png" "$T_TMP/speedup-plain.png"
check "at x = 3.5, the median count held longest, keyed so" \
	grep -q "using (3.5):.* title 'small: -n auto (held longest)'" \
	"$T_TMP/speedup.gp"
is "$(png_dims "$O/speedup.png")" "800 600" "and is still a PNG of 800x600"
check "its bad line is reported" \
	grep -q "^plot: $D/auto-small.txt:3: expected 4 fields" "$T_TMP/err"
rm -f "$D/auto-small.txt"

# Default output folder is the data folder; --size sets the dimensions.
timeout 60 "$P" -d "$D" --size 640x400 >/dev/null 2>&1
is "$?" 0 "plot --size 640x400"
is "$(png_dims "$D/download-time-medium.png")" "640 400" "--size gives a 640x400 PNG beside the data"

# Malformed lines: reported as FILE:LINE and skipped; the rest is drawn.
D2=$T_TMP/bad
mkdir -p "$D2"
cat >"$D2/data-mixed.txt" <<'EOF'
http://x/y 1 1000 1.0
http://x/y 2 1000 0.5
this is wrong
http://x/y two 1000 0.5

http://x/y 2 1000 0.6 extra
http://x/y 4 1000 -1
http://x/y 4 1000 0.25
EOF
printf '# nothing here\n' >"$D2/data-empty.txt"
timeout 60 "$P" -d "$D2" -o "$D2" >/dev/null 2>"$T_TMP/err2"
is "$?" 0 "plot with some malformed lines still exits 0"
check "line 3 reported" grep -q "^plot: $D2/data-mixed.txt:3: expected 4 fields" "$T_TMP/err2"
check "line 4 reported" grep -q "^plot: $D2/data-mixed.txt:4: THREADS is not a whole number" "$T_TMP/err2"
check "line 6 reported" grep -q "^plot: $D2/data-mixed.txt:6: expected 4 fields" "$T_TMP/err2"
check "line 7 reported" grep -q "^plot: $D2/data-mixed.txt:7: SECONDS is not a number" "$T_TMP/err2"
is "$(grep -c 'data-mixed.txt:[1258]:' "$T_TMP/err2")" 0 "good and blank lines not reported"
check "a file without data is named" grep -q "^plot: $D2/data-empty.txt: no data lines; skipped" "$T_TMP/err2"
is "$(png_dims "$D2/download-time-mixed.png")" "800 600" "the good lines are plotted"
check "no PNG for the empty file" [ ! -e "$D2/download-time-empty.png" ]

# No data at all is a clear error.
D3=$T_TMP/none
mkdir -p "$D3"
err=$(timeout 10 "$P" -d "$D3" 2>&1)
is "$?" 1 "no data files: exit 1"
is "$err" "plot: $D3: no data files (data-NAME.txt)" "no data files: says so"
printf '# only a comment\nnot data\n' >"$D3/data-x.txt"
err=$(timeout 10 "$P" -d "$D3" 2>&1)
is "$?" 1 "data files without data: exit 1"
check "data files without data: says so" sh -c 'echo "$1" | grep -q "^plot: $2: no data to plot$"' _ "$err" "$D3"
err=$(timeout 10 "$P" -d "$T_TMP/missing" 2>&1)
is "$?" 1 "missing folder: exit 1"

# gnuplot missing.
err=$(timeout 10 env PATH=/nonexistent "$P" -d "$D" -o "$T_TMP/np" 2>&1)
is "$?" 1 "without gnuplot: exit 1"
check "without gnuplot: says how to get it" sh -c 'echo "$1" | grep -q "^plot: gnuplot not found"' _ "$err"

for args in "--size 10x10" "--size 800" "--size axb" "extra"; do
	timeout 10 "$P" -d "$D" $args >/dev/null 2>&1
	is "$?" 2 "plot $args: exit 2"
done
timeout 10 "$P" --help | grep -q '^usage: plot' && ok "--help" || notok "--help"
timeout 10 "$P" --version | grep -q '^plot (netthreads) ' && ok "--version" || notok "--version"
done_testing
