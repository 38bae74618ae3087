#!/bin/sh
# Finds the Python 3.13 that driftline and its local cloud need, and prints its path.
#
# Looks, in this order, at: $DRIFTLINE_PYTHON313; python3.13 on the PATH; pyenv's 3.13
# versions; Homebrew's python@3.13; Pythons that uv installed (`uv python install 3.13`).
# When none is found, it prints how to get one and fails, unless DRIFTLINE_FETCH_PYTHON=1
# allows uv to fetch a managed Python 3.13 (uv from $DRIFTLINE_UV, the PATH, or installed
# with pip at version $UV_VERSION into $DRIFTLINE_UV_BOOTSTRAP). Used by the Makefile
# before any virtual environment exists, and by `driftline local install`.
set -u

# A CPython 3.13 with the GIL (the free-threaded build has another ABI), asked directly:
# a pyenv shim exists even where 3.13 is not selected.
is_python313() {
	[ -n "$1" ] && [ -f "$1" ] && [ -x "$1" ] || return 1
	answer=$("$1" -c 'import sys, sysconfig
print(sys.version_info[:2] == (3, 13) and not sysconfig.get_config_var("Py_GIL_DISABLED"))' \
		2>/dev/null) || return 1
	[ "$answer" = True ]
}

uv_python_dir() {
	echo "${UV_PYTHON_INSTALL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/uv/python}"
}

# One candidate per line (paths may hold spaces).
candidates() {
	command -v python3.13 2>/dev/null
	for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do echo "$p"; done
	# Homebrew's prefix: from `brew shellenv`, or brew itself.
	if [ -n "${HOMEBREW_PREFIX:-}" ]; then
		echo "$HOMEBREW_PREFIX/opt/python@3.13/bin/python3.13"
	fi
	if command -v brew >/dev/null 2>&1; then
		echo "$(brew --prefix 2>/dev/null)/opt/python@3.13/bin/python3.13"
	fi
	for p in "$(uv_python_dir)"/cpython-3.13*/bin/python3.13; do echo "$p"; done
}

find_python313() {
	candidates | while IFS= read -r p; do
		if is_python313 "$p"; then
			echo "$p"
			break
		fi
	done
}

suggest() {
	{
		echo "Python 3.13 was not found (driftline and its local cloud need it). Any of these provides it:"
		if [ "$(uname -s 2>/dev/null)" = Darwin ]; then
			echo "  brew install python@3.13          # Homebrew"
			echo "  pyenv install 3.13                # pyenv"
		else
			echo "  pyenv install 3.13                # pyenv"
			echo "  brew install python@3.13          # Homebrew"
		fi
		echo "  uv python install 3.13            # uv's managed Python"
		echo "or let uv fetch a managed Python 3.13 for this project: DRIFTLINE_FETCH_PYTHON=1 make ..."
		echo "or point DRIFTLINE_PYTHON313 at a python3.13 executable."
	} >&2
}

# A uv to fetch Python with: $DRIFTLINE_UV, uv on the PATH, or one installed with any
# python3's pip into a folder of its own.
find_uv() {
	if [ -n "${DRIFTLINE_UV:-}" ]; then
		echo "$DRIFTLINE_UV"
	elif command -v uv >/dev/null 2>&1; then
		command -v uv
	else
		bootstrap=${DRIFTLINE_UV_BOOTSTRAP:-$(dirname "$0")/../.cache/uv-bootstrap}
		if [ ! -x "$bootstrap/bin/uv" ]; then
			python=$(command -v python3) || {
				echo "DRIFTLINE_FETCH_PYTHON=1 needs uv (on the PATH) or any python3 to install it with." >&2
				return 1
			}
			echo "installing uv ${UV_VERSION:-} into $bootstrap to fetch Python 3.13" >&2
			"$python" -m venv "$bootstrap" >&2 &&
				"$bootstrap/bin/python" -m pip install --quiet --disable-pip-version-check \
					"uv${UV_VERSION:+==$UV_VERSION}" >&2 || return 1
		fi
		echo "$bootstrap/bin/uv"
	fi
}

fetch_python313() {
	uv=$(find_uv) || return 1
	echo "fetching a managed Python 3.13 with uv (DRIFTLINE_FETCH_PYTHON=1)" >&2
	# The project forbids downloads (UV_PYTHON_DOWNLOADS=never); this opt-in allows one.
	UV_PYTHON_DOWNLOADS=manual "$uv" --no-config python install 3.13 >&2 || {
		echo "uv could not fetch Python 3.13; install it yourself instead:" >&2
		return 1
	}
	found=$(UV_PYTHON_DOWNLOADS=never "$uv" --no-config python find --managed-python 3.13) &&
		is_python313 "$found" && echo "$found"
}

if [ -n "${DRIFTLINE_PYTHON313:-}" ]; then
	if is_python313 "$DRIFTLINE_PYTHON313"; then
		echo "$DRIFTLINE_PYTHON313"
		exit 0
	fi
	echo "Python 3.13 was not found: DRIFTLINE_PYTHON313=$DRIFTLINE_PYTHON313 is not a CPython 3.13 executable." >&2
	exit 1
fi
found=$(find_python313)
if [ -n "$found" ]; then
	echo "$found"
	exit 0
fi
if [ "${DRIFTLINE_FETCH_PYTHON:-0}" = 1 ] && fetch_python313; then
	exit 0
fi
suggest
exit 1
