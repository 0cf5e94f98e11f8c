# Shortcuts; each target is one command that can be run by hand as well.
VERSION ?= dev

.PHONY: build test ci release image

build:            ## the tandem binary for this machine, in ./tandem
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.Version=$(VERSION)" -o tandem ./cmd/tandem

test:             ## the Go tests and the examples' conversation tests
	go test ./...
	go run ./cmd/tandem test examples/

ci:               ## what CI runs
	bash .ci/run

release:          ## make release VERSION=v1.0.0: static binaries for six platforms in dist/VERSION
	scripts/release.sh $(VERSION)

image:            ## make image VERSION=v1.0.0: the FROM scratch container image (needs Docker)
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$$(git rev-parse HEAD) -t tandem:$(VERSION) .
