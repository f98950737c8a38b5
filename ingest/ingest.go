// Package ingest is the one way samples reach the store. Every source of
// samples (the collector's scrapes, a provider's remote-write pushes, NIPA's
// imports, the demo) hands them to an Ingester, which
//   - keeps only the GPUs of the provider the source speaks for (SPEC §9),
//   - never lets a sample replace one already stored: the same again is a
//     no-op, another value for a stored GPU and second is refused,
//   - writes them, each with its origin,
//   - marks the hours they change for the next aggregation,
//   - records what it refused, by hour, provider, source and reason, for the
//     month's data quality,
//   - and counts all of it in its metrics.
//
// A new source of samples needs an Origin and a call to Write, nothing more.
package ingest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// Source names the road samples came by: it labels the metrics and the
// recorded refusals.
type Source string

const (
	Scrape      Source = "scrape"       // the collector, from an exporter or NVML
	RemoteWrite Source = "remote_write" // a provider's push (POST /api/v1/write)
	Import      Source = "import"       // gpumeter import samples: NIPA's backfill
	Demo        Source = "demo"         // the simulated month of gpumeter demo
)

// Origin says where samples come from and for whom they speak.
type Origin struct {
	Source Source
	// Provider is whose inventory the samples must be of; "" for NIPA's own
	// sources (a target listed for no one, an import), which are not checked.
	Provider string
	// Name is who sent them (an ingest principal); "" lets each sample name
	// its own sender in its Origin (a scrape's target).
	Name string
}

// stamp is the origin stored with a sample of o: the source, and the sender
// if one is named.
func (o Origin) stamp(s *gpumeter.Sample) string {
	name := o.Name
	if name == "" {
		name = s.Origin
	}
	if name == "" {
		return string(o.Source)
	}
	return string(o.Source) + ":" + name
}

// Result is what became of a Write's samples.
type Result struct {
	Stored   int
	Repeated int            // already stored, the same: nothing to do
	Refused  map[string]int // by reason (gpumeter.Refused*); nil when none
}

// RefusedTotal is how many samples were refused.
func (r Result) RefusedTotal() int {
	n := 0
	for _, c := range r.Refused {
		n += c
	}
	return n
}

// MaxGap bounds how far a sample's coverage reaches (activity.max_sample_gap
// is at most this): a sample at t changes the accounting of [t-MaxGap,
// t+MaxGap] at most, through its own coverage and by shortening its
// predecessor's.
const MaxGap = time.Hour

// dirtySpan is the range whose accounting samples from lo to hi change.
func dirtySpan(lo, hi time.Time) (time.Time, time.Time) {
	return lo.Add(-MaxGap), hi.Add(MaxGap + time.Second)
}

// Ingester writes samples into one store.
type Ingester struct {
	// MaxPushAge bounds how old a pushed sample may be (server.max_push_age;
	// 0: two hours).
	MaxPushAge time.Duration
	// Now is the clock pushes are judged by (nil: time.Now).
	Now func() time.Time

	store   store.Store
	owners  *Owners
	metrics *Metrics
	log     *zap.Logger

	mu      sync.Mutex
	writing map[string]*sync.Mutex // by provider: one check-then-write at a time
}

// MaxPushAhead is how far ahead of this machine's clock a pushed sample may
// be: clocks drift, not by minutes.
const MaxPushAhead = 5 * time.Minute

// The times a DateTime column holds.
var (
	firstStorable = time.Unix(0, 0)
	lastStorable  = time.Unix(1<<32-1, 0)
)

// New makes an ingester over st counting into m (nil: counted nowhere, as
// a one-shot command needs).
func New(st store.Store, m *Metrics, log *zap.Logger) *Ingester {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Ingester{store: st, owners: &Owners{Store: st}, metrics: m, log: log, writing: map[string]*sync.Mutex{}}
}

