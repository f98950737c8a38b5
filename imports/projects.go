package imports

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

var projectColumns = []string{"project_id", "name", "kind", "provider", "namespace"}

// Projects imports a projects file; the key is project_id.
func (im *Importer) Projects(ctx context.Context, path string) (Result, error) {
	projects, sha, bad, err := readProjects(path)
	if err != nil {
		return Result{Kind: KindProjects}, err
	}
	// A namespace maps DCGM labels to one project: it may not also belong to a
	// stored project that this file leaves in place.
	stored, err := store.Projects(ctx, im.Store)
	if err != nil {
		return Result{Kind: KindProjects}, err
	}
	inFile := map[string]bool{}
	for _, p := range projects {
		inFile[p.ID] = true
	}
	owner := map[string]string{}
	for _, p := range stored {
		if !inFile[p.ID] && p.Namespace != "" {
			owner[p.Namespace] = p.ID
		}
	}
	out := make([]gpumeter.Project, len(projects))
	for i, p := range projects {
		if other, taken := owner[p.Namespace]; taken && p.Namespace != "" {
			bad.add(p.line, "namespace %q already belongs to project %s", p.Namespace, other)
		}
		out[i] = p.Project
	}
	if err := bad.err(); err != nil {
		return Result{Kind: KindProjects}, err
	}
	// A project's kind decides the class of its allocations' seconds.
	allocs, err := store.Allocations(ctx, im.Store)
	if err != nil {
		return Result{Kind: KindProjects}, err
	}
	var dirty time.Time
	for _, a := range allocs {
		if inFile[a.ProjectID] {
			dirty = earliest(dirty, a.Start)
		}
	}
	return im.writeReference(ctx, KindProjects, fileName(path), sha, len(projects), len(projects), dirty, func(batch uint64) error {
		return store.InsertProjects(ctx, im.Store, batch, out)
	})
}

type projectLine struct {
	gpumeter.Project
	line int
}

// readProjects parses a whole projects file; it returns the good rows and the
// problems of the bad ones, to which the checks against the store add.
func readProjects(path string) ([]projectLine, string, *problems, error) {
	c, err := openCSV(path, projectColumns)
	if err != nil {
		return nil, "", nil, fmt.Errorf("projects: %w", err)
	}
	defer c.Close()
	bad := &problems{file: c.name}
	var out []projectLine
	idLine := map[string]int{}
	nsLine := map[string]int{}
	for range c.records(bad) {
		p := gpumeter.Project{ID: c.get("project_id"), Name: c.get("name"), Kind: gpumeter.ProjectKind(c.get("kind")),
			Provider: c.get("provider"), Namespace: c.get("namespace")}
		if p.ID == "" {
			bad.add(c.line, "project_id is empty")
		} else if prev, dup := idLine[p.ID]; dup {
			bad.add(c.line, "project %s is also on line %d", p.ID, prev)
		}
		if p.Name == "" {
			bad.add(c.line, "name is empty")
		}
		if !p.Kind.Valid() {
			bad.add(c.line, "kind %q is not public or provider", p.Kind)
		}
		if !idPattern.MatchString(p.Provider) {
			bad.add(c.line, "provider %q is not a provider id (lower-case letters, digits, _ and -)", p.Provider)
		}
		if p.Namespace != "" {
			if prev, dup := nsLine[p.Namespace]; dup {
				bad.add(c.line, "namespace %q is also used on line %d", p.Namespace, prev)
			}
			nsLine[p.Namespace] = c.line
		}
		idLine[p.ID] = c.line
		out = append(out, projectLine{Project: p, line: c.line})
	}
	return out, c.sum(), bad, nil
}

func fileName(path string) string { return filepath.Base(path) }
