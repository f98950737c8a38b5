package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// ColumnInserter takes rows as columns, one typed slice a column ([]string,
// []time.Time, []*float32, []*uint32, []*uint64, []uint64): a bulk write
// without boxing every value. Both backends have it.
type ColumnInserter interface {
	InsertColumns(ctx context.Context, table string, columns []string, cols []any) error
}

// SampleBatch holds up to its capacity of samples column by column, as the
// samples table has them: what a bulk import fills and sends.
type SampleBatch struct {
	gpu, host, namespace, pod []string
	ts                        []time.Time
	f32                       [4][]*float32 // gpu_util, gr_engine_active, sm_active, power_w
	fb                        [2][]*uint32  // fb_used_mib, fb_free_mib
	energy                    []*uint64
	// The values the pointers point into, allocated once: a batch never
	// grows past its capacity, so they never move.
	f32Vals  []float32
	u32Vals  []uint32
	u64Vals  []uint64
	ids      []uint64 // batch_id, then version: the import's batch
	origins  []string
	capacity int
	lo, hi   time.Time // the earliest and latest ts held
}

// NewSampleBatch makes a batch for up to capacity samples.
func NewSampleBatch(capacity int) *SampleBatch {
	b := &SampleBatch{capacity: capacity, f32Vals: make([]float32, 0, 4*capacity), u32Vals: make([]uint32, 0, 2*capacity),
		u64Vals: make([]uint64, 0, capacity)}
	b.Reset()
	return b
}

// ImportOrigin is the origin of an import's samples.
func ImportOrigin(batch uint64) string { return "import:" + strconv.FormatUint(batch, 10) }

// Len is the number of samples held; Full says no more fit.
func (b *SampleBatch) Len() int   { return len(b.gpu) }
func (b *SampleBatch) Full() bool { return len(b.gpu) >= b.capacity }

// Reset empties the batch for reuse.
func (b *SampleBatch) Reset() {
	b.gpu, b.host, b.namespace, b.pod, b.ts = b.gpu[:0], b.host[:0], b.namespace[:0], b.pod[:0], b.ts[:0]
	for i := range b.f32 {
		b.f32[i] = b.f32[i][:0]
	}
	for i := range b.fb {
		b.fb[i] = b.fb[i][:0]
	}
	b.energy, b.f32Vals, b.u32Vals, b.u64Vals = b.energy[:0], b.f32Vals[:0], b.u32Vals[:0], b.u64Vals[:0]
	b.lo, b.hi = time.Time{}, time.Time{}
}

// Span is the earliest and latest time of the samples held.
func (b *SampleBatch) Span() (lo, hi time.Time) { return b.lo, b.hi }

// SampleRow is one sample as a bulk write reads it: no pointers, so that
// millions of them cost no allocation.
type SampleRow struct {
	TS                        time.Time // UTC
	GPU, Host, Namespace, Pod string
	Float                     [4]float64 // gpu_util, gr_engine_active, sm_active, power_w
	FB                        [2]uint64  // fb_used_mib, fb_free_mib
	Energy                    uint64
	Has                       uint8 // bit i set: Float[i] (0–3), FB[i-4] (4, 5), Energy (6) holds a value
}

// Add appends a row; the caller keeps to the capacity.
func (b *SampleBatch) Add(r *SampleRow) {
	if b.Full() {
		panic("store: SampleBatch over capacity")
	}
	b.gpu, b.host, b.namespace, b.pod = append(b.gpu, r.GPU), append(b.host, r.Host), append(b.namespace, r.Namespace), append(b.pod, r.Pod)
	if len(b.ts) == 0 || r.TS.Before(b.lo) {
		b.lo = r.TS
	}
	if len(b.ts) == 0 || r.TS.After(b.hi) {
		b.hi = r.TS
	}
	b.ts = append(b.ts, r.TS)
	for i, v := range r.Float {
		var p *float32
		if r.Has&(1<<i) != 0 {
			b.f32Vals = append(b.f32Vals, float32(v))
			p = &b.f32Vals[len(b.f32Vals)-1]
		}
		b.f32[i] = append(b.f32[i], p)
	}
	for i, v := range r.FB {
		var p *uint32
		if r.Has&(1<<(4+i)) != 0 {
			b.u32Vals = append(b.u32Vals, uint32(v))
			p = &b.u32Vals[len(b.u32Vals)-1]
		}
		b.fb[i] = append(b.fb[i], p)
	}
	var e *uint64
	if r.Has&(1<<6) != 0 {
		b.u64Vals = append(b.u64Vals, r.Energy)
		e = &b.u64Vals[len(b.u64Vals)-1]
	}
	b.energy = append(b.energy, e)
}

// InsertImportedBatch writes a batch of an import under its batch id, with
// origin "import:<batch id>". Samples already stored keep their place
// (FirstWins of the batch id, which is a time). No reader sees them until the
// import is committed (CommitImport): see visibleSamples.
func InsertImportedBatch(ctx context.Context, st Inserter, b *SampleBatch, batch uint64) error {
	if b.Len() == 0 {
		return nil
	}
	if cap(b.ids) < 2*b.capacity {
		b.ids = make([]uint64, 2*b.capacity)
		b.origins = make([]string, b.capacity)
	}
	ids, versions, origins := b.ids[:b.Len()], b.ids[b.capacity:b.capacity+b.Len()], b.origins[:b.Len()]
	origin := ImportOrigin(batch)
	for i := range ids {
		ids[i], versions[i], origins[i] = batch, FirstWins(batch), origin
	}
	cols := []any{b.gpu, b.ts, b.host, b.f32[0], b.f32[1], b.f32[2], b.fb[0], b.fb[1], b.f32[3], b.energy, b.namespace, b.pod, versions, ids, origins}
	ci, ok := st.(ColumnInserter)
	if !ok {
		return fmt.Errorf("insert samples: %T takes no columns", st)
	}
	return ci.InsertColumns(ctx, "samples", sampleColumns, cols)
}

// ColumnEncoder returns how to write row i of a column as TabSeparated, and
// the column's length.
func ColumnEncoder(col any) (encode func(b []byte, i int) []byte, n int, err error) {
	switch c := col.(type) {
	case []string:
		return func(b []byte, i int) []byte { return appendEscaped(b, c[i]) }, len(c), nil
	case []uint64:
		return func(b []byte, i int) []byte { b, _ = EncodeTSV(b, c[i]); return b }, len(c), nil
	case []time.Time:
		return func(b []byte, i int) []byte { b, _ = EncodeTSV(b, c[i]); return b }, len(c), nil
	case []*float32:
		return func(b []byte, i int) []byte { b, _ = encodePtr(b, c[i]); return b }, len(c), nil
	case []*uint32:
		return func(b []byte, i int) []byte { b, _ = encodePtr(b, c[i]); return b }, len(c), nil
	case []*uint64:
		return func(b []byte, i int) []byte { b, _ = encodePtr(b, c[i]); return b }, len(c), nil
	}
	return nil, 0, fmt.Errorf("encode column %T: unsupported type", col)
}
