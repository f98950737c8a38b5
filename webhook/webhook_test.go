package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// The portal gets each flag once, signed, after transient failures; a flag
// already delivered is not sent again.
func TestWebhookSignsRetriesAndSendsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		var calls, failures atomic.Int32
		var received []Payload
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if failures.Add(1) <= 2 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			body, _ := io.ReadAll(r.Body)
			if r.Header.Get(SignatureHeader) != Sign("s3cret", body) {
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
			var p Payload
			json.Unmarshal(body, &p)
			received = append(received, p)
		}))
		defer srv.Close()
		w := &Sender{URL: srv.URL, Secret: "s3cret", Store: st, Backoff: 10 * time.Millisecond}
		flags := []gpumeter.IdleFlag{{FlagID: "aaaa", Kind: "unallocated_idle"}, {FlagID: "bbbb", Kind: "allocated_idle"}}
		n, err := w.Send(context.Background(), flags)
		if err != nil || n != 2 || calls.Load() != 3 || len(received) != 1 || len(received[0].Flags) != 2 {
			t.Fatalf("sent %d, %v; %d calls, received %+v", n, err, calls.Load(), received)
		}
		flags = append(flags, gpumeter.IdleFlag{FlagID: "cccc", Kind: "unallocated_idle"})
		n, err = w.Send(context.Background(), flags)
		if err != nil || n != 1 || len(received) != 2 || len(received[1].Flags) != 1 || received[1].Flags[0].FlagID != "cccc" {
			t.Fatalf("second send: %d, %v, %+v", n, err, received)
		}
		if n, err := w.Send(context.Background(), flags); n != 0 || err != nil || calls.Load() != 4 {
			t.Fatalf("third send: %d %v, %d calls", n, err, calls.Load())
		}
		// A portal that refuses (4xx) is not retried, and nothing is recorded.
		w.Secret = "wrong"
		n, err = w.Send(context.Background(), append(flags, gpumeter.IdleFlag{FlagID: "dddd"}))
		if err == nil || n != 0 || calls.Load() != 5 {
			t.Fatalf("refused: %d %v, %d calls", n, err, calls.Load())
		}
	})
}
