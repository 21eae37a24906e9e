#!/usr/bin/env bash
# meson install into a scratch prefix, then build the embedding example
# against it with pkg-config and run it.
set -eu
builddir=$1 srcdir=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$builddir" --destdir "$dest" --no-rebuild >/dev/null
prefix=$(meson introspect "$builddir" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
libdir=$(meson introspect "$builddir" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"))')
root=$dest$prefix
export PKG_CONFIG_PATH=$root/$libdir/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$dest
test -f "$root/include/vmrt/vmrt.h" || { echo "FAIL: vmrt.h not installed"; exit 1; }
test -x "$root/bin/vmrt" || { echo "FAIL: vmrt not installed"; exit 1; }
test -f "$root/share/man/man1/vmrt.1" || { echo "FAIL: man page not installed"; exit 1; }
ls "$root/$libdir"/libvmrt.so.0* >/dev/null || { echo "FAIL: no versioned soname"; exit 1; }
cc -o "$dest/example" "$srcdir/examples/coro_pool.c" $(pkg-config --cflags --libs vmrt)
cc -o "$dest/embed" "$srcdir/examples/embed_runtime.c" $(pkg-config --cflags --libs vmrt)
LD_LIBRARY_PATH=$root/$libdir "$dest/embed" 2>/dev/null | grep -q "total = 127500" || { echo "FAIL: embed_runtime example against the installed library"; exit 1; }
out=$(LD_LIBRARY_PATH=$root/$libdir "$dest/example")
[ "$out" = "sum=90 created=1 reused=2" ] || { echo "FAIL: example printed '$out'"; exit 1; }
# Only the public API is exported.
if nm -D --defined-only "$root/$libdir/libvmrt.so" | awk '{print $3}' | grep -v '^vmrt_[a-z]' | grep -v '^VMRT_0$' | grep .; then
  echo "FAIL: libvmrt.so exports non-public symbols (above)"; exit 1
fi
echo "ok: installed, pkg-config works, example runs, exports are public only"
