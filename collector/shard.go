package collector

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
)

// Shard is this collector's part of the targets when N collectors share
// them (collect --shard I/N): the targets whose URL hashes to I modulo N,
// as Prometheus' hashmod relabelling does, so N collectors cover every
// target once with no coordination. The zero Shard has every target.
type Shard struct{ I, N int }

// ParseShard reads "I/N" with 0 <= I < N.
func ParseShard(s string) (Shard, error) {
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.I, &sh.N); err != nil || sh.N < 1 || sh.I < 0 || sh.I >= sh.N || fmt.Sprintf("%d/%d", sh.I, sh.N) != s {
		return Shard{}, fmt.Errorf("shard %q: want I/N with 0 <= I < N", s)
	}
	return sh, nil
}

// Has says whether the target at url is this shard's.
func (s Shard) Has(url string) bool {
	if s.N <= 1 {
		return true
	}
	sum := md5.Sum([]byte(url))
	return binary.BigEndian.Uint64(sum[8:])%uint64(s.N) == uint64(s.I)
}
