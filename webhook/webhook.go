// Package webhook delivers idle flags to the allocation portal's webhook:
// signed, retried with backoff, and each flag once.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Gpumeter-Signature"

// Sign is the header value for a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
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
			return fmt.Errorf("webhook %s: %w", w.URL, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(SignatureHeader, Sign(w.Secret, body))
		resp, err := client.Do(req)
		if err != nil {
			last = err
		} else {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			switch {
			case resp.StatusCode/100 == 2:
				return nil
			case resp.StatusCode/100 == 4:
				return fmt.Errorf("webhook %s: refused: HTTP %s", w.URL, resp.Status)
			}
			last = fmt.Errorf("HTTP %s", resp.Status)
		}
		if w.Log != nil {
			w.Log.Warn("webhook attempt failed", zap.String("url", w.URL), zap.Int("attempt", i+1), zap.Error(last))
		}
	}
	return fmt.Errorf("webhook %s: %d attempts failed, last: %w", w.URL, attempts, last)
}
