#!/usr/bin/env bash
# Makes the benchmark environment, build/bench-venv: a virtual environment
# on the python3 Outrun embeds, seeing its site-packages, with the peers the
# benchmarks measure Outrun against (the pulumi SDK) installed into it.
# Those peers are never dependencies of Outrun: they live only here.
#
#   scripts/bench-env.sh            make (or update) build/bench-venv
#   scripts/bench-env.sh ARGS...    make it, then run 'outrun bench ARGS...'
#                                   in it, e.g. scripts/bench-env.sh output
#
# Safe to run again: it installs only what is missing.  Set
# OUTRUN_BUILD_DIR to use a build other than build/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
build=${OUTRUN_BUILD_DIR:-build}
venv=$here/$build/bench-venv

say() { printf 'bench-env.sh: %s\n' "$*" >&2; }

if [ ! -x "$build/outrun" ]; then
    say "no $build/outrun: build Outrun first (scripts/dev.sh setup)"
    exit 1
fi

if [ ! -f "$venv/pyvenv.cfg" ]; then
    say "creating $venv"
    # --system-site-packages: the venv sees what the base python3 has
    # (uvloop, pytest, ...), so only the peers are added here.
    python3 -m venv --system-site-packages "$venv"
fi

if ! "$venv/bin/python" -c 'import pulumi' 2>/dev/null; then
    say "installing pulumi into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check pulumi
fi

[ $# -eq 0 ] && exit 0

# The host embeds libpython, not the venv's python; VIRTUAL_ENV makes it
# use the venv's site-packages.
export VIRTUAL_ENV=$venv
exec "$build/outrun" bench "$@"
