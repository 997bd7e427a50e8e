# SPDX-License-Identifier: ISC
# completion.sh -- the bash completion in completion/netthreads.bash offers
# exactly each program's options, completes nothing where an option wants a
# value, and loads on demand from where make install puts it.
#
# The options come from each program's getopt table, read through the C
# preprocessor, not from --help: the table is what getopt_long matches, so
# it is by definition what the program accepts (the preprocessor also
# resolves the #if that gives threaded-download its extra options), while
# --help is prose written beside it that can leave an option out.
# timeout: 120
. "$(dirname "$0")/lib.sh"

bc=/usr/share/bash-completion/bash_completion
comp=$NT_TOP/completion/netthreads.bash
if [ ! -f "$bc" ]; then
	echo "ok - bash completion # SKIP bash-completion not installed (scripts/deps installs it)"
	done_testing
	exit
fi

# drive.bash FILE WORD...: with bash-completion and FILE loaded, completes
# the last WORD of the command line WORD... as bash does on TAB, through the
# function FILE registers for the first WORD; prints the candidates, one a
# line. FILE empty: loads the completion on demand, as an interactive
# shell does, from the folders in XDG_DATA_DIRS.
cat >"$T_TMP/drive.bash" <<'DRIVE'
. /usr/share/bash-completion/bash_completion
if [ -n "$1" ]; then
	. "$1" || exit 3
else
	__load_completion "$2" || exit 4
fi
shift
spec=$(complete -p "$1" 2>/dev/null) || exit 5
fn=$(printf '%s\n' "$spec" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$fn" ] || exit 6
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
DRIVE

# complete WORD...: the candidates for the last WORD, sorted, on one line.
# Run in an empty folder so that file name completion finds nothing.
empty=$T_TMP/empty
mkdir -p "$empty"
complete() {
	(cd "$empty" && bash "$T_TMP/drive.bash" "$comp" "$@") | sort | tr '\n' ' '
}

# options NAME: "LONG HAS_ARG" lines from src/bin/NAME.c's option table,
# then "-X HAS_ARG" lines from its getopt_long (or cli_parse) option
# string (a literal, or the variable initialised with one). Adjacent string literals are
# joined first, as the compiler joins them, so that an option string built
# from macros ("i:d:qh" CLI_REQ_SHORTOPTS) is read whole.
options() {
	(cd "$NT_TOP" && ${CC:-cc} -E -D_GNU_SOURCE -Isrc/lib \
		$(pkg-config --cflags libcurl libcrypto 2>/dev/null) "src/bin/$1.c") |
		awk '/^# [0-9]+ "/ { split($0, f, "\""); mine = f[2] ~ /^src\/bin\//; next }
			mine' | tr '\n' ' ' | sed 's/" *"//g' >"$T_TMP/$1.i"
	grep -oE '\{ *"[a-z0-9][a-z0-9-]*" *, *[0-2] *,' "$T_TMP/$1.i" |
		sed 's/{ *"\([^"]*\)" *, *\([0-2]\).*/--\1 \2/'
	# The option string, given to getopt_long (or to cli_parse, which
	# reads the defaults file first) as is or through a variable.
	local arg
	arg=$(grep -oE '(getopt_long|cli_parse) *\([^,]*,[^,]*, *[^,]*,' "$T_TMP/$1.i" |
		head -n 1 | sed 's/.*, *\([^,]*\),$/\1/')
	case $arg in
	\"*) echo "$arg" ;;
	*) grep -oE "[^a-zA-Z0-9_]$arg *= *\"[^\"]*\"" "$T_TMP/$1.i" | head -n 1 ;;
	esac |
		sed 's/.*"\(.*\)"/\1/; s/^[+-]//' |
		sed 's/\(.\)\(:*\)/-\1 \2\n/g' | sed '/^$/d; s/ ::$/ 2/; s/ :$/ 1/; s/ $/ 0/'
}

for src in "$NT_TOP"/src/bin/*.c; do
	name=$(basename "$src" .c)
	options "$name" >"$T_TMP/$name.opts"
	long=$(grep '^--' "$T_TMP/$name.opts" | cut -d' ' -f1 | sort | tr '\n' ' ')
	short=$(grep '^-[^-]' "$T_TMP/$name.opts" | cut -d' ' -f1 | sort | tr '\n' ' ')
	case " $long" in
	*" --help "*) ;;
	*)
		notok "$name: option table found in src/bin/$name.c"
		continue
		;;
	esac
	is "$(complete "$name" --)" "$long" "$name --<TAB> offers exactly its long options"
	is "$(complete "$name" - | tr ' ' '\n' | grep '^-[^-]' | tr '\n' ' ')" "$short" \
		"$name -<TAB> offers exactly its short options"
	# After an option that takes a value, never another option.
	bad=
	for o in $(awk '$2 != 0 { print $1 }' "$T_TMP/$name.opts"); do
		got=$(complete "$name" "$o" "")
		case " $got" in *" -"*) bad="$bad $o" ;; esac
	done
	is "$bad" "" "$name: no option offered where an option's value goes"
done

is "$(complete download-accelerator --con)" \
	"--config --connections --continue " \
	"download-accelerator --con<TAB> offers --config, --connections, --continue"
is "$(complete download-accelerator --conn)" "--connections " \
	"download-accelerator --conn<TAB> completes to --connections"
is "$(complete echo-server-poll --backend "")" "epoll poll uring " "--backend offers poll, epoll and uring"
touch "$empty/list.txt"
mkdir -p "$empty/dl"
is "$(complete download -i "")" "dl list.txt " "download -i completes file names"
is "$(complete download -d "")" "dl " "download -d completes folders only"
is "$(complete download-accelerator --output=l)" "list.txt " "--output=FILE completes too"
rm -rf "$empty"/*

# Installed: one file plus a symlink per program, found on demand by name.
if [ "${NT_VARIANT:-plain}" = plain ]; then
	d=$T_TMP/dest
	make -s -C "$NT_TOP" install DESTDIR="$d" PREFIX=/usr >"$T_TMP/install.log" 2>&1
	is "$?" 0 "make install DESTDIR=... PREFIX=/usr"
	cd=$d/usr/share/bash-completion/completions
	check "completion installed as $cd/netthreads" test -f "$cd/netthreads"
	bad=
	for src in "$NT_TOP"/src/bin/*.c; do
		name=$(basename "$src" .c)
		got=$(cd "$empty" && XDG_DATA_DIRS=$d/usr/share \
			BASH_COMPLETION_USER_DIR=$T_TMP/none \
			bash "$T_TMP/drive.bash" "" "$name" --hel)
		[ "$got" = --help ] || bad="$bad $name"
	done
	is "$bad" "" "each program's completion loads on demand from the installed tree"
	make -s -C "$NT_TOP" uninstall DESTDIR="$d" PREFIX=/usr >>"$T_TMP/install.log" 2>&1
	is "$(find "$cd" ! -type d | wc -l)" 0 "make uninstall removes the completion"
fi
done_testing
