# tools/deps.sh - sourced by setup.sh and test.sh: make sure Debian packages are installed.
#
# vaern_need PKG...  installs what is missing when run as root (apt-get), otherwise prints the
# exact apt-get line to run and returns 1.
vaern_need() {
    missing=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "vaern: installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
            echo "vaern: apt-get install failed for:$missing" >&2
            return 1
        }
        return 0
    fi
    echo "vaern: missing Debian packages. Run as root:" >&2
    echo "    apt-get install -y$missing" >&2
    return 1
}

# What building needs, and what the tests add.
# Hyperscan is packaged for x86-64 only; elsewhere the prefilter uses vaern's own automaton.
VAERN_BUILD_PKGS="gcc make cmake pkg-config zlib1g-dev libyaml-dev libpcre2-dev"
if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
    VAERN_BUILD_PKGS="$VAERN_BUILD_PKGS libhyperscan-dev"
fi
VAERN_TEST_PKGS="$VAERN_BUILD_PKGS libcmocka-dev clang libclang-rt-14-dev clang-format python3 libevtx-utils"
VAERN_BENCH_PKGS="$VAERN_TEST_PKGS hyperfine time"
