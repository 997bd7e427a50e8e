# SPDX-License-Identifier: ISC
# spdx.sh -- every source file names its licence on its first line (C,
# Makefile) or right after the shebang (shell), and LICENSE is there.
# timeout: 60
. "$(dirname "$0")/lib.sh"
cd "$NT_TOP" || exit 1

C_TAG='/* SPDX-License-Identifier: ISC */'
SH_TAG='# SPDX-License-Identifier: ISC'

check "LICENSE is the ISC licence" \
	grep -q 'Permission to use, copy, modify, and distribute this software' LICENSE
is "$(head -n 1 Makefile)" "$SH_TAG" "Makefile: SPDX line first"

n=0
for f in $(find src tests bench -type f \( -name '*.c' -o -name '*.h' \) | sort); do
	n=$((n + 1))
	is "$(head -n 1 "$f")" "$C_TAG" "$f: SPDX line first"
done
# Shell: named *.sh or *.lib, or any file that starts with a shebang.
for f in $(find scripts bench tests .ci completion -type f 2>/dev/null | sort) \
	debian/rules; do
	case "$f" in
	*.sh | *.lib) ;;
	*) [ "$(head -c 2 "$f")" = '#!' ] || continue ;;
	esac
	n=$((n + 1))
	if [ "$(head -c 2 "$f")" = '#!' ]; then
		is "$(sed -n 2p "$f")" "$SH_TAG" "$f: SPDX line after the shebang"
	else
		is "$(head -n 1 "$f")" "$SH_TAG" "$f: SPDX line first"
	fi
done
check "found the source files ($n)" [ "$n" -gt 50 ]
done_testing
