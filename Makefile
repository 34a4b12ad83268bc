# vivit-go: common tasks. The README's commands work without make, too.
GO ?= go
# A duration can end a target with a bare "context deadline exceeded" and no
# failing input on Go before 1.27 (go.dev/issue/75804); a count such as
# FUZZTIME=1000000x cannot.
FUZZTIME ?= 30s

.PHONY: install build test test-openblas race test-386 test-arm64 bench bench-openblas bench-both gobench run fuzz vet generate

build:
	$(GO) build ./...

# Installs the vivit command into $(go env GOPATH)/bin (or $GOBIN).
install:
	$(GO) install ./cmd/vivit

test:
	$(GO) test ./...

# The OpenBLAS/LAPACKE backend (needs libopenblas-dev and liblapacke-dev).
test-openblas:
	$(GO) test -tags openblas ./...

race:
	$(GO) test -race -short ./...

# 32-bit int: the readers' size checks, the memory budget's address-space
# bound (runs on amd64 Linux with IA32 emulation).
test-386:
	GOARCH=386 $(GO) test -short ./...

# arm64 under qemu's user-mode emulator (apt-get install qemu-user; about
# 20 minutes on two cores), all but cmd/vivit, whose tests run the built
# command directly.
test-arm64:
	GOARCH=arm64 $(GO) test -exec qemu-aarch64 -short -timeout 60m $$($(GO) list ./... | grep -v /cmd/vivit)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l . && false)

# A compact table of every performance case (stage times, Gram FLOP rate
# next to a plain dense product, multiple of a gradient pass, peak heap).
bench:
	$(GO) run ./bench/cmd/benchreport

bench-openblas:
	$(GO) run -tags openblas ./bench/cmd/benchreport

# Both builds side by side: every case on each in turn, 5 rounds, with the
# ratio OpenBLAS/pure Go (median and range over the rounds).
bench-both:
	$(GO) run ./bench/cmd/benchreport -both

# The Go benchmarks themselves (benchstat-friendly).
gobench:
	$(GO) test -run '^$$' -bench . -benchtime 3x -count 5 ./bench/

run:
	$(GO) run ./cmd/vivit eigen

# Regenerates the embedded example (deterministic).
generate:
	$(GO) generate ./example

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./safetensors
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./npy
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./torchpt
	$(GO) test -run '^$$' -fuzz '^FuzzArchitecture$$' -fuzztime $(FUZZTIME) ./checkpoint
	$(GO) test -run '^$$' -fuzz '^FuzzCheckpoint$$' -fuzztime $(FUZZTIME) ./checkpoint
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./onnx
	$(GO) test -run '^$$' -fuzz '^FuzzONNXEigen$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzArchitectureEigen$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run TestMutatedModels ./onnx -args -mutations 2000
