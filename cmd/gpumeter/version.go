package main

import "runtime/debug"

// version is set at build time (-ldflags "-X main.version=…"); otherwise it
// is read from the module and VCS information Go records in the binary.
var version = ""

func gpumeterVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
