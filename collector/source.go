package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// Source yields one sample per GPU it can see, stamped ts.
type Source interface {
	Name() string
	Scrape(ctx context.Context, ts time.Time) ([]gpumeter.Sample, ParseStats, error)
}

// maxBody bounds what one exporter may send; a full 8-GPU scrape is ~60 kB.
const maxBody = 32 << 20

// HTTPTarget is one dcgm-exporter endpoint.
type HTTPTarget struct {
	URL    string
	Client *http.Client
	Limits Limits
}

func (t HTTPTarget) Name() string { return t.URL }

func (t HTTPTarget) Scrape(ctx context.Context, ts time.Time) ([]gpumeter.Sample, ParseStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, ParseStats{}, &ScrapeError{Outcome: "error", Err: err}
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	client := t.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, ParseStats{}, classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		outcome := "http_4xx"
		if resp.StatusCode >= 500 {
			outcome = "http_5xx"
		}
		return nil, ParseStats{}, &ScrapeError{Outcome: outcome, Err: fmt.Errorf("HTTP %s", resp.Status)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, ParseStats{}, classify(err)
	}
	if len(body) > maxBody {
		return nil, ParseStats{}, &ScrapeError{Outcome: "too_large", Err: fmt.Errorf("response larger than %d MiB: too large", maxBody>>20)}
	}
	samples, stats, err := ParseDCGM(bytes.NewReader(body), ts, t.Limits)
	if err != nil {
		var se *ScrapeError
		switch {
		case errors.As(err, &se):
		case errors.Is(err, ErrNoDCGM):
			err = &ScrapeError{Outcome: "no_dcgm", Err: err}
		case errors.Is(err, errEmpty):
			err = &ScrapeError{Outcome: "empty", Err: err}
		case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
			err = &ScrapeError{Outcome: "timeout", Err: err}
		default:
			err = &ScrapeError{Outcome: "parse_error", Err: err}
		}
		return nil, stats, err
	}
	return samples, stats, nil
}

// ScrapeError is a failed scrape with the outcome it is counted under.
type ScrapeError struct {
	Outcome string
	Err     error
}

func (e *ScrapeError) Error() string { return e.Err.Error() }
func (e *ScrapeError) Unwrap() error { return e.Err }

// Outcome is how a scrape error is counted.
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var se *ScrapeError
	if errors.As(err, &se) {
		return se.Outcome
	}
	return "error"
}

func classify(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &ScrapeError{Outcome: "timeout", Err: err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &ScrapeError{Outcome: "refused", Err: err}
	}
	return &ScrapeError{Outcome: "error", Err: err}
}
