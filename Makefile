# Convenience front end over CMake: `make`, `make test`, `make bench`, `make fuzz`.
BUILD ?= build

.PHONY: all test bench fuzz setup clean
all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$$(nproc)

test:
	tools/test.sh

bench: all
	cmake --build $(BUILD) --target bench

fuzz:
	fuzz/run.sh $${SECONDS_PER_FUZZER:-60}

setup:
	tools/setup.sh

clean:
	rm -rf build build-* out
