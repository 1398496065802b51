#!/bin/sh
# Build build/multus (one self-contained file) and run the demo, the tests or the benchmark.
#   ./build.sh          build only
#   ./build.sh demo     install what the demo needs, build, run `build/multus demo`
#   ./build.sh test     install what the tests need, build, run the whole suite (tox)
#   ./build.sh bench    build, then run the benchmark (benchmarks/bench.py; JSON in benchmarks/results/)
#   ./build.sh deps     install the Debian packages only
# MULTUS_PYTHON sets the interpreter written into the file's shebang (default /usr/bin/python3).
set -eu
cd "$(dirname "$0")"
PYTHON=${MULTUS_PYTHON:-/usr/bin/python3}
VENV=build/.venv
DEMO_PACKAGES="containernetworking-plugins iproute2 iputils-ping python3-venv"
TEST_PACKAGES="$DEMO_PACKAGES podman runc busybox-static uidmap iptables containerd openssl"

apt_install() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

test_deps() {
    apt_install $TEST_PACKAGES
    # Any kubectl will do for the fake API server's tests; Debian's is kubernetes-client.
    command -v kubectl >/dev/null || apt_install kubernetes-client
}

venv() {
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r build/requirements-build.txt
}

build() {
    venv
    rm -rf build/site-packages build/pkg && mkdir -p build/site-packages
    # The package as it ships: its own metadata and install_requires, pinned by build/requirements.txt.
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-compile --no-build-isolation \
        --target build/site-packages -c build/requirements.txt .
    rm -rf build/lib ./*.egg-info
    find build/site-packages -name __pycache__ -prune -exec rm -rf {} +
    rm -rf build/site-packages/bin
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 315532800)
    export SOURCE_DATE_EPOCH
    "$VENV/bin/shiv" --site-packages build/site-packages -e multus.entry:run \
        -p "$PYTHON -sSE" --compile-pyc --reproducible --root /var/cache/multus \
        -o build/multus.tmp >/dev/null
    "$VENV/bin/python" build/fastmain.py build/multus.tmp
    # Smoke run in a throwaway cache, not in the build host's /var/cache/multus.
    smoke=$(mktemp -d)
    SHIV_ROOT=$smoke CNI_COMMAND=VERSION build/multus.tmp >/dev/null || { rm -rf "$smoke"; exit 1; }
    rm -rf "$smoke"
    mv build/multus.tmp build/multus
    "$VENV/bin/python" build/source_digest.py . > build/multus.digest
    echo "built build/multus ($(wc -c < build/multus) bytes, interpreter $PYTHON)"
}

case "${1:-build}" in
    build) build ;;
    deps) test_deps ;;
    demo) apt_install $DEMO_PACKAGES; build; build/multus demo ;;
    test) test_deps; build; "$VENV/bin/tox" ;;
    bench) shift; apt_install $DEMO_PACKAGES; build; "$PYTHON" benchmarks/bench.py "$@" ;;
    *) echo "usage: $0 [build|deps|demo|test|bench]" >&2; exit 2 ;;
esac
