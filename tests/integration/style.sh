# SPDX-License-Identifier: ISC
# style.sh -- every C file is as clang-format (.clang-format, the code's
# own KNF-like style) writes it, and no line of C or of the Makefile is
# wider than 80 columns (tabs of 8).
# timeout: 120
. "$(dirname "$0")/lib.sh"
cd "$NT_TOP" || exit 1

if ! command -v clang-format >/dev/null 2>&1; then
	notok "clang-format is installed (scripts/deps installs it)"
	done_testing
	exit 1
fi
files=$(find src tests bench -type f \( -name '*.c' -o -name '*.h' \) | sort)
n=0
for f in $files; do
	n=$((n + 1))
	if out=$(clang-format --dry-run -Werror "$f" 2>&1); then
		ok "$f: as clang-format writes it"
	else
		notok "$f: clang-format would change it (make format)"
		echo "$out" | head -n 6 | sed 's/^/# /'
	fi
done
check "found the C files ($n)" [ "$n" -gt 50 ]
wide=$(for f in $files Makefile; do
	expand -t 8 "$f" | awk -v f="$f" 'length($0) > 80 { print f ":" FNR }'
done)
is "$wide" "" "no line over 80 columns in C files and the Makefile"
done_testing
