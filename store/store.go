// Package store is gpumeter's door to ClickHouse. One SQL dialect runs on two
// backends, chosen by DSN: chdb://PATH (the engine embedded in this process)
// and clickhouse://… (a server or cluster over the native protocol). Backends
// live in subpackages and register themselves here, like database/sql drivers.
package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Store is an open ClickHouse database: the transport a backend provides.
// Only this package and schemas/ write SQL; everything else asks the typed
// questions of this package's functions (Inventory, SumRollups, ...).
type Store interface {
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, query string) error
	// Stream runs a statement and calls fn once a row, never holding the
	// whole result. scan converts the row into dest, whose Go types must be
	// those of the columns: String→string, UInt32→uint32, Int8→int8,
	// UInt64→uint64, Int64→int64, Float64→float64, DateTime→time.Time,
	// Nullable(DateTime)→*time.Time.
	Stream(ctx context.Context, query string, fn func(scan func(dest ...any) error) error) error
	// Insert writes rows into table, one []any per row in the order of columns,
	// each value of the Go type of its column (see EncodeTSV), nil for NULL.
	Insert(ctx context.Context, table string, columns []string, rows [][]any) error
	// Dialect says what the engine behind the store supports.
	Dialect() Dialect
	Close() error
}

// Dialect describes the engine so that SQL can be rendered for it.
type Dialect struct {
	Backend  string // "chdb" or "clickhouse"
	Version  Version
	Database string
	Cluster  string // non-empty: DDL runs ON CLUSTER, tables are replicated and distributed
}

// Features that old servers lack. Debian's clickhouse-server 18.16 has none of
// them (LowCardinality only behind an experimental setting).
func (d Dialect) Codecs() bool         { return d.Version.AtLeast(19, 11) }
func (d Dialect) TTL() bool            { return d.Version.AtLeast(19, 6) }
func (d Dialect) LowCardinality() bool { return d.Version.AtLeast(19, 11) }
func (d Dialect) GroupingSets() bool   { return d.Version.AtLeast(22, 9) }

// Version is a ClickHouse release, such as 26.7.2.1.
type Version struct{ Major, Minor int }

func ParseVersion(s string) (Version, error) {
	var v Version
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d.%d", &v.Major, &v.Minor); err != nil {
		return v, fmt.Errorf("parse ClickHouse version %q: %w", s, err)
	}
	return v, nil
}

func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Opener opens a store from a DSN of its scheme.
type Opener func(ctx context.Context, dsn string) (Store, error)

var (
	mu      sync.Mutex
	openers = map[string]Opener{}
)

// Register makes a backend available under a DSN scheme.
func Register(scheme string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	openers[scheme] = open
}

// Open opens the store a DSN names.
func Open(ctx context.Context, dsn string) (Store, error) {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil, fmt.Errorf("store %q: not a DSN (chdb://PATH or clickhouse://host:9000/db)", dsn)
	}
	mu.Lock()
	open := openers[scheme]
	known := make([]string, 0, len(openers))
	for s := range openers {
		known = append(known, s+"://")
	}
	mu.Unlock()
	if open == nil {
		sort.Strings(known)
		return nil, fmt.Errorf("store: unknown scheme %s:// (known: %s)", scheme, strings.Join(known, ", "))
	}
	return open(ctx, dsn)
}

// quote makes a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// quoteList makes a comma-separated list of string literals.
func quoteList(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = quote(s)
	}
	return strings.Join(quoted, ",")
}

// VersionQuery asks a backend for its ClickHouse release.
const VersionQuery = "SELECT version()"

// UTCSession makes the embedded engine render DateTime in UTC, as the server
// backend's driver does.
const UTCSession = "SET session_timezone = 'UTC'"

// InsertStatement is the head of an INSERT of columns into table; format is
// the data format that follows ("" for the native protocol's batches).
func InsertStatement(table string, columns []string, format string) string {
	q := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ")"
	if format != "" {
		q += " FORMAT " + format
	}
	return q
}

// Ping checks that the store answers.
func Ping(ctx context.Context, st Store) error {
	return st.Stream(ctx, "SELECT 1", func(func(...any) error) error { return nil })
}

// CreateDatabase creates a database (on every node of cluster, if given).
func CreateDatabase(ctx context.Context, st Store, name, cluster string) error {
	q := "CREATE DATABASE IF NOT EXISTS " + name
	if cluster != "" {
		q += " ON CLUSTER " + cluster
	}
	return st.Exec(ctx, q)
}

// DropDatabase drops a database and everything in it.
func DropDatabase(ctx context.Context, st Store, name string) error {
	return st.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
}
