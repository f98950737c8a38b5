package schemas

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter/store"
)

const migrationsTable = `CREATE TABLE IF NOT EXISTS {{table "schema_migrations"}}{{onCluster}} (
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime
) ENGINE = {{engine "schema_migrations" "MergeTree"}}
ORDER BY version;
{{distributed "schema_migrations" "version"}}`

// Applied is a migration recorded in the store.
type Applied struct {
	Version  int
	Name     string
	Checksum string
}

// Migrate applies every migration the store lacks, in order, and returns the
// versions it applied. Statements are idempotent (IF NOT EXISTS), so a run that
// died halfway is finished by the next. A migration whose file changed after it
// was applied is an error: schemas are changed by new migrations only.
func Migrate(ctx context.Context, st store.Store, o Options) ([]int, error) {
	d := st.Dialect()
	if err := run(ctx, st, migrationsTable, d, o); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	all, err := All()
	if err != nil {
		return nil, err
	}
	applied, err := AppliedMigrations(ctx, st)
	if err != nil {
		return nil, err
	}
	var done []int
	for _, m := range all {
		if o.UpTo > 0 && m.Version > o.UpTo {
			break
		}
		if prev, ok := applied[m.Version]; ok {
			if prev.Checksum != m.Checksum {
				return done, fmt.Errorf("migrate: %s changed after it was applied (add a new migration instead)", m.File())
			}
			continue
		}
		if err := run(ctx, st, m.Source, d, o); err != nil {
			return done, fmt.Errorf("migrate: %s: %w", m.File(), err)
		}
		row := []any{uint32(m.Version), m.Name, m.Checksum, time.Now().UTC()}
		if err := st.Insert(ctx, "schema_migrations", []string{"version", "name", "checksum", "applied_at"}, [][]any{row}); err != nil {
			return done, fmt.Errorf("migrate: record %s: %w", m.File(), err)
		}
		done = append(done, m.Version)
	}
	if err := ensureTTL(ctx, st, o); err != nil {
		return done, err
	}
	return done, nil
}

func run(ctx context.Context, st store.Store, src string, d store.Dialect, o Options) error {
	stmts, err := Render(src, d, o)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := st.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// AppliedMigrations reads what schema_migrations records.
func AppliedMigrations(ctx context.Context, st store.Store) (map[int]Applied, error) {
	out := map[int]Applied{}
	err := st.Stream(ctx, "SELECT toUInt32(version), name, checksum FROM schema_migrations ORDER BY version", func(scan func(...any) error) error {
		var a Applied
		var v uint32
		if err := scan(&v, &a.Name, &a.Checksum); err != nil {
			return err
		}
		a.Version = int(v)
		out[a.Version] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	return out, nil
}

// ensureTTL keeps the samples TTL equal to the configured retention, so that
// changing retention.samples_days takes effect at the next migrate.
func ensureTTL(ctx context.Context, st store.Store, o Options) error {
	d := st.Dialect()
	if !d.TTL() {
		return nil
	}
	name, table, onCluster := "samples", "samples", ""
	if d.Cluster != "" {
		name = "samples_local"
		table, onCluster = d.Database+"."+name, " ON CLUSTER "+d.Cluster
	}
	var engine string
	err := st.Stream(ctx, fmt.Sprintf("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '%s'", name),
		func(scan func(...any) error) error { return scan(&engine) })
	if err != nil {
		return fmt.Errorf("migrate: read samples TTL: %w", err)
	}
	want := fmt.Sprintf("TTL ts + toIntervalDay(%d)", o.SamplesTTLDays)
	switch {
	case o.SamplesTTLDays > 0 && !strings.Contains(engine, want):
		return st.Exec(ctx, fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL ts + toIntervalDay(%d)", table, onCluster, o.SamplesTTLDays))
	case o.SamplesTTLDays == 0 && strings.Contains(engine, " TTL "):
		return st.Exec(ctx, fmt.Sprintf("ALTER TABLE %s%s REMOVE TTL", table, onCluster))
	}
	return nil
}
