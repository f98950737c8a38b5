package collector

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Target is an exporter URL and the provider it is listed for ("" none).
type Target struct {
	URL, Provider string
}

// Targets is the list of exporter URLs: a static list, owned by Provider,
// plus a file (one URL a line, optionally followed by the provider that owns
// it, # comments) that is re-read whenever its size or mtime changes, so a
// provisioning system can add and remove nodes without a restart.
type Targets struct {
	Static    []string
	Provider  string // owner of the static targets and of the file's lines that name none
	File      string
	Providers []string // the configured providers a file line may name

	mu       sync.Mutex
	modTime  time.Time
	size     int64
	fromFile []Target
}

// Current returns the targets now; a file that cannot be read keeps the last
// good list, and the error says why.
func (t *Targets) Current() ([]Target, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if t.File != "" {
		err = t.reload()
	}
	seen := map[string]bool{}
	var out []Target
	for _, u := range t.Static {
		if !seen[u] {
			seen[u] = true
			out = append(out, Target{u, t.Provider})
		}
	}
	for _, tg := range t.fromFile {
		if !seen[tg.URL] {
			seen[tg.URL] = true
			out = append(out, tg)
		}
	}
	return out, err
}

func (t *Targets) reload() error {
	fi, err := os.Stat(t.File)
	if err != nil {
		return fmt.Errorf("targets file: %w", err)
	}
	if fi.ModTime().Equal(t.modTime) && fi.Size() == t.size {
		return nil
	}
	data, err := os.ReadFile(t.File)
	if err != nil {
		return fmt.Errorf("targets file: %w", err)
	}
	var targets []Target
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
			continue
		case len(fields) > 2:
			bad = append(bad, fmt.Sprintf("%s:%d: want URL [provider], got %d fields", t.File, n, len(fields)))
			continue
		case !strings.HasPrefix(fields[0], "http://") && !strings.HasPrefix(fields[0], "https://"):
			bad = append(bad, fmt.Sprintf("%s:%d: %q is not an http(s) URL", t.File, n, fields[0]))
			continue
		}
		tg := Target{URL: fields[0], Provider: t.Provider}
		if len(fields) == 2 {
			if tg.Provider = fields[1]; !slices.Contains(t.Providers, tg.Provider) {
				bad = append(bad, fmt.Sprintf("%s:%d: provider %q is not configured", t.File, n, tg.Provider))
				continue
			}
		}
		targets = append(targets, tg)
	}
	if len(bad) > 0 {
		return fmt.Errorf("targets file kept at its last good version: %s", strings.Join(bad, "; "))
	}
	t.fromFile, t.modTime, t.size = targets, fi.ModTime(), fi.Size()
	return nil
}