// lock holds off other writes for provider's GPUs until unlock: what one
// write found unstored, a concurrent one may not store first. (Writers in
// other processes race only to FirstWins, which keeps the first.)
func (in *Ingester) lock(provider string) (unlock func()) {
	in.mu.Lock()
	m := in.writing[provider]
	if m == nil {
		m = &sync.Mutex{}
		in.writing[provider] = m
	}
	in.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Write takes samples of one origin. Should it fail, the caller may send the
// same samples again: a sample written twice is one row per GPU and second,
// and none of the hours it touches is left unmarked.
func (in *Ingester) Write(ctx context.Context, o Origin, samples []gpumeter.Sample) (Result, error) {
	if len(samples) == 0 {
		return Result{}, nil
	}
	kept, refused := in.timely(o, samples)
	if o.Provider != "" && len(kept) > 0 {
		owned, foreign, err := in.owners.Filter(ctx, o.Provider, kept)
		if err != nil {
			return Result{}, fmt.Errorf("check ownership: %w", err)
		}
		kept, refused = owned, append(refused, foreign...)
	}
	unlock := in.lock(o.Provider)
	defer unlock()
	kept, repeated, conflicts, err := in.unstored(ctx, o, kept)
	if err != nil {
		return Result{}, err
	}
	refused = append(refused, conflicts...)
	if len(kept) > 0 {
		if err := store.InsertSamples(ctx, in.store, kept, store.FirstWins(uint64(time.Now().UnixNano()))); err != nil {
			return Result{}, err
		}
		lo, hi := timeSpan(kept)
		from, to := dirtySpan(lo, hi)
		if err := store.NoteDirty(ctx, in.store, from, to, "samples"); err != nil {
			return Result{}, err
		}
	}
	res := Result{Stored: len(kept), Repeated: repeated}
	if len(refused) > 0 {
		if err := in.record(ctx, o, refused); err != nil {
			return Result{}, err
		}
		res.Refused = map[string]int{}
		for _, r := range refused {
			res.Refused[r.reason] += r.samples
		}
		in.log.Warn("samples refused", zap.String("source", string(o.Source)),
			zap.String("provider", o.Provider), zap.Int("stored", res.Stored), zap.Any("refused", res.Refused))
	}
	in.metrics.stored.WithLabelValues(string(o.Source), o.Provider).Add(float64(res.Stored))
	for _, reason := range slices.Sorted(maps.Keys(res.Refused)) {
		in.metrics.refused.WithLabelValues(string(o.Source), o.Provider, reason).Add(float64(res.Refused[reason]))
	}
	return res, nil
}

// timely keeps the samples whose time the store can hold and, from a push,
// those no older than MaxPushAge and no further ahead than MaxPushAhead.
// A bad time is counted in the hour it arrived: its own means nothing.
func (in *Ingester) timely(o Origin, samples []gpumeter.Sample) ([]gpumeter.Sample, tally) {
	now := time.Now()
	if in.Now != nil {
		now = in.Now()
	}
	oldest, newest := firstStorable, lastStorable
	if o.Source == RemoteWrite {
		age := in.MaxPushAge
		if age <= 0 {
			age = 2 * time.Hour
		}
		oldest, newest = now.Add(-age), now.Add(MaxPushAhead)
	}
	var refused tally
	kept := samples[:0:0]
	for _, s := range samples {
		switch {
		case s.TS.Before(firstStorable) || s.TS.After(lastStorable):
			refused.add(now, gpumeter.RefusedBadTimestamp)
		case s.TS.Before(oldest):
			refused.add(s.TS, gpumeter.RefusedTooOld)
		case s.TS.After(newest):
			refused.add(s.TS, gpumeter.RefusedTooNew)
		default:
			kept = append(kept, s)
		}
	}
	if len(refused) == 0 {
		return samples, nil
	}
	return kept, refused
}

// unstored keeps the samples whose GPU and second nothing is stored for,
// stamped with their origin. The same values again (a retry, a spool
// replayed) are repeated; other values for a stored second, or for one met
// earlier in samples, are conflicts, in the sample's hour.
func (in *Ingester) unstored(ctx context.Context, o Origin, samples []gpumeter.Sample) (fresh []gpumeter.Sample, repeated int, conflicts tally, err error) {
	if len(samples) == 0 {
		return nil, 0, nil, nil
	}
	type key struct {
		gpu string
		t   int64
	}
	seen := make(map[key]gpumeter.Sample, len(samples))
	gpus := map[string]bool{}
	for _, s := range samples {
		gpus[s.GPUUUID] = true
	}
	lo, hi := timeSpan(samples)
	err = store.StoredSamples(ctx, in.store, slices.Sorted(maps.Keys(gpus)), lo, hi.Add(time.Second), func(s gpumeter.Sample) error {
		seen[key{s.GPUUUID, s.TS.Unix()}] = s
		return nil
	})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read stored samples: %w", err)
	}
	fresh = make([]gpumeter.Sample, 0, len(samples))
	for _, s := range samples {
		k := key{s.GPUUUID, s.TS.Unix()}
		if stored, ok := seen[k]; ok {
			if sameValues(&stored, &s) {
				repeated++
			} else {
				conflicts.add(s.TS, gpumeter.RefusedConflict)
			}
			continue
		}
		s.Origin = o.stamp(&s)
		seen[k] = s
		fresh = append(fresh, s)
	}
	return fresh, repeated, conflicts, nil
}

