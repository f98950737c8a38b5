package ingest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// The store's sample writers are called from ingest and store alone: a new
// source of samples goes through ingest, or this fails naming where.
func TestOnlyIngestWritesSamples(t *testing.T) {
	writers := map[string]bool{"InsertSamples": true, "InsertImportedBatch": true}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	inIngest := 0
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "store" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "store" && writers[sel.Sel.Name] {
				if filepath.Dir(rel) == "ingest" {
					inIngest++
				} else {
					found = append(found, fset.Position(sel.Pos()).String()+": store."+sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Fatalf("samples written around ingest:\n%s", strings.Join(found, "\n"))
	}
	if inIngest < len(writers) {
		t.Fatalf("%d calls of the writers found in ingest itself: the walk misses them", inIngest)
	}
}
