package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Any bytes as a configuration file: Parse and Validate never panic; a
// rejection is one line per problem, each naming a field; what Validate
// accepts has a usable time zone.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/*/*.yaml")
	more, _ := filepath.Glob("../testdata/*/*/*.yaml")
	for _, s := range append(seeds, more...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("providers: {nhn: {max_borrow_hours: -1}}\ntariffs: [{class: x, billed_to: y}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.Contains(line, ": ") {
					t.Fatalf("a validation line that names nothing: %q", line)
				}
			}
			return
		}
		if cfg.Location() == nil {
			t.Fatal("a valid configuration without a time zone")
		}
	})
}
