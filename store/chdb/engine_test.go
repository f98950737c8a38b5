package chdb

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"os/signal"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open("chdb://" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Go turns a nil dereference into a panic through its SIGSEGV handler. libchdb
// resets that handler when its own are turned off; the engine must leave Go's
// in place, or the process dies instead of recovering.
func TestGoSignalHandlingSurvivesEngine(t *testing.T) {
	before := signalHandlers()
	s := open(t)
	ctx := context.Background()
	if after := signalHandlers(); after != before {
		t.Fatalf("opening the engine replaced Go's signal handlers: %x -> %x", before, after)
	}
	if err := s.Exec(ctx, "CREATE TABLE t (n UInt64) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	recovered := func(f func()) (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		f()
		return ""
	}
	var p *struct{ x int }
	if msg := recovered(func() { p.x = 1 }); !strings.Contains(msg, "nil pointer dereference") {
		t.Fatalf("nil dereference: %q", msg)
	}
	var m map[string]int
	if msg := recovered(func() { m["a"] = 1 }); !strings.Contains(msg, "nil map") {
		t.Fatalf("nil map: %q", msg)
	}

	// Heavy goroutine work beside engine queries: async preemption (SIGURG),
	// GC and stack growth all run while libchdb's threads are busy.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	sums := make([]uint64, 4*runtime.NumCPU())
	for i := range sums {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				buf := make([]byte, 1<<16) // garbage for the collector
				for j := range buf {
					sums[i] += uint64(buf[j]) + uint64(j)
				}
				if msg := recovered(func() { p.x++ }); msg == "" {
					panic("nil dereference did not panic")
				}
			}
		}(i)
	}
	for i := 0; i < 50; i++ {
		if err := s.Exec(ctx, fmt.Sprintf("INSERT INTO t SELECT number + %d FROM numbers(10000)", i*10000)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	var n, sum uint64
	if err := s.Stream(ctx, "SELECT count(), toUInt64(sum(n)) FROM t", func(scan func(...any) error) error { return scan(&n, &sum) }); err != nil {
		t.Fatal(err)
	}
	if n != 500000 || sum != 500000*499999/2 {
		t.Fatalf("count %d sum %d", n, sum)
	}

	if after := signalHandlers(); after != before {
		t.Fatalf("engine queries replaced Go's signal handlers: %x -> %x", before, after)
	}
	// Signals Go programs rely on still arrive through os/signal.
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGUSR1 not delivered to os/signal")
	}
}

func TestOneProcessPerDataDir(t *testing.T) {
	dir := t.TempDir()
	s, err := Open("chdb://" + dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lock, err := os.OpenFile(dir+"/.gpumeter.lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	// flock is per open file description, so a second open in this process
	// stands in for a second process.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		t.Fatal("data dir not locked while open")
	}
}

func TestMissingLibraryIsOneClearLine(t *testing.T) {
	t.Setenv("CHDB_LIB_PATH", "/nonexistent/libchdb.so")
	_, err := Open("chdb://" + t.TempDir())
	if err == nil || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "libchdb not found at /nonexistent/libchdb.so: run `make libchdb` or set CHDB_LIB_PATH") {
		t.Fatalf("got %v", err)
	}
}

func TestQueryErrorsAndEscaping(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.Stream(ctx, "SELECT * FROM missing_table", func(func(...any) error) error { return nil }); err == nil || !strings.Contains(err.Error(), "UNKNOWN_TABLE") {
		t.Fatalf("got %v", err)
	}
	if err := s.Exec(ctx, "CREATE TABLE e (s String, n Nullable(String)) ENGINE = MergeTree ORDER BY s"); err != nil {
		t.Fatal(err)
	}
	odd := "tab\there\nnew line \\ back 한글"
	if err := s.Insert(ctx, "e", []string{"s", "n"}, [][]any{{odd, nil}}); err != nil {
		t.Fatal(err)
	}
	var got string
	var null *string
	if err := s.Stream(ctx, "SELECT s, n FROM e", func(scan func(...any) error) error { return scan(&got, &null) }); err != nil {
		t.Fatal(err)
	}
	if got != odd || null != nil {
		t.Fatalf("got %q %v", got, null)
	}
}
