package server

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/ledger"
)

// months keeps the ledgers the API serves. A GET never builds one: the first
// asks for it to be built, once, in the background, and hears "not yet"; the
// rollups change with the hourly aggregation, so a ledger built before the
// current hour is served while its successor is built.
type months struct {
	build func(ctx context.Context, sc ledger.Scope) (*ledger.Ledger, error)
	log   *zap.Logger
	now   func() time.Time
	slots chan struct{} // builds at once

	mu      sync.Mutex
	entries map[monthKey]*monthEntry
}

type monthKey struct{ month, provider string }

type monthEntry struct {
	ledger   *ledger.Ledger
	err      error // the last build's
	builtAt  time.Time
	building bool
}

func newMonths(build func(context.Context, ledger.Scope) (*ledger.Ledger, error), log *zap.Logger) *months {
	return &months{build: build, log: log, now: time.Now, slots: make(chan struct{}, 2), entries: map[monthKey]*monthEntry{}}
}

// get returns the month's ledger if one is built; else it makes sure one is
// being built and says ready false. A build that failed gives its error.
func (m *months) get(month, provider string) (l *ledger.Ledger, ready bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := monthKey{month, provider}
	e := m.entries[k]
	if e == nil {
		e = &monthEntry{}
		m.entries[k] = e
	}
	stale := e.ledger == nil || e.builtAt.Before(m.now().Truncate(time.Hour))
	if stale && !e.building && (e.err == nil || e.ledger != nil || m.now().Sub(e.builtAt) > time.Minute) {
		e.building = true
		go m.rebuild(k, e)
	}
	if e.ledger == nil {
		return nil, false, e.err
	}
	return e.ledger, true, nil
}

func (m *months) rebuild(k monthKey, e *monthEntry) {
	m.slots <- struct{}{}
	defer func() { <-m.slots }()
	start := m.now()
	l, err := m.build(context.Background(), ledger.Scope{Month: k.month, Provider: k.provider, Now: start})
	m.mu.Lock()
	defer m.mu.Unlock()
	e.building, e.builtAt, e.err = false, start, err
	if err != nil {
		m.log.Error("month not built", zap.String("month", k.month), zap.String("provider", k.provider), zap.Error(err))
		return
	}
	e.ledger = l
	m.log.Info("month built", zap.String("month", k.month), zap.String("provider", k.provider), zap.Duration("took", m.now().Sub(start)))
}

// stale has every month rebuilt at its next request, served as it is
// meanwhile: something its ledger shows has changed (an acknowledgement).
func (m *months) stale() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		e.builtAt = time.Time{}
	}
}
