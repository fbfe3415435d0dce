#!/usr/bin/env bash
# Sets up everything Outrun needs on a Debian or Ubuntu machine that has
# python3 and a C compiler, builds it, and then runs a sample or the tests.
#
#   scripts/dev.sh sample   install what is missing, build, run samples/hello
#   scripts/dev.sh test     install what is missing, build, run every test
#                           (the lint suite among them: ruff and mypy),
#                           then the memory checks below (what CI runs)
#   scripts/dev.sh memcheck install what is missing, build, run the unit and
#                           host suites under valgrind, then again in an
#                           ASan+UBSan build (in build-asan/)
#   scripts/dev.sh setup    install what is missing and build; nothing else
#
# Safe to run again: it installs only what is missing and rebuilds only
# what changed.  Set OUTRUN_BUILD_DIR to build somewhere other than build/
# (the sanitizer build then goes to that name with -asan after it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
build=${OUTRUN_BUILD_DIR:-build}
asan_build=${build%/}-asan

say() { printf 'dev.sh: %s\n' "$*" >&2; }

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_system_packages() {
    local pkg
    need_apt=()
    for pkg in check libffi-dev pkg-config valgrind; do
        have_pkg "$pkg" || need_apt+=("$pkg")
    done
    install_apt_list
}

install_apt_list() {
    [ ${#need_apt[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { say "need root or sudo to install: ${need_apt[*]}"; exit 1; }
        sudo=(sudo)
    fi
    say "installing Debian packages: ${need_apt[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
}

# Whether every package that requirements-dev.txt pins (name==version) is
# installed at that version: the linter and the type checker are pinned.
pinned_versions_installed() {
    python3 - <<'PY'
import importlib.metadata as md
import re
import sys

for line in open("requirements-dev.txt", encoding="utf-8"):
    pin = re.match(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
    if pin:
        try:
            if md.version(pin[1]) != pin[2]:
                sys.exit(1)
        except md.PackageNotFoundError:
            sys.exit(1)
PY
}

install_python_packages() {
    # The Python headers and pip come with Debian's own python3 only as
    # separate packages; a pyenv or python.org build has both.
    local inc
    inc=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    if [ ! -f "$inc/Python.h" ] || ! python3 -m pip --version >/dev/null 2>&1; then
        need_apt=(python3-dev python3-pip python3-venv)
        install_apt_list
    fi
    if ! python3 -c 'import mesonpy, pytest, hypothesis, uvloop, cryptography, orjson, ruff, mypy' 2>/dev/null \
        || ! pinned_versions_installed \
        || ! command -v meson >/dev/null || ! command -v ninja >/dev/null; then
        say "installing Python packages from requirements-dev.txt"
        local flags=(-q)
        # A distribution's python3 marked EXTERNALLY-MANAGED (PEP 668)
        # takes packages only per user.
        if [ -f "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')/EXTERNALLY-MANAGED" ]; then
            flags+=(--user --break-system-packages)
            export PATH="$HOME/.local/bin:$PATH"
        fi
        python3 -m pip install "${flags[@]}" -r requirements-dev.txt
    fi
}

build_outrun() {
    if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" >/dev/null
    fi
    meson compile -C "$build" >/dev/null
}

# The sanitizers' runtimes come with gcc on Debian (libasan and libubsan,
# through libgcc-N-dev); install them if this compiler cannot link them.
install_sanitizer_runtime() {
    local probe
    probe=$(mktemp -d)
    if ! printf 'int main(void) { return 0; }\n' >"$probe/t.c" ||
        ! ${CC:-cc} -fsanitize=address,undefined "$probe/t.c" -o "$probe/t" 2>/dev/null; then
        need_apt=("libgcc-$(${CC:-cc} -dumpversion | cut -d. -f1)-dev")
        install_apt_list
    fi
    rm -rf "$probe"
}

build_asan() {
    if [ ! -f "$asan_build/build.ninja" ]; then
        meson setup "$asan_build" -Db_sanitize=address,undefined \
            -Db_lundef=false >/dev/null
    fi
    meson compile -C "$asan_build" >/dev/null
}

# The memory checks, over the Check suites and the whole host (the pytest
# suites are left out: under valgrind they take most of an hour).  Each
# part runs even when an earlier one failed; the closing line sums both.
memcheck() {
    local status=0
    local logs=("$build/meson-logs/testlog-valgrind.json"
                "$asan_build/meson-logs/testlog.json")
    rm -f "${logs[@]}"
    say "valgrind: the unit and host suites"
    meson test -C "$build" --setup=valgrind --suite unit --suite host \
        --print-errorlogs || status=$?
    say "ASan+UBSan: the unit and host suites, in $asan_build/"
    if build_asan; then
        meson test -C "$asan_build" --suite unit --suite host \
            --print-errorlogs || status=$?
    else
        say "the ASan+UBSan build failed"
        status=1
    fi
    python3 scripts/test-summary.py "${logs[@]}"
    return "$status"
}

cmd=${1:-sample}
case "$cmd" in
    setup)
        install_system_packages; install_python_packages; build_outrun ;;
    sample)
        install_system_packages; install_python_packages; build_outrun
        exec "$build/outrun" run samples/hello ;;
    test)
        # Every test, then the memory checks; every part runs even when an
        # earlier one failed, and the last line is one closing line over
        # all three logs (the suite, valgrind, the sanitizer build).
        install_system_packages; install_python_packages
        install_sanitizer_runtime; build_outrun
        status=0
        meson test -C "$build" --print-errorlogs -v || status=$?
        memcheck || status=$?
        python3 scripts/test-summary.py "$build/meson-logs/testlog.json" \
            "$build/meson-logs/testlog-valgrind.json" \
            "${build%/}-asan/meson-logs/testlog.json" || status=1
        exit "$status" ;;
    memcheck)
        install_system_packages; install_python_packages
        install_sanitizer_runtime; build_outrun
        status=0
        memcheck || status=$?
        exit "$status" ;;
    *)
        say "unknown command '$cmd'; use: sample, test, memcheck or setup"; exit 2 ;;
esac