// sameValues says whether two samples of a GPU and second say the same, as
// the store holds them (ratios and watts as Float32, memory as UInt32).
func sameValues(a, b *gpumeter.Sample) bool {
	return a.Hostname == b.Hostname && a.Namespace == b.Namespace && a.Pod == b.Pod &&
		sameFloat32(a.GPUUtil, b.GPUUtil) && sameFloat32(a.GrEngineActive, b.GrEngineActive) &&
		sameFloat32(a.SMActive, b.SMActive) && sameFloat32(a.PowerW, b.PowerW) &&
		sameUint(a.FBUsedMiB, b.FBUsedMiB, 1<<32-1) && sameUint(a.FBFreeMiB, b.FBFreeMiB, 1<<32-1) &&
		sameUint(a.EnergyMJ, b.EnergyMJ, 1<<64-1)
}

func sameFloat32(a, b *float64) bool {
	return a == nil && b == nil || a != nil && b != nil && float32(*a) == float32(*b)
}

func sameUint(a, b *uint64, mask uint64) bool {
	return a == nil && b == nil || a != nil && b != nil && *a&mask == *b&mask
}

func floorHour(t int64) int64 { return t - ((t%3600)+3600)%3600 }

// refusal counts the samples of one hour refused for one reason.
type refusal struct {
	hour    int64 // unix seconds, whole hours
	reason  string
	samples int
}

// tally counts refusals by hour and reason, in the order first seen; a
// batch holds a few hours and reasons, so a walk finds each.
type tally []refusal

func (t *tally) add(at time.Time, reason string) {
	h := floorHour(at.Unix())
	for i := range *t {
		if r := &(*t)[i]; r.hour == h && r.reason == reason {
			r.samples++
			return
		}
	}
	*t = append(*t, refusal{hour: h, reason: reason, samples: 1})
}

func (in *Ingester) record(ctx context.Context, o Origin, refused tally) error {
	rows := make([]store.Rejection, len(refused))
	for i, r := range refused {
		rows[i] = store.Rejection{Hour: time.Unix(r.hour, 0), Provider: o.Provider, Source: string(o.Source), Reason: r.reason,
			Samples: uint64(r.samples)}
	}
	return store.RecordRejections(ctx, in.store, rows)
}

func timeSpan(samples []gpumeter.Sample) (lo, hi time.Time) {
	lo, hi = samples[0].TS, samples[0].TS
	for _, s := range samples[1:] {
		if s.TS.Before(lo) {
			lo = s.TS
		}
		if s.TS.After(hi) {
			hi = s.TS
		}
	}
	return lo, hi
}
