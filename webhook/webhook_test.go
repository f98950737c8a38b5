package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

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
		var deliveries []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			deliveries = append(deliveries, r.Header.Get(DeliveryHeader))
			body, _ := io.ReadAll(r.Body)
			if err := Verify("s3cret", r.Header, body, time.Now()); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			if failures.Add(1) <= 2 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
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
		// The retries of one delivery carry its id; the next delivery has another.
		if len(deliveries) != 3 || deliveries[0] == "" || deliveries[1] != deliveries[0] || deliveries[2] != deliveries[0] {
			t.Fatalf("delivery ids %q: want one id for one delivery's attempts", deliveries)
		}
		flags = append(flags, gpumeter.IdleFlag{FlagID: "cccc", Kind: "unallocated_idle"})
		n, err = w.Send(context.Background(), flags)
		if err != nil || n != 1 || len(received) != 2 || len(received[1].Flags) != 1 || received[1].Flags[0].FlagID != "cccc" || deliveries[3] == deliveries[0] {
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

// The example verifier refuses a captured delivery replayed more than five
// minutes later, a changed body, and a wrong secret.
func TestVerifyRefusesReplaysAndForgeries(t *testing.T) {
	body := []byte(`{"flags":[]}`)
	sent := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h := http.Header{}
	ts := strconv.FormatInt(sent.Unix(), 10)
	h.Set(TimestampHeader, ts)
	h.Set(SignatureHeader, Sign("s3cret", ts, body))
	if err := Verify("s3cret", h, body, sent.Add(4*time.Minute)); err != nil {
		t.Fatalf("a fresh delivery: %v", err)
	}
	for name, err := range map[string]error{
		"replayed 14 minutes later": Verify("s3cret", h, body, sent.Add(14*time.Minute)),
		"from the future":           Verify("s3cret", h, body, sent.Add(-6*time.Minute)),
		"changed body":              Verify("s3cret", h, []byte(`{"flags":[1]}`), sent),
		"wrong secret":              Verify("other", h, body, sent),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The timestamp is signed: moving it forward breaks the signature.
	h.Set(TimestampHeader, strconv.FormatInt(sent.Add(14*time.Minute).Unix(), 10))
	if err := Verify("s3cret", h, body, sent.Add(14*time.Minute)); err == nil {
		t.Error("a replay with a new timestamp was accepted")
	}
}

// Credentials in the webhook URL appear in no error and no log line.
func TestWebhookRedactsItsURL(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	core, logs := observer.New(zap.DebugLevel)
	w := &Sender{URL: "http://hook:pa55word@127.0.0.1:1/idle?token=t0ken", Secret: "s3cret", Store: st, Backoff: time.Millisecond,
		Attempts: 2, Log: zap.New(core)}
	_, err := w.Send(context.Background(), []gpumeter.IdleFlag{{FlagID: "eeee"}})
	if err == nil {
		t.Fatal("a dead portal took the delivery")
	}
	text := err.Error()
	for _, e := range logs.All() {
		text += e.Message
		for _, f := range e.Context {
			text += f.String
			if f.Interface != nil {
				text += fmt.Sprint(f.Interface)
			}
		}
	}
	for _, secret := range []string{"pa55word", "t0ken", "s3cret"} {
		if strings.Contains(text, secret) {
			t.Errorf("%q shows up: %s", secret, text)
		}
	}
	if !strings.Contains(text, "xxxxx") {
		t.Errorf("no redacted URL in %s", text)
	}
}
