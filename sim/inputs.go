package sim

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// WriteInputs writes inventory.csv, projects.csv and allocations.csv (SPEC §3)
// for the fleet into dir, and targets.txt for a server at baseURL: each
// node's URL and the provider that owns it.
func (f *Fleet) WriteInputs(dir, baseURL string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts := func(t time.Time) string { return t.Format(time.RFC3339) }
	inv := [][]string{{"gpu_uuid", "provider", "site", "node", "gpu_index", "model", "share", "valid_from", "valid_to"}}
	for _, n := range f.Nodes {
		for _, g := range n.GPUs {
			inv = append(inv, []string{g.UUID, n.Provider.ID, n.Provider.Site, n.Name, strconv.Itoa(g.Index),
				n.Provider.Model, string(n.Share), ts(f.From), ""})
		}
	}
	proj := [][]string{{"project_id", "name", "kind", "provider", "namespace"}}
	for _, p := range f.Projects {
		proj = append(proj, []string{p.ID, p.Name, string(p.Kind), p.Provider, p.Namespace})
	}
	alloc := [][]string{{"allocation_id", "project_id", "gpu_uuid", "node", "start", "end"}}
	for _, a := range f.Allocations {
		end := ""
		if a.End != nil {
			end = ts(*a.End)
		}
		alloc = append(alloc, []string{a.ID, a.ProjectID, a.GPUUUID, a.Node, ts(a.Start), end})
	}
	for name, rows := range map[string][][]string{"inventory.csv": inv, "projects.csv": proj, "allocations.csv": alloc} {
		if err := writeCSV(filepath.Join(dir, name), rows); err != nil {
			return err
		}
	}
	if baseURL == "" {
		return nil
	}
	tf, err := os.Create(filepath.Join(dir, "targets.txt"))
	if err != nil {
		return err
	}
	for _, n := range f.Nodes {
		fmt.Fprintf(tf, "%s/nodes/%s/metrics %s\n", baseURL, n.Name, n.Provider.ID)
	}
	return tf.Close()
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
