// Package storetest runs the same test on every backend: the embedded engine
// and a real clickhouse-server. The server is the one GPUMETER_TEST_CLICKHOUSE
// names, or else a private one that Main starts (and installs, where it may)
// with scripts/clickhouse-server.sh and stops after the package's tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/imports"
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
	if serverDSN == "" && !fuzzing() {
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

// fuzzing says whether this test binary fuzzes (or is a fuzzing worker):
// fuzz targets need no server, and starting one per worker costs seconds.
func fuzzing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			return true
		}
	}
	return false
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
	port, err := freePortRange()
	if err != nil {
		return nil, err
	}
	return newServer(port, "")
}

// newServer starts a server on port with extra configuration (XML merged
// from config.d).
func newServer(port int, extra string) (*Server, error) {
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
	if extra != "" {
		if err := os.MkdirAll(filepath.Join(dir, "config.d"), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "config.d", "extra.xml"), []byte(extra), 0o644); err != nil {
			return nil, err
		}
	}
	srv := &Server{script: script, dir: dir, port: port}
	if err := srv.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return srv, nil
}

// Cluster is a real replicated cluster for tests: ZooKeeper and two
// clickhouse-servers, each a shard, named "gm".
type Cluster struct {
	// DSN is a database of the cluster on the first server, with cluster=gm.
	DSN     string
	zk      string
	servers []*Server
	lock    *os.File // held while the cluster runs
}

// NewCluster starts ZooKeeper and two servers and creates a database on both.
// One cluster runs at a time on a machine: test binaries of other packages
// wait for it (two at once would share two cores between six servers).
func NewCluster() (*Cluster, error) {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "gpumeter-test-cluster.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("wait for the test cluster lock: %w", err)
	}
	c, err := newCluster()
	if err != nil {
		lock.Close()
		return nil, err
	}
	c.lock = lock
	return c, nil
}

func newCluster() (*Cluster, error) {
	zkScript, err := repoFile("scripts/zookeeper.sh")
	if err != nil {
		return nil, err
	}
	zkDir, err := os.MkdirTemp("", "gpumeter-zk-")
	if err != nil {
		return nil, err
	}
	zkPort, err := freePortRange()
	if err != nil {
		return nil, err
	}
	c := &Cluster{zk: zkDir}
	if out, err := exec.Command(zkScript, "start", zkDir, fmt.Sprint(zkPort)).CombinedOutput(); err != nil {
		c.Remove()
		return nil, fmt.Errorf("start zookeeper: %v: %s", err, out)
	}
	var ports []int
	for len(ports) < 2 {
		p, err := freePortRange()
		if err != nil {
			c.Remove()
			return nil, err
		}
		if len(ports) == 0 || p > ports[0]+2 || p+2 < ports[0] {
			ports = append(ports, p)
		}
	}
	for i, port := range ports {
		extra := fmt.Sprintf(`<yandex>
 <zookeeper><node><host>127.0.0.1</host><port>%d</port></node></zookeeper>
 <remote_servers><gm>
  <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>%d</port></replica></shard>
  <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>%d</port></replica></shard>
 </gm></remote_servers>
 <macros><shard>0%d</shard><replica>r%d</replica></macros>
 <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>`, zkPort, ports[0], ports[1], i+1, i+1)
		srv, err := newServer(port, extra)
		if err != nil {
			c.Remove()
			return nil, err
		}
		c.servers = append(c.servers, srv)
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, c.servers[0].DSN)
	if err != nil {
		c.Remove()
		return nil, err
	}
	defer admin.Close()
	if err := store.CreateDatabase(ctx, admin, "metering", "gm"); err != nil {
		c.Remove()
		return nil, err
	}
	dsn := c.servers[0].DSN
	c.DSN = dsn[:strings.LastIndex(dsn, "/")+1] + "metering?cluster=gm"
	return c, nil
}

// ServerDSNs are the cluster database on each server alone, to see what a
// shard holds.
func (c *Cluster) ServerDSNs() []string {
	var out []string
	for _, s := range c.servers {
		out = append(out, s.DSN[:strings.LastIndex(s.DSN, "/")+1]+"metering")
	}
	return out
}

// Remove stops the cluster and deletes its data.
func (c *Cluster) Remove() {
	for _, s := range c.servers {
		s.Remove()
	}
	if zk, err := repoFile("scripts/zookeeper.sh"); err == nil {
		exec.Command(zk, "stop", c.zk).Run()
	}
	os.RemoveAll(c.zk)
	if c.lock != nil {
		c.lock.Close() // releases the lock
	}
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
	if err := store.CreateDatabase(ctx, admin, db, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := store.Open(ctx, serverDSN)
		if err == nil {
			_ = store.DropDatabase(ctx, admin, db)
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

// Count runs a query whose one row is one UInt64 (count() and the like).
func Count(t testing.TB, st store.Store, query string) int {
	t.Helper()
	var n uint64
	rows := 0
	err := st.Stream(context.Background(), query, func(scan func(...any) error) error {
		rows++
		return scan(&n)
	})
	if err != nil || rows != 1 {
		t.Fatalf("%s: %d rows, %v", query, rows, err)
	}
	return int(n)
}

// WriteFiles writes files (name → content) into a new temporary folder.
func WriteFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ImportDir imports dir's inventory.csv, projects.csv, allocations.csv and
// samples.csv, in that order, those of them that are there.
func ImportDir(t testing.TB, st store.Store, dir string) {
	t.Helper()
	im := &imports.Importer{Store: st}
	for _, kind := range imports.Kinds {
		path := filepath.Join(dir, kind+".csv")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if _, err := im.Import(context.Background(), kind, path); err != nil {
			t.Fatal(err)
		}
	}
}

// MissingTool stops a test whose outside tool (Chromium, Prometheus) is not
// on this machine: a skip on a developer's machine, a failure where CI is
// set, so that CI can never pass without the test having run.
func MissingTool(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + ": CI is set, so the tool must be there (make test installs it)")
		return
	}
	t.Skip(msg)
}
