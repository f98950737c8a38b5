package collector

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Targets is the list of exporter URLs: a static list, plus a file (one URL a
// line, # comments) that is re-read whenever its size or mtime changes, so a
// provisioning system can add and remove nodes without a restart.
type Targets struct {
	Static []string
	File   string

	mu       sync.Mutex
	modTime  time.Time
	size     int64
	fromFile []string
}

// Current returns the targets now; a file that cannot be read keeps the last
// good list, and the error says why.
func (t *Targets) Current() ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if t.File != "" {
		err = t.reload()
	}
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{t.Static, t.fromFile} {
		for _, u := range list {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
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
	var urls, bad []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "http://") && !strings.HasPrefix(line, "https://") {
			bad = append(bad, fmt.Sprintf("%s:%d: %q is not an http(s) URL", t.File, n, line))
			continue
		}
		urls = append(urls, line)
	}
	if len(bad) > 0 {
		return fmt.Errorf("targets file kept at its last good version: %s", strings.Join(bad, "; "))
	}
	t.fromFile, t.modTime, t.size = urls, fi.ModTime(), fi.Size()
	return nil
}
