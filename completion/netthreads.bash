# SPDX-License-Identifier: ISC
# netthreads.bash -- bash completion for the netthreads programs.
#
# One file serves every program: `make install` puts it in bash-completion's
# completions folder as "netthreads" with a symlink named after each program,
# which is the name bash-completion looks for when a program is first
# completed. The options are those of each program's getopt table;
# tests/integration/completion.sh fails when the two disagree.

# _netthreads_in WORD LIST: whether WORD is one of the words of LIST.
_netthreads_in()
{
	local w
	for w in $2; do
		[[ $w == "$1" ]] && return 0
	done
	return 1
}

_netthreads()
{
	local cur prev words cword split
	_init_completion -s || return

	# opts: every option. The arguments of the options in file, dir, host
	# and addr complete as file names, folders, host names and local
	# addresses; those in value take a free value, so complete as nothing.
	# operands: the program takes arguments besides options.
	local opts file= dir= host= addr= value= operands=
	# The request options the three downloaders share (cli.h).
	local req_opts='-H --header -A --user-agent -e --referer -b --cookie
		-u --user --netrc --netrc-file -k --insecure --cacert --capath
		-E --cert --key -x --proxy --noproxy -4 --ipv4 -6 --ipv6
		--config --no-config'
	local req_file='-b --cookie --netrc-file --cacert -E --cert --key
		--config'
	local req_dir='--capath'
	local req_value='-H --header -A --user-agent -e --referer -u --user
		-x --proxy --noproxy'
	case ${1##*/} in
	download-accelerator)
		opts="-n --connections -o --output -d --dir -c --continue
			-N --timestamping -q --quiet --checksum --timeout
			--min-speed --retries --max-speed --max-connections
			--max-per-host -i --input --json
			--no-content-disposition -h --help --version $req_opts"
		file="-o --output -i --input $req_file"
		dir="-d --dir $req_dir"
		value="-n --connections --checksum --timeout --min-speed
			--retries --max-speed --max-connections --max-per-host
			$req_value"
		operands=1
		;;
	download)
		opts="-i --input -d --dir -s --split --max-connections
			--max-per-host -c --continue --no-clobber --max-speed
			--json -q --quiet --retries --retry-wait
			-N --timestamping --no-content-disposition -h --help --version $req_opts"
		file="-i --input $req_file"
		dir="-d --dir $req_dir"
		value="-s --split --max-connections --max-per-host --max-speed
			--retries --retry-wait $req_value"
		;;
	threaded-download)
		opts="-i --input -d --dir -j --jobs -t --threads -v --verbose
			-s --split --max-connections --max-per-host -c --continue
			--no-clobber --max-speed --json
			-q --quiet --retries --retry-wait -N --timestamping
			--no-content-disposition
			-h --help --version $req_opts"
		file="-i --input $req_file"
		dir="-d --dir $req_dir"
		value="-j --jobs -t --threads -s --split --max-connections
			--max-per-host --max-speed --retries --retry-wait $req_value"
		;;
	experiments)
		opts='-t --threads -r --repeat -d --dir --fresh -c --cap
			--link --label -s --sizes -a --accelerator --run-timeout
			-q --quiet -h --help --version'
		file='-a --accelerator'
		dir='-d --dir'
		value='-t --threads -r --repeat -c --cap --link --label
			-s --sizes --run-timeout'
		operands=1
		;;
	plot)
		opts='-d --dir -o --output --size -h --help --version'
		dir='-d --dir -o --output'
		value='--size'
		;;
	echo-server)
		opts='-p --port -b --bind -q --quiet -h --help --version'
		addr='-b --bind'
		value='-p --port'
		;;
	echo-server-poll)
		opts='-p --port -b --bind --backend -t --idle -m --max-clients
			-w --workers -q --quiet -h --help --version'
		addr='-b --bind'
		value='-p --port -t --idle -m --max-clients -w --workers'
		;;
	echo-client)
		opts='-s --server -p --port -h --help --version'
		host='-s --server'
		value='-p --port'
		;;
	echo-bench)
		opts='-s --server -p --port -c --connections -l --length
			-d --duration -T --threads -n --rounds -i --idle
			--backend -h --help --version'
		host='-s --server'
		value='-p --port -c --connections -l --length -d --duration
			-T --threads -n --rounds -i --idle'
		;;
	thread-hello)
		opts='-n --threads -h --help --version'
		value='-n --threads'
		;;
	thread-shared)
		opts='-n --threads -i --iterations -h --help --version'
		value='-n --threads -i --iterations'
		;;
	*)
		return
		;;
	esac

	if _netthreads_in "$prev" "$file"; then
		_filedir
		return
	elif _netthreads_in "$prev" "$dir"; then
		_filedir -d
		return
	elif _netthreads_in "$prev" "$host"; then
		_known_hosts_real -- "$cur"
		return
	elif _netthreads_in "$prev" "$addr"; then
		_ip_addresses
		return
	elif _netthreads_in "$prev" "$value"; then
		return
	elif [[ $prev == --backend ]]; then
		COMPREPLY=($(compgen -W 'poll epoll uring' -- "$cur"))
		return
	fi
	# --flag=... for an option that takes no argument: nothing fits.
	[[ $split == true ]] && return

	if [[ $cur == -* || -z $operands ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	fi
} &&
	complete -F _netthreads download-accelerator download threaded-download \
		experiments plot echo-server echo-server-poll echo-client \
		echo-bench thread-hello thread-shared
