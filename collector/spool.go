package collector

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spool keeps batches on disk, in order, while the store is unreachable. Each
// batch is one gzipped JSON-lines segment named SEQ-ROWS-OLDEST.jsonl.gz, so
// size, count and age are known without opening it. Segments survive a
// restart and are replayed first. When a new batch would pass MaxBytes, the
// oldest segments are dropped, and the caller is told how many samples went.
type Spool struct {
	Dir      string
	MaxBytes int64

	mu    sync.Mutex
	segs  []segment
	bytes int64
	next  uint64
}

type segment struct {
	path   string
	rows   int
	oldest time.Time
	size   int64
}

// OpenSpool reads the segments already in dir.
func OpenSpool(dir string, maxBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{Dir: dir, MaxBytes: maxBytes, next: 1}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // a write that died halfway
			continue
		}
		parts := strings.Split(strings.TrimSuffix(name, ".jsonl.gz"), "-")
		if len(parts) != 3 || !strings.HasSuffix(name, ".jsonl.gz") {
			continue
		}
		seq, err1 := strconv.ParseUint(parts[0], 10, 64)
		rows, err2 := strconv.Atoi(parts[1])
		oldest, err3 := strconv.ParseInt(parts[2], 10, 64)
		info, err4 := e.Info()
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		s.segs = append(s.segs, segment{path: filepath.Join(dir, name), rows: rows, oldest: time.Unix(oldest, 0), size: info.Size()})
		s.bytes += info.Size()
		if seq >= s.next {
			s.next = seq + 1
		}
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].path < s.segs[j].path })
	return s, nil
}

// Put appends a batch; it returns the samples dropped to make room.
func (s *Spool) Put(batch []Owned) (dropped int, err error) {
	if len(batch) == 0 {
		return 0, nil
	}
	oldest := batch[0].TS
	for _, x := range batch {
		if x.TS.Before(oldest) {
			oldest = x.TS
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := fmt.Sprintf("%020d-%d-%d.jsonl.gz", s.next, len(batch), oldest.Unix())
	path := filepath.Join(s.Dir, name)
	size, err := writeSegment(path, batch)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	s.next++
	s.segs = append(s.segs, segment{path: path, rows: len(batch), oldest: oldest, size: size})
	s.bytes += size
	for s.bytes > s.MaxBytes && len(s.segs) > 1 {
		dropped += s.segs[0].rows
		s.removeFirst()
	}
	return dropped, nil
}

func writeSegment(path string, batch []Owned) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	zw := gzip.NewWriter(f)
	bw := bufio.NewWriter(zw)
	enc := json.NewEncoder(bw)
	for i := range batch {
		if err := enc.Encode(&batch[i]); err != nil {
			f.Close()
			os.Remove(tmp)
			return 0, err
		}
	}
	err = bw.Flush()
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	info, err := os.Stat(tmp)
	if err != nil {
		return 0, err
	}
	return info.Size(), os.Rename(tmp, path)
}

// Oldest returns the first segment's samples without removing them.
func (s *Spool) Oldest() ([]Owned, bool, error) {
	s.mu.Lock()
	if len(s.segs) == 0 {
		s.mu.Unlock()
		return nil, false, nil
	}
	path := s.segs[0].path
	s.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, true, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, true, fmt.Errorf("spool %s: %w", path, err)
	}
	dec := json.NewDecoder(zr)
	var out []Owned
	for dec.More() {
		var x Owned
		if err := dec.Decode(&x); err != nil {
			return nil, true, fmt.Errorf("spool %s: %w", path, err)
		}
		out = append(out, x)
	}
	return out, true, nil
}

// DropOldest removes the first segment once it has been written to the store.
func (s *Spool) DropOldest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) > 0 {
		s.removeFirst()
	}
}

func (s *Spool) removeFirst() {
	os.Remove(s.segs[0].path)
	s.bytes -= s.segs[0].size
	s.segs = s.segs[1:]
}

// Stats reports the spool's size, segment count and its oldest sample's time.
func (s *Spool) Stats() (bytes int64, segments int, oldest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) > 0 {
		oldest = s.segs[0].oldest
	}
	return s.bytes, len(s.segs), oldest
}
