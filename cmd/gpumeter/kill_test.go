package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

// killGPUs and killSteps size the file the kill tests import: large enough
// that validation and writing each take a while on both backends.
const killGPUs, killSteps = 60, 5000

var killStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// writeSamples writes a samples file of every GPU at every 15 s step, with
// util from seed so that two files differ in their values.
func writeSamples(t *testing.T, path string, steps, seed int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(strings.Join(imports.SampleColumns, ",") + "\n")
	for s := 0; s < steps; s++ {
		ts := killStart.Add(time.Duration(s) * 15 * time.Second).Format(time.RFC3339)
		for g := 0; g < killGPUs; g++ {
			fmt.Fprintf(w, "%s,GPU-K%02d,node-%d,%d,,,,,,%d,ns-%d,\n", ts, g, g/8, (s*7+g*13+seed)%101, 1000*s, g%5)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// visible is what readers see of the samples: every GPU's stored samples as
// `gpumeter samples` prints them (a digest and a count), what the
// accounting reads, and how many rows lie in the table, seen or not.
func visible(t *testing.T, dsn string) (digest string, rows, states, raw int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn) // migrated already: a cluster migrates slowly
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := sha256.New()
	var gpus []string
	for g := 0; g < killGPUs; g++ {
		gpus = append(gpus, fmt.Sprintf("GPU-K%02d", g))
		samples, err := store.Samples(ctx, st, gpus[g], killStart, killStart.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			line, _ := json.Marshal(s)
			h.Write(line)
		}
		rows += len(samples)
	}
	states, _, err = store.SampleStates(ctx, st, gpus, killStart.Unix(), killStart.Add(48*time.Hour).Unix(),
		store.Activity{Metric: "auto", ThresholdPct: 5}, nil, func(store.SamplePoint) {})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), rows, states, storetest.Count(t, st, "SELECT count() FROM samples")
}

// importChild starts `gpumeter import KIND FILE` as a process of its own and
// returns it with a channel of its stderr lines.
func importChild(t *testing.T, dsn, kind, file string, env ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "import", kind, file, "--store", dsn, "--log-format", "json")
	cmd.Env = append(append(os.Environ(), "GPUMETER_TEST_AS_MAIN=1"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines
}

// waitFor reads lines until one contains want.
func waitFor(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the import ended before %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q in two minutes", want)
		}
	}
}

