package store_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/nipa-gpu/gpumeter/store"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"clickhouse://gm:s3cret@db:9000/metering":                 "clickhouse://gm:xxxxx@db:9000/metering",
		"clickhouse://db:9000/metering?password=s3cret&secure=1":  "clickhouse://db:9000/metering?password=xxxxx&secure=1",
		"https://u:p@portal.example/hook?token=abc&Key=k&other=v": "https://u:xxxxx@portal.example/hook?token=xxxxx&Key=xxxxx&other=v",
		"chdb://./data": "chdb://./data",
		"not a url":     "not a url",
	} {
		if got := store.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever the secret, in the user info or a query parameter, escaped as a
// URL carries it or not, it never comes out; Redact never panics and
// redacting twice changes nothing more.
func FuzzRedact(f *testing.F) {
	f.Add("s3cret", "db:9000", "metering")
	f.Add("p@ss/w?rd#", "host", "db?secure=true")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, secret, host, path string) {
		once := store.Redact(host + path)
		if store.Redact(once) != once {
			t.Fatalf("Redact is not idempotent on %q", host+path)
		}
		if len(secret) < 4 || strings.Contains(host+path, secret) || strings.Contains("xxxxx", secret) {
			return // too short to tell from the rest, or the rest or the mark of a hidden secret holds it anyway
		}
		escaped := url.QueryEscape(secret)
		for _, c := range []struct{ before, secret, after string }{
			{"clickhouse://gm:", url.PathEscape(secret), "@" + host + "/" + path},
			{"clickhouse://gm:", secret, "@" + host + "/" + path},
			{"https://" + host + "/" + path + "?token=", escaped, ""},
			{"clickhouse://" + host + "/" + path + "?secure=1&password=", escaped, "&x=1"},
		} {
			dsn := c.before + c.secret + c.after
			out := store.Redact(dsn)
			// A perfect redaction shows the rest as it is: the secret may
			// occur in out only as often as the rest holds it.
			rest := c.before + "xxxxx" + c.after
			for _, s := range []string{secret, c.secret} {
				if strings.Count(out, s) > strings.Count(rest, s) {
					t.Fatalf("Redact(%q) = %q shows the secret %q", dsn, out, s)
				}
			}
		}
	})
}
