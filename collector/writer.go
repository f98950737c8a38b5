package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
)

// Writer batches samples by size or time and hands them to its sink. While
// the sink fails, batches go to the spool, in order, and are replayed oldest
// first once it answers again. Samples are keyed by (gpu_uuid, ts) in a replacing table,
// so a batch replayed after an insert whose success went unreported counts
// once.
type Writer struct {
	Sink          Sink
	Spool         *Spool
	Metrics       *Metrics
	Log           *zap.Logger
	BatchRows     int
	FlushInterval time.Duration
	WriteTimeout  time.Duration
	RetryMin      time.Duration
	RetryMax      time.Duration

	in   chan []Owned
	done chan struct{}
}

// Start runs the writer until Close.
func (w *Writer) Start() {
	if w.WriteTimeout == 0 {
		w.WriteTimeout = 30 * time.Second
	}
	if w.RetryMin == 0 {
		w.RetryMin = time.Second
	}
	if w.RetryMax == 0 {
		// Trying costs one connection attempt: a store that is back is
		// written to within two seconds.
		w.RetryMax = 2 * time.Second
	}
	w.in = make(chan []Owned, 64)
	w.done = make(chan struct{})
	go w.run()
}

// Add queues one scrape's samples; owner is the provider the target is
// listed for ("" for none).
func (w *Writer) Add(owner string, samples []gpumeter.Sample) {
	if len(samples) == 0 {
		return
	}
	batch := make([]Owned, len(samples))
	for i, s := range samples {
		batch[i] = Owned{Sample: s, Owner: owner}
	}
	w.in <- batch
}

// Close writes what is pending (to the store, or else the spool) and stops.
func (w *Writer) Close() {
	close(w.in)
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	var buf []Owned
	flushTick := time.NewTicker(w.FlushInterval)
	defer flushTick.Stop()
	backoff := w.RetryMin
	retry := time.NewTimer(0)
	defer retry.Stop()
	down := false
	w.updateSpoolMetrics()

	flush := func() {
		if len(buf) == 0 {
			return
		}
		batch := buf
		buf = nil
		if _, segs, _ := w.Spool.Stats(); segs > 0 || down {
			w.spool(batch)
			return
		}
		if err := w.insert(batch); err != nil {
			down = true
			w.Log.Warn("store unreachable: spooling samples to disk until it answers",
				zap.Error(err), zap.String("spool", w.Spool.Dir))
			w.spool(batch)
			backoff = w.RetryMin
			retry.Reset(backoff)
		}
	}
	replay := func() {
		replayed := 0
		for {
			batch, ok, err := w.Spool.Oldest()
			if !ok {
				break
			}
			if err != nil {
				// An unreadable segment cannot be replayed; keeping it would
				// block every later one.
				w.Log.Error("dropping unreadable spool segment", zap.Error(err))
				w.Spool.DropOldest()
				continue
			}
			w.Metrics.WriteRetries.Inc()
			if err := w.insert(batch); err != nil {
				backoff = min(2*backoff, w.RetryMax)
				retry.Reset(backoff)
				w.updateSpoolMetrics()
				return
			}
			w.Spool.DropOldest()
			replayed++
		}
		w.updateSpoolMetrics()
		if down || replayed > 0 {
			w.Log.Info("store answers again: spool replayed", zap.Int("batches", replayed))
		}
		down = false
		backoff = w.RetryMin
	}

	for {
		select {
		case samples, ok := <-w.in:
			if !ok {
				flush()
				if _, segs, _ := w.Spool.Stats(); segs > 0 {
					replay()
				}
				return
			}
			buf = append(buf, samples...)
			if len(buf) >= w.BatchRows {
				flush()
			}
		case <-flushTick.C:
			flush()
		case <-retry.C:
			if _, segs, _ := w.Spool.Stats(); segs > 0 {
				replay()
			} else {
				down = false
			}
		}
	}
}

// insert hands a batch to the sink. A batch the sink refuses for good is
// dropped, logged and counted: keeping it would block every later one.
func (w *Writer) insert(batch []Owned) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.WriteTimeout)
	defer cancel()
	newest := batch[0].TS
	for _, s := range batch {
		if s.TS.After(newest) {
			newest = s.TS
		}
	}
	written, err := w.Sink.Write(ctx, batch)
	var refused *Refused
	if errors.As(err, &refused) {
		w.Metrics.Dropped.Add(float64(len(batch)))
		w.Log.Error("samples refused for good: dropped", zap.Int("samples", len(batch)), zap.Error(err))
		return nil
	}
	if err != nil {
		w.Metrics.WriteErrors.Inc()
		return err
	}
	w.Metrics.SamplesWritten.Add(float64(written))
	w.Metrics.Lag.Set(time.Since(newest).Seconds())
	return nil
}

func (w *Writer) spool(batch []Owned) {
	dropped, err := w.Spool.Put(batch)
	if err != nil {
		w.Metrics.SpoolDropped.Add(float64(len(batch)))
		w.Log.Error("spool write failed: samples lost", zap.Int("samples", len(batch)), zap.Error(err))
	}
	if dropped > 0 {
		w.Metrics.SpoolDropped.Add(float64(dropped))
		w.Log.Error("spool full: oldest samples dropped", zap.Int("samples", dropped),
			zap.String("spool", w.Spool.Dir), zap.Int64("max_bytes", w.Spool.MaxBytes))
	}
	w.updateSpoolMetrics()
}

func (w *Writer) updateSpoolMetrics() {
	bytes, _, oldest := w.Spool.Stats()
	w.Metrics.SpoolBytes.Set(float64(bytes))
	if oldest.IsZero() {
		w.Metrics.SpoolOldestAge.Set(0)
	} else {
		w.Metrics.SpoolOldestAge.Set(time.Since(oldest).Seconds())
	}
}

// String describes the writer's settings, for logs.
func (w *Writer) String() string {
	return fmt.Sprintf("batch %d rows or %s, spool %s (max %d bytes)", w.BatchRows, w.FlushInterval, w.Spool.Dir, w.Spool.MaxBytes)
}
