// Package schemas holds gpumeter's ClickHouse schema as ordered, versioned
// migrations (NNNN_name.sql) and applies them. Each file is a text/template
// rendered for the engine it runs on: a cluster gets ON CLUSTER, replicated
// tables and Distributed tables in front; a server older than a feature gets
// the schema without it; the embedded engine and current servers always get
// all of it.
package schemas

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/nipa-gpu/gpumeter/store"
)

//go:embed *.sql
var files embed.FS

// Migration is one schema step.
type Migration struct {
	Version  int
	Name     string
	Source   string
	Checksum string // of the template, so rendering differences between engines do not count as a change
}

// Options are the schema's own settings.
type Options struct {
	SamplesTTLDays int // 0: keep samples forever
	UpTo           int // apply migrations up to this version only; 0: all
}

// All returns the migrations in order.
func All() ([]Migration, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("schemas: %s is not named NNNN_name.sql", name)
		}
		src, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(src)
		out = append(out, Migration{Version: v, Name: rest, Source: string(src), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("schemas: two migrations numbered %04d", out[i].Version)
		}
	}
	return out, nil
}

// Render turns a migration into the statements to run on an engine.
func Render(src string, d store.Dialect, o Options) ([]string, error) {
	funcs := template.FuncMap{
		// table names where a table's rows are stored; ref names a table to
		// read. ON CLUSTER statements run on every node in its own default
		// database, so on a cluster both are qualified with the database.
		"table": func(name string) string {
			if d.Cluster != "" {
				return d.Database + "." + name + "_local"
			}
			return name
		},
		"ref": func(name string) string {
			if d.Cluster != "" {
				return d.Database + "." + name
			}
			return name
		},
		"cluster": func() bool { return d.Cluster != "" },
		"onCluster": func() string {
			if d.Cluster != "" {
				return " ON CLUSTER " + d.Cluster
			}
			return ""
		},
		"engine": func(table, engine string, args ...string) string {
			if d.Cluster != "" {
				zk := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s'", d.Database, table)
				args = append([]string{zk, "'{replica}'"}, args...)
				engine = "Replicated" + engine
			}
			return engine + "(" + strings.Join(args, ", ") + ")"
		},
		"codecs": d.Codecs,
		"codec": func(codec string) string {
			if d.Codecs() {
				return " CODEC(" + codec + ")"
			}
			return ""
		},
		"lc": func(typ string) string {
			if d.LowCardinality() {
				return "LowCardinality(" + typ + ")"
			}
			return typ
		},
		"ttl": func(column string) string {
			if !d.TTL() || o.SamplesTTLDays <= 0 {
				return ""
			}
			return fmt.Sprintf("\nTTL %s + toIntervalDay(%d)", column, o.SamplesTTLDays)
		},
		"distributed": func(table, shardKey string) string {
			if d.Cluster == "" {
				return ""
			}
			return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s_local\nENGINE = Distributed(%s, %s, %s_local, %s);",
				d.Database, table, d.Cluster, d.Database, table, d.Cluster, d.Database, table, shardKey)
		},
		// Subqueries over Distributed tables must be GLOBAL on a cluster.
		"in": func() string {
			if d.Cluster != "" {
				return "GLOBAL IN"
			}
			return "IN"
		},
	}
	tmpl, err := template.New("migration").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		return nil, err
	}
	var stmts []string
	for _, part := range strings.Split(buf.String(), ";\n") {
		if stmt := stripComments(part); stmt != "" {
			stmts = append(stmts, strings.TrimSuffix(stmt, ";"))
		}
	}
	return stmts, nil
}

func stripComments(sql string) string {
	var keep []string
	for _, line := range strings.Split(sql, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// File is the migration's file name, for messages.
func (m Migration) File() string { return fmt.Sprintf("%04d_%s.sql", m.Version, m.Name) }
