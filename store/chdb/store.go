package chdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nipa-gpu/gpumeter/store"
)

// LibVersion is the libchdb release gpumeter is built and tested against.
const LibVersion = "26.7.3-stable.1"

func init() {
	store.Register("chdb", func(_ context.Context, dsn string) (store.Store, error) { return Open(dsn) })
}

// LibraryPath is where libchdb is looked for: $CHDB_LIB_PATH, else the cache
// that `make libchdb` fills.
func LibraryPath() string {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return p
	}
	return filepath.Join(CacheDir(), LibVersion, "libchdb.so")
}

// CacheDir is the folder that holds downloaded libchdb releases.
func CacheDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "gpumeter", "libchdb")
}

// Store is the embedded engine with its data in one folder.
type Store struct {
	eng  *engine
	lock *os.File
	path string
	dia  store.Dialect
}

// Open opens chdb://PATH. Only one process may hold a data folder: a second
// one is refused with a clear message instead of corrupting it.
func Open(dsn string) (*Store, error) {
	path := strings.TrimPrefix(dsn, "chdb://")
	if path == "" || path == dsn {
		return nil, fmt.Errorf("store %q: want chdb://PATH", dsn)
	}
	lib := LibraryPath()
	if _, err := os.Stat(lib); err != nil {
		return nil, fmt.Errorf("embedded ClickHouse: libchdb not found at %s: run `make libchdb` or set CHDB_LIB_PATH", lib)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	lock, err := os.OpenFile(filepath.Join(abs, ".gpumeter.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("store %s is in use by another gpumeter process", path)
	}
	eng, err := connect(lib, abs)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s := &Store{eng: eng, lock: lock, path: abs}
	// DateTime text is rendered in UTC on both backends.
	if _, err := eng.query(store.UTCSession, "TabSeparated"); err != nil {
		s.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	out, err := eng.query(store.VersionQuery, "TabSeparated")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	v, err := store.ParseVersion(string(out))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.dia = store.Dialect{Backend: "chdb", Version: v, Database: "default"}
	return s, nil
}

func (s *Store) Dialect() store.Dialect { return s.dia }

func (s *Store) Exec(ctx context.Context, query string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.eng.query(query, "TabSeparated")
	return wrap(err)
}

func (s *Store) Stream(ctx context.Context, query string, fn func(scan func(dest ...any) error) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out, err := s.eng.query(query, "Native")
	if err != nil {
		return wrap(err)
	}
	r := reader{buf: out}
	var b block
	row := 0
	scan := func(dest ...any) error {
		if len(dest) != len(b.cols) {
			return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(b.cols))
		}
		for i, d := range dest {
			if err := b.cols[i].scan(row, d); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		more, err := r.next(&b)
		if err != nil {
			return wrap(err)
		}
		if !more {
			return nil
		}
		for row = 0; row < b.rows; row++ {
			if err := fn(scan); err != nil {
				return err
			}
		}
	}
}

// Insert sends the rows as one TabSeparated INSERT, which the engine writes as
// one part: either all rows land or none.
func (s *Store) Insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	buf := make([]byte, 0, 64*len(rows)*len(columns)/4+256)
	buf = append(append(buf, store.InsertStatement(table, columns, "TabSeparated")...), '\n')
	var err error
	for _, row := range rows {
		if len(row) != len(columns) {
			return fmt.Errorf("insert into %s: row of %d values for %d columns", table, len(row), len(columns))
		}
		for i, v := range row {
			if i > 0 {
				buf = append(buf, '\t')
			}
			if buf, err = store.EncodeTSV(buf, v); err != nil {
				return fmt.Errorf("insert into %s column %s: %w", table, columns[i], err)
			}
		}
		buf = append(buf, '\n')
	}
	_, err = s.eng.query(string(buf), "TabSeparated")
	return wrap(err)
}

// InsertColumns sends columns as one TabSeparated INSERT, as Insert does
// rows.
func (s *Store) InsertColumns(ctx context.Context, table string, columns []string, cols []any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(cols) != len(columns) {
		return fmt.Errorf("insert into %s: %d columns of values for %d columns", table, len(cols), len(columns))
	}
	enc := make([]func([]byte, int) []byte, len(cols))
	rows := -1
	for i, c := range cols {
		e, n, err := store.ColumnEncoder(c)
		if err != nil {
			return fmt.Errorf("insert into %s column %s: %w", table, columns[i], err)
		}
		if rows >= 0 && n != rows {
			return fmt.Errorf("insert into %s: column %s has %d values, not %d", table, columns[i], n, rows)
		}
		enc[i], rows = e, n
	}
	if rows <= 0 {
		return nil
	}
	buf := make([]byte, 0, 96*rows+256)
	buf = append(append(buf, store.InsertStatement(table, columns, "TabSeparated")...), '\n')
	for r := 0; r < rows; r++ {
		for i, e := range enc {
			if i > 0 {
				buf = append(buf, '\t')
			}
			buf = e(buf, r)
		}
		buf = append(buf, '\n')
	}
	_, err := s.eng.query(string(buf), "TabSeparated")
	return wrap(err)
}

func (s *Store) Close() error {
	if s.eng != nil {
		s.eng.close()
		s.eng = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return nil
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("embedded ClickHouse: %w", err)
}
