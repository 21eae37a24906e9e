# vmrt — the two commands of the README:
#   make run    install what is missing (Debian, as root), configure, build, run the main job
#   make test   the same set-up, then every test (native, ASan+UBSan, TSan, aarch64 under qemu, lint)
# Both are idempotent and quick when nothing changed.

BUILD     ?= build
MESON_OPTS ?= -Dwerror=true

.PHONY: all deps build run test format lint bench bench-report bench-baseline install clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

run: build
	$(BUILD)/tools/vmrt/vmrt run --stats

test: deps
	@scripts/test.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' '*.cpp')

lint:
	@scripts/lint.sh

bench: build
	$(BUILD)/tools/vmrt/vmrt bench all

# Regenerates the plots and the raw table that docs/benchmarks.md embeds
# (--quick sizes, as docs/benchmarks.md says; `make bench` runs full sizes).
bench-report: build
	$(BUILD)/tools/vmrt/vmrt bench all --quick --plot docs/img | tee docs/img/bench-latest.txt
	rm -f docs/img/*.gp docs/img/*.dat

bench-baseline: build
	scripts/icount.sh update $(BUILD)/bench/icount/vmrt-icount bench/icount/baseline.txt

install: build
	meson install -C $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-aarch64