// An import killed with SIGKILL at any moment leaves the store as it was:
// during validation, while writing, and after writing before the commit. Run
// again, it completes: every row there once, the later values winning. On
// the embedded engine, a server, and a two-shard cluster.
func TestKilledImportLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.csv"), filepath.Join(dir, "samples.csv")
	writeSamples(t, first, 200, 0)         // already imported: the keys the big file rewrites
	writeSamples(t, second, killSteps, 50) // the big one, killed and run again
	backends := storetest.Backends()
	backends = append(backends, storetest.Backend{Name: "cluster", DSN: func(t *testing.T) string {
		c, err := storetest.NewCluster()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Remove)
		return c.DSN
	}})
	quiet := func(args ...string) int { return runWith(context.Background(), args, io.Discard, os.Stderr) }
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			if code := quiet("import", "samples", first, "--store", dsn, "--log-level", "error"); code != exitOK {
				t.Fatalf("first import: exit %d", code)
			}
			before, rows, states, raw := visible(t, dsn)
			st := storetest.Open(t, dsn)
			got, err := store.Samples(context.Background(), st, "GPU-K07", killStart.Add(15*time.Second), killStart.Add(30*time.Second))
			st.Close()
			if err != nil || len(got) != 1 {
				t.Fatalf("first import: %+v %v", got, err)
			}
			firstOrigin := got[0].Origin
			if rows != 200*killGPUs || states != rows || raw != rows {
				t.Fatalf("before: %d samples, %d states, %d rows", rows, states, raw)
			}
			moments := []struct {
				name string
				env  []string
				kill func(t *testing.T, lines <-chan string)
			}{
				{"while reading", nil, func(t *testing.T, lines <-chan string) {
					waitFor(t, lines, "reading samples")
					time.Sleep(100 * time.Millisecond)
				}},
				{"while writing", []string{"GPUMETER_STALL_BEFORE=second batch"}, func(t *testing.T, lines <-chan string) {
					waitFor(t, lines, "stalled before second batch")
				}},
				{"after writing, before the commit", []string{"GPUMETER_STALL_BEFORE=commit"}, func(t *testing.T, lines <-chan string) {
					waitFor(t, lines, "stalled before commit")
				}},
			}
			for _, m := range moments {
				child, lines := importChild(t, dsn, "samples", second, m.env...)
				m.kill(t, lines)
				if err := child.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatalf("%s: kill: %v", m.name, err)
				}
				err := child.Wait()
				if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					t.Fatalf("%s: the import was not killed (%v): it ended first", m.name, err)
				}
				after, n, s, r := visible(t, dsn)
				if after != before || n != rows || s != states {
					t.Errorf("%s: readers see %d samples, %d states (digest %.12s), want %d, %d (%.12s)", m.name, n, s, after, rows, states, before)
				}
				t.Logf("%s: %d rows lie in the table unseen", m.name, r-raw)
			}
			// What the kills left, no reader sees; dropped, it is gone from
			// the table too, and nothing that counts goes with it.
			st = storetest.Open(t, dsn)
			dropped, err := store.DropAbandonedImports(context.Background(), st, 0)
			st.Close()
			if err != nil || dropped == 0 {
				t.Fatalf("dropping abandoned imports: %d partitions, %v", dropped, err)
			}
			if after, n, _, r := visible(t, dsn); after != before || n != rows || r != raw {
				t.Fatalf("after dropping abandoned imports: %d samples, %d rows in the table, want %d, %d", n, r, rows, raw)
			}
			// Run again to the end: all of the big file once, beside the first.
			if code := quiet("import", "samples", second, "--store", dsn, "--log-level", "error"); code != exitOK {
				t.Fatalf("re-run: exit %d", code)
			}
			_, n, s, _ := visible(t, dsn)
			if n != killSteps*killGPUs || s != n {
				t.Fatalf("after the re-run: %d samples, %d states, want %d", n, s, killSteps*killGPUs)
			}
			st = storetest.Open(t, dsn)
			got, err = store.Samples(context.Background(), st, "GPU-K07", killStart.Add(15*time.Second), killStart.Add(30*time.Second))
			st.Close()
			// A stored sample stays: the first file's value, and origin.
			if err != nil || len(got) != 1 || *got[0].GPUUtil != float64((7+7*13+0)%101) || got[0].Origin != firstOrigin {
				t.Fatalf("a key of both files shows %+v (%v), want the first file's value from %s", got, err, firstOrigin)
			}
		})
	}
}

// A reference import killed between its write and its commit leaves the
// inventory in force as it was; run again, it is in force.
func TestKilledReferenceImportLeavesNoTrace(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			inventory := func() (int, int) {
				st := storetest.Open(t, dsn)
				defer st.Close()
				rows, err := store.Inventory(context.Background(), st)
				if err != nil {
					t.Fatal(err)
				}
				return len(rows), storetest.Count(t, st, "SELECT count() FROM inventory")
			}
			child, lines := importChild(t, dsn, "inventory", fleet+"inventory.csv", "GPUMETER_STALL_BEFORE=commit")
			waitFor(t, lines, "stalled before commit")
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			if inForce, raw := inventory(); inForce != 0 || raw == 0 {
				t.Fatalf("killed before its commit: %d rows in force, %d written", inForce, raw)
			}
			if code := runWith(context.Background(), []string{"import", "inventory", fleet + "inventory.csv", "--store", dsn, "--log-level", "error"}, io.Discard, os.Stderr); code != exitOK {
				t.Fatalf("re-run: exit %d", code)
			}
			if inForce, _ := inventory(); inForce == 0 {
				t.Fatal("the re-run left nothing in force")
			}
		})
	}
}
