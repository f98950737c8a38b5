package clickhouse

import (
	"context"
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	o, err := ParseDSN("clickhouse://meter:s3cret@ch1:9000/metering?cluster=gpu&secure=true")
	if err != nil {
		t.Fatal(err)
	}
	if o.Cluster != "gpu" || o.CH.Auth.Username != "meter" || o.CH.Auth.Password != "s3cret" ||
		o.CH.Auth.Database != "metering" || o.CH.TLS == nil || o.CH.Addr[0] != "ch1:9000" {
		t.Fatalf("%+v %+v", o, o.CH.Auth)
	}
	if o.CH.Settings["insert_distributed_sync"] != 1 {
		t.Fatal("cluster inserts must wait for every shard")
	}
	if _, leaked := o.CH.Settings["cluster"]; leaked {
		t.Fatal("cluster= passed to the server as a setting")
	}
	t.Setenv("CLICKHOUSE_USER", "envuser")
	t.Setenv("CLICKHOUSE_PASSWORD", "envpass")
	o, err = ParseDSN("clickhouse://ch1:9000")
	if err != nil {
		t.Fatal(err)
	}
	if o.CH.Auth.Username != "envuser" || o.CH.Auth.Password != "envpass" || o.CH.Auth.Database != "default" {
		t.Fatalf("credentials from environment: %+v", o.CH.Auth)
	}
}

// A down server is one line naming the address, never the password.
func TestDownServerIsOneLine(t *testing.T) {
	_, err := Open(context.Background(), "clickhouse://meter:s3cret@127.0.0.1:1/db")
	if err == nil {
		t.Fatal("opened a closed port")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "s3cret") || !strings.Contains(msg, "ClickHouse at 127.0.0.1:1") {
		t.Fatalf("got %q", msg)
	}
}
