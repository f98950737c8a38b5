package chdb

import (
	"context"
	"testing"
	"time"
)

func TestEngineSmoke(t *testing.T) {
	s, err := Open("chdb://" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	t.Log(s.Dialect())
	if err := s.Exec(ctx, "CREATE TABLE t (a UInt32, ts DateTime, s Nullable(String)) ENGINE=MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	x := "y\tz"
	if err := s.Insert(ctx, "t", []string{"a", "ts", "s"}, [][]any{{uint32(1), ts, nil}, {uint32(2), ts, &x}}); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Query(ctx, "SELECT a, ts, s, toUnixTimestamp(ts) FROM t ORDER BY a")
	t.Logf("%+v %v", rows, err)
}
