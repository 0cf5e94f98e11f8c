package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version and Commit are set by the release build:
// go build -ldflags "-X main.Version=v1.2.0 -X main.Commit=$(git rev-parse HEAD)" (scripts/release.sh).
// Without them, the module version (go install ...@v1.2.0) and the VCS revision Go records in
// the binary are used.
var (
	Version = "dev"
	Commit  = ""
)

// build describes the running binary: its version, the commit it was built from (with
// "-dirty" when the work tree had changes), the Go release and the platform.
type build struct {
	Version, Commit, Go, Platform string
}

func buildInfo() build {
	b := build{Version: Version, Commit: Commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		if b.Commit == "" {
			modified := false
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					b.Commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if b.Commit != "" && modified {
				b.Commit += "-dirty"
			}
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// versionLine is what `tandem version` prints:
// "tandem v1.2.0 (commit 1a2b3c4d5e6f, go1.26.8, linux/amd64)".
func versionLine() string {
	b := buildInfo()
	commit, dirty := strings.CutSuffix(b.Commit, "-dirty")
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if dirty {
		commit += "-dirty"
	}
	return fmt.Sprintf("tandem %s (commit %s, %s, %s)", b.Version, commit, b.Go, b.Platform)
}
