// Package webhook delivers idle flags to the allocation portal's webhook:
// signed, retried with backoff, and each flag once.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/redact"
	"github.com/nipa-gpu/gpumeter/store"
)

// Headers of a delivery (SPEC §8.4).
const (
	TimestampHeader = "X-Gpumeter-Timestamp" // unix seconds when this attempt was signed
	DeliveryHeader  = "X-Gpumeter-Delivery"  // unique per delivery, the same on its retries
	SignatureHeader = "X-Gpumeter-Signature" // "sha256=" and the hex HMAC-SHA256 of TIMESTAMP + "." + BODY
)

// MaxSkew is how far a receiver lets a delivery's timestamp be from its own
// clock: a captured delivery replayed later is refused.
const MaxSkew = 5 * time.Minute

// Sign is the signature header's value for a body sent at timestamp (unix
// seconds, as the timestamp header carries it).
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify is what a receiver does (the portal's side, given as the example):
// the timestamp within MaxSkew of now, and the signature compared in
// constant time.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	ts := h.Get(TimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q: not unix seconds", TimestampHeader, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%s %s is %s off: replayed or a wrong clock", TimestampHeader, ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(h.Get(SignatureHeader)), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("%s does not match", SignatureHeader)
	}
	return nil
}

// Payload is what one POST carries.
type Payload struct {
	SentAt string              `json:"sent_at"`
	Flags  []gpumeter.IdleFlag `json:"flags"`
}

// Sender posts flags the portal has not had yet.
type Sender struct {
	URL, Secret string
	Store       store.Store
	Client      *http.Client
	Log         *zap.Logger
	Attempts    int           // default 5
	Backoff     time.Duration // first wait, doubled each retry; default 1s
}

// Send posts the flags not sent before, in one request, and records them
// once the portal accepts (2xx). It returns how many it sent.
func (w *Sender) Send(ctx context.Context, flags []gpumeter.IdleFlag) (int, error) {
	sent, err := store.SentFlags(ctx, w.Store)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	var fresh []gpumeter.IdleFlag
	for _, f := range flags {
		if !sent[f.FlagID] {
			fresh = append(fresh, f)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	now := time.Now().UTC()
	body, err := json.Marshal(Payload{SentAt: now.Format(time.RFC3339), Flags: fresh})
	if err != nil {
		return 0, err
	}
	if err := w.post(ctx, body); err != nil {
		return 0, err
	}
	ids := make([]string, len(fresh))
	for i, f := range fresh {
		ids[i] = f.FlagID
	}
	if err := store.RecordSentFlags(ctx, w.Store, ids, now); err != nil {
		return len(fresh), fmt.Errorf("webhook: %d flags delivered but not recorded (they may be sent again): %w", len(fresh), err)
	}
	return len(fresh), nil
}

// post delivers one body, retrying network errors and 5xx with backoff; a
// 4xx is the portal refusing the request, which retrying will not change.
func (w *Sender) post(ctx context.Context, body []byte) error {
	attempts, wait := w.Attempts, w.Backoff
	if attempts <= 0 {
		attempts = 5
	}
	if wait <= 0 {
		wait = time.Second
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	id := make([]byte, 16)
	rand.Read(id)
	delivery := hex.EncodeToString(id)
	url := redact.Secrets(w.URL)
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("webhook %s: %s", url, redact.Secrets(err.Error()))
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(DeliveryHeader, delivery)
		req.Header.Set(SignatureHeader, Sign(w.Secret, ts, body))
		resp, err := client.Do(req)
		if err != nil {
			last = errors.New(redact.Secrets(err.Error())) // the client's errors quote the URL
		} else {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			switch {
			case resp.StatusCode/100 == 2:
				return nil
			case resp.StatusCode/100 == 4:
				return fmt.Errorf("webhook %s: refused: HTTP %s", url, resp.Status)
			}
			last = fmt.Errorf("HTTP %s", resp.Status)
		}
		if w.Log != nil {
			w.Log.Warn("webhook attempt failed", zap.String("url", url), zap.String("delivery", delivery), zap.Int("attempt", i+1), zap.Error(last))
		}
	}
	return fmt.Errorf("webhook %s: %d attempts failed, last: %w", url, attempts, last)
}
