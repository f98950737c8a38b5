// Package storetest runs the same test on every backend: the embedded engine
// and a real clickhouse-server. The server is the one GPUMETER_TEST_CLICKHOUSE
// names, or else a private one that Main starts (and installs, where it may)
// with scripts/clickhouse-server.sh and stops after the package's tests.
package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/schemas"
	"github.com/nipa-gpu/gpumeter/store"
	_ "github.com/nipa-gpu/gpumeter/store/chdb"       // chdb:// backend
	_ "github.com/nipa-gpu/gpumeter/store/clickhouse" // clickhouse:// backend
)

var serverDSN string

// Main starts a private clickhouse-server unless GPUMETER_TEST_CLICKHOUSE names
// one, runs the tests and stops it. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	serverDSN = os.Getenv("GPUMETER_TEST_CLICKHOUSE")
	if serverDSN == "" {
		srv, err := NewServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, "storetest:", err)
			return 1
		}
		defer srv.Remove()
		serverDSN = srv.DSN
	}
	return m.Run()
}

// Server is a private clickhouse-server for tests.
type Server struct {
	DSN    string
	script string
	dir    string
	port   int
}

// NewServer starts a private clickhouse-server on a free port; a test may
// stop and start it again.
func NewServer() (*Server, error) {
	script, err := repoFile("scripts/clickhouse-server.sh")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gpumeter-ch-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePortRange()
	if err != nil {
		return nil, err
	}
	srv := &Server{script: script, dir: dir, port: port}
	if err := srv.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return srv, nil
}

// Start starts the server (again) on its port and data.
func (s *Server) Start() error {
	out, err := exec.Command(s.script, "start", s.dir, fmt.Sprint(s.port)).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return fmt.Errorf("start clickhouse-server: %w", err)
	}
	s.DSN = strings.TrimSpace(string(out))
	return nil
}

// Stop stops the server, keeping its data.
func (s *Server) Stop() error { return exec.Command(s.script, "stop", s.dir).Run() }

// Remove stops the server and deletes its data.
func (s *Server) Remove() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// freePortRange finds a port p with p+1 and p+2 free too (native, HTTP and
// interserver ports of one server).
func freePortRange() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p > 65000 {
			continue
		}
		ok := true
		for _, q := range []int{p + 1, p + 2} {
			l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				ok = false
				break
			}
			l2.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no three free consecutive ports")
}

func repoFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, rel), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s: no go.mod above the working directory", rel)
		}
		dir = parent
	}
}

// ServerDSN is the test server's DSN (database default).
func ServerDSN() string { return serverDSN }

var dbSeq atomic.Int64

// Backend is one engine a test runs on.
type Backend struct {
	Name string
	// DSN opens an empty database of its own on this backend.
	DSN func(t *testing.T) string
}

// Backends returns the embedded engine and the server.
func Backends() []Backend {
	return []Backend{
		{Name: "chdb", DSN: func(t *testing.T) string { return "chdb://" + t.TempDir() }},
		{Name: "clickhouse", DSN: serverDatabase},
	}
}

// serverDatabase creates a database of the test's own on the server.
func serverDatabase(t *testing.T) string {
	t.Helper()
	if serverDSN == "" {
		t.Fatal("storetest: no ClickHouse server (call storetest.Main from TestMain)")
	}
	ctx := context.Background()
	db := fmt.Sprintf("t_%d_%d", os.Getpid(), dbSeq.Add(1))
	admin, err := store.Open(ctx, serverDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := store.Open(ctx, serverDSN)
		if err == nil {
			_ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
			admin.Close()
		}
	})
	i := strings.LastIndex(serverDSN, "/")
	return serverDSN[:i+1] + db
}

// Each runs fn as a subtest on every backend with a fresh, migrated store.
func Each(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := Open(t, b.DSN(t))
			fn(t, st)
		})
	}
}

// Open opens and migrates a store, closing it when the test ends.
func Open(t *testing.T, dsn string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 400}); err != nil {
		t.Fatal(err)
	}
	return st
}
