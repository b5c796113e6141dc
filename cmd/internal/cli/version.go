package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// writeVersion writes what info, the binary's build information (nil
// when it has none), tells of the build: the module's version, the VCS
// revision it was built from and whether the tree had changes, and the Go
// version. What the build did not record is "unknown": a binary built
// with -buildvcs=false, or by go run or go test, has no revision.
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	module, version, goVersion := "github.com/sessionkit/sessionkit/cmd", "unknown", runtime.Version()
	revision, modified, committed := "unknown", "unknown", "unknown"
	if info != nil {
		if info.Main.Path != "" {
			module = info.Main.Path
		}
		if info.Main.Version != "" {
			version = info.Main.Version // "(devel)" when built from a checkout without a tag
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				committed = s.Value
			}
		}
	}
	fmt.Fprintf(w, "sessionkit %s\n", version)
	fmt.Fprintf(w, "module:    %s\n", module)
	fmt.Fprintf(w, "revision:  %s\n", revision)
	fmt.Fprintf(w, "modified:  %s\n", modified)
	fmt.Fprintf(w, "committed: %s\n", committed)
	fmt.Fprintf(w, "go:        %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
}
