// Package version names the build of gokafkad and gokafka.
package version

import "runtime/debug"

// version is set at link time for releases:
// -ldflags "-X github.com/gokafka/gokafka/internal/version.version=v1.2.3".
var version = ""

// String is the release version, or the module version from the build
// info, or "(devel)".
func String() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
