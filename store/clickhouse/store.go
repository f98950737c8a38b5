// Package clickhouse is the server backend: a ClickHouse server or cluster over
// the native protocol with clickhouse-go, pooled.
package clickhouse

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/nipa-gpu/gpumeter/redact"
	"github.com/nipa-gpu/gpumeter/store"
)

func init() {
	store.Register("clickhouse", func(ctx context.Context, dsn string) (store.Store, error) { return Open(ctx, dsn) })
}

// Store is a pooled connection to a ClickHouse server or cluster.
type Store struct {
	conn driver.Conn
	dia  store.Dialect
	addr string
}

// Options is what a clickhouse:// DSN says, with credentials resolved.
type Options struct {
	CH      *ch.Options
	Cluster string
}

// ParseDSN reads clickhouse://user:pass@host:port/db?secure=true&cluster=NAME.
// User and password missing from the DSN come from CLICKHOUSE_USER and
// CLICKHOUSE_PASSWORD, so they need not appear on a command line.
func ParseDSN(dsn string) (Options, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return Options{}, fmt.Errorf("store: %s is not clickhouse://user:pass@host:9000/db", redact.Secrets(dsn))
	}
	q := u.Query()
	cluster := q.Get("cluster")
	q.Del("cluster")
	u.RawQuery = q.Encode()
	opts, err := ch.ParseDSN(u.String())
	if err != nil {
		return Options{}, fmt.Errorf("store %s: %w", redact.Secrets(dsn), err)
	}
	if u.User == nil || u.User.Username() == "" {
		if user := os.Getenv("CLICKHOUSE_USER"); user != "" {
			opts.Auth.Username = user
		}
	}
	if _, set := u.User.Password(); !set {
		opts.Auth.Password = os.Getenv("CLICKHOUSE_PASSWORD")
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	if opts.DialTimeout == 0 || opts.DialTimeout == 30*time.Second {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = 8
	}
	if cluster != "" {
		if opts.Settings == nil {
			opts.Settings = ch.Settings{}
		}
		// An INSERT into a Distributed table returns only once every shard has
		// the rows, so a reported success is never lost in a queue.
		opts.Settings["insert_distributed_sync"] = 1
	}
	return Options{CH: opts, Cluster: cluster}, nil
}

// Open connects and checks that the server answers.
func Open(ctx context.Context, dsn string) (*Store, error) {
	o, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	addr := strings.Join(o.CH.Addr, ",")
	conn, err := ch.Open(o.CH)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse at %s: %w", addr, err)
	}
	s := &Store{conn: conn, addr: addr}
	var version string
	if err := conn.QueryRow(ctx, store.VersionQuery).Scan(&version); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ClickHouse at %s: %w", addr, err)
	}
	v, err := store.ParseVersion(version)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s.dia = store.Dialect{Backend: "clickhouse", Version: v, Database: o.CH.Auth.Database, Cluster: o.Cluster}
	return s, nil
}

func (s *Store) Dialect() store.Dialect { return s.dia }

func (s *Store) Exec(ctx context.Context, query string) error {
	return s.wrap(s.conn.Exec(ctx, query))
}

func (s *Store) Stream(ctx context.Context, query string, fn func(scan func(dest ...any) error) error) error {
	rs, err := s.conn.Query(ctx, query)
	if err != nil {
		return s.wrap(err)
	}
	defer rs.Close()
	scan := func(dest ...any) error { return rs.Scan(dest...) }
	for rs.Next() {
		if err := fn(scan); err != nil {
			return err
		}
	}
	return s.wrap(rs.Err())
}

// Insert sends the rows as one native batch.
func (s *Store) Insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, store.InsertStatement(table, columns, ""))
	if err != nil {
		return s.wrap(err)
	}
	for _, row := range rows {
		if err := batch.Append(row...); err != nil {
			batch.Abort()
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return s.wrap(batch.Send())
}

// InsertColumns sends columns as one native batch, each column appended
// whole.
func (s *Store) InsertColumns(ctx context.Context, table string, columns []string, cols []any) error {
	if len(cols) != len(columns) {
		return fmt.Errorf("insert into %s: %d columns of values for %d columns", table, len(cols), len(columns))
	}
	batch, err := s.conn.PrepareBatch(ctx, store.InsertStatement(table, columns, ""))
	if err != nil {
		return s.wrap(err)
	}
	for i, c := range cols {
		if err := batch.Column(i).Append(c); err != nil {
			batch.Abort()
			return fmt.Errorf("insert into %s column %s: %w", table, columns[i], err)
		}
	}
	return s.wrap(batch.Send())
}

func (s *Store) Close() error { return s.conn.Close() }

// wrap names the server in an error and keeps it to one line: older servers
// send their stack trace along with the message.
func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); strings.Contains(msg, "\n") {
		first, _, _ := strings.Cut(msg, "\n")
		err = fmt.Errorf("%s", strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(first), "Stack trace:")), "."))
	}
	return fmt.Errorf("ClickHouse at %s: %w", s.addr, err)
}
