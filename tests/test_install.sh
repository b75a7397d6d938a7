#!/usr/bin/env bash
# tests/test_install.sh BUILD_DIR - make install into a temporary prefix, then
# build a program against the installed header through pkg-config and check
# that it captions like build/caption; the installed tools run.
set -eu
B=${1:-build}
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
make -s install PREFIX="$P" > "$B/test_install.log"
export PKG_CONFIG_PATH="$P/share/pkgconfig"
flags=$(pkg-config --cflags --libs vladapter) || { echo "test_install: FAIL pkg-config does not find vladapter"; exit 1; }
case "$flags" in *"-I$P/include"*) ;; *) echo "test_install: FAIL cflags '$flags' do not point at $P/include"; exit 1 ;; esac
${CC:-cc} -std=c99 -O1 tests/install_check.c -o "$B/install_check" $flags
got=$("$B/install_check" "$B/tiny_caption.gguf" tests/data/images/coffee.ppm | sed 's/^ *//; s/ *$//') # as build/caption prints it
want=$("$B/caption" --model "$B/tiny_caption.gguf" tests/data/images/coffee.ppm)
[ "$got" = "$want" ] || { echo "test_install: FAIL installed header captions '$got', build/caption '$want'"; exit 1; }
for t in vla-convert vla-train vla-inspect vla-embed vla-shapes vla-eval; do
    [ -x "$P/bin/$t" ] || { echo "test_install: FAIL $P/bin/$t missing"; exit 1; }
done
"$P/bin/vla-convert" --help > /dev/null
echo "test_install: header, pkg-config file and tools installed; a program built with \$(pkg-config --cflags --libs vladapter) captions as build/caption"
