#!/bin/sh
# install_test.sh BUILD_DIR WORK_DIR CONSUMER_SRC CC CMAKE
# Installs the build into WORK_DIR/prefix, then builds and runs the consumer
# program against it twice: with pkg-config, and with find_package(duro).
set -eu
build=$1 work=$2 src=$3 cc=$4 cmake=$5
rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log"
libdir=$(dirname "$(find "$work/prefix" -name duro.pc | head -n1)")/..
test -f "$work/prefix/include/duro/duro.h"
test -f "$work/prefix/include/duro/status.h"
test -f "$work/prefix/include/duro/version.h"
# the server and the CLI, runnable from the prefix (both link libduro statically)
"$work/prefix/bin/durod" --version | grep -q '^durod '
"$work/prefix/bin/duro" --version | grep -q '^duro '

# pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs duro)
echo "pkg-config: $flags"
"$cc" -o "$work/consumer-pc" "$src/main.c" $flags -Wl,-rpath,"$libdir"
"$work/consumer-pc" "$work/data-pc"
# the static library through pkg-config --static
"$cc" -o "$work/consumer-static" "$src/main.c" $(pkg-config --cflags duro) \
    "$libdir/libduro.a" $(pkg-config --static --libs-only-l duro | sed 's/-lduro //')
"$work/consumer-static" "$work/data-static"

# find_package
"$cmake" -S "$src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_RPATH="$libdir" >"$work/cmake.log"
"$cmake" --build "$work/cmake-build" >>"$work/cmake.log"
"$work/cmake-build/consumer" "$work/data-cmake"
echo "install test passed"
