package imports

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzFile runs check on data written to a file of the worker's own, with
// the seeds of testdata/ (every file of the kind there) and a few hand-made
// traps.
func fuzzFile(f *testing.F, kind string, check func(t *testing.T, path string, lines int)) {
	seeds, _ := filepath.Glob("../testdata/*/*/" + kind + ".csv")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// The same file cut short, and with a stray quote in its first field.
		f.Add(data[:len(data)/2])
		if i := strings.IndexByte(string(data), '\n'); i > 0 && i+1 < len(data) {
			f.Add(append(append(append([]byte{}, data[:i+1]...), "foo\"bar,"...), data[i+1:]...))
		}
	}
	path := filepath.Join(f.TempDir(), kind+".csv")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, path, strings.Count(string(data), "\n")+1)
	})
}

// problemsWithin checks a rejection: a one-line error for a bad header or
// unreadable file, or bad lines that all exist in the file.
func problemsWithin(t *testing.T, err error, lines int) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("a rejection that is not a list of bad lines spans lines: %q", err)
		}
		return
	}
	if ve.Total == 0 || len(ve.Problems) == 0 {
		t.Fatalf("a validation error without bad lines: %v", err)
	}
	for _, p := range ve.Problems {
		if p.Line < 1 || p.Line > lines {
			t.Fatalf("bad line %d of a %d-line file: %s", p.Line, lines, p.Reason)
		}
	}
}

// fieldsClean checks what an accepted file hands on: no field that validation
// should have refused.
func fieldsClean(t *testing.T, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if problem := checkField("field", f); problem != "" {
			t.Fatalf("accepted %q: %s", f, problem)
		}
	}
}

func FuzzInventory(f *testing.F) {
	fuzzFile(f, "inventory", func(t *testing.T, path string, lines int) {
		rows, _, err := ReadInventory(path)
		if err != nil {
			problemsWithin(t, err, lines)
			return
		}
		for _, r := range rows {
			fieldsClean(t, r.GPUUUID, r.Provider, r.Site, r.Node, r.Model, string(r.Share))
			if r.ValidFrom.Before(firstTime) || r.ValidFrom.After(lastTime) || r.ValidTo != nil && !r.ValidTo.After(r.ValidFrom) {
				t.Fatalf("accepted validity %v – %v", r.ValidFrom, r.ValidTo)
			}
		}
	})
}

func FuzzProjects(f *testing.F) {
	fuzzFile(f, "projects", func(t *testing.T, path string, lines int) {
		rows, _, bad, err := readProjects(path)
		if err == nil {
			err = bad.err()
		}
		if err != nil {
			problemsWithin(t, err, lines)
			return
		}
		for _, p := range rows {
			fieldsClean(t, p.ID, p.Name, p.Provider, p.Namespace)
			if !p.Kind.Valid() {
				t.Fatalf("accepted kind %q", p.Kind)
			}
		}
	})
}

func FuzzAllocations(f *testing.F) {
	fuzzFile(f, "allocations", func(t *testing.T, path string, lines int) {
		rows, _, bad, err := readAllocations(path)
		if err == nil {
			err = bad.err()
		}
		if err != nil {
			problemsWithin(t, err, lines)
			return
		}
		for _, a := range rows {
			fieldsClean(t, a.ID, a.ProjectID, a.GPUUUID, a.Node)
			if (a.GPUUUID == "") == (a.Node == "") || a.End != nil && !a.End.After(a.Start) {
				t.Fatalf("accepted allocation %+v", a.Allocation)
			}
		}
	})
}

func FuzzSamples(f *testing.F) {
	fuzzFile(f, "samples", func(t *testing.T, path string, lines int) {
		c, err := openCSV(path, SampleColumns)
		var rows int
		var lo, hi time.Time
		if err == nil {
			rows, lo, hi, err = readSamples(context.Background(), c, nil)
			c.Close()
		}
		if err != nil {
			problemsWithin(t, err, lines)
			return
		}
		if rows > 0 && (lo.Before(firstTime) || hi.After(lastTime) || hi.Before(lo)) {
			t.Fatalf("accepted times %v – %v", lo, hi)
		}
		if rows > lines {
			t.Fatalf("%d rows from %d lines", rows, lines)
		}
	})
}
