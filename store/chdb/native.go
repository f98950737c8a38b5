package chdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Results come back in ClickHouse's Native format: column by column, numbers
// as little-endian bytes. Against TabSeparated the engine formats a large
// result in half the time and Go reads it without parsing text.

// kind is a column type Stream can scan.
type kind uint8

const (
	kindString kind = iota + 1
	kindUInt8
	kindUInt16
	kindUInt32
	kindUInt64
	kindInt8
	kindInt16
	kindInt32
	kindInt64
	kindFloat32
	kindFloat64
	kindDateTime
)

var kinds = map[string]kind{
	"String": kindString, "UInt8": kindUInt8, "UInt16": kindUInt16, "UInt32": kindUInt32, "UInt64": kindUInt64,
	"Int8": kindInt8, "Int16": kindInt16, "Int32": kindInt32, "Int64": kindInt64,
	"Float32": kindFloat32, "Float64": kindFloat64, "DateTime": kindDateTime,
}

var widths = [...]int{kindUInt8: 1, kindUInt16: 2, kindUInt32: 4, kindUInt64: 8, kindInt8: 1, kindInt16: 2,
	kindInt32: 4, kindInt64: 8, kindFloat32: 4, kindFloat64: 8, kindDateTime: 4}

// kindOf is the kind of a type name, 0 for one Stream cannot read.
func kindOf(typ string) kind {
	if strings.HasPrefix(typ, "DateTime(") { // with a time zone
		return kindDateTime
	}
	return kinds[typ]
}

// column is one column of a block.
type column struct {
	name, typ string
	kind      kind
	nulls     []byte // Nullable: a byte a row, 1 for NULL
	data      []byte // fixed-width values, or the strings with their lengths
	starts    []int  // String: the bounds of each row's value in data
	ends      []int
}

// block is one block of a result: columns of rows values each.
type block struct {
	rows int
	cols []column
}

// reader walks a Native-format buffer.
type reader struct {
	buf []byte
	err error
}

func (r *reader) uvarint() int {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 || v > math.MaxInt32 {
		r.fail("bad length")
		return 0
	}
	r.buf = r.buf[n:]
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.buf) {
		r.fail("truncated")
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) str() string { return string(r.bytes(r.uvarint())) }

func (r *reader) fail(why string) {
	if r.err == nil {
		r.err = errors.New("Native result: " + why)
	}
	r.buf = nil
}

// next reads the next block into b, reusing its columns; false at the end.
func (r *reader) next(b *block) (bool, error) {
	if len(r.buf) == 0 {
		return false, r.err
	}
	ncols, rows := r.uvarint(), r.uvarint()
	// Every column takes a byte or more for each row and its name.
	if r.err == nil && (ncols == 0 || ncols > len(r.buf) || rows > len(r.buf)) {
		r.fail("implausible block")
	}
	if r.err != nil {
		return false, r.err
	}
	if cap(b.cols) < ncols {
		b.cols = make([]column, ncols)
	}
	b.rows, b.cols = rows, b.cols[:ncols]
	for i := range b.cols {
		c := &b.cols[i]
		c.name, c.typ = r.str(), r.str()
		inner := c.typ
		c.nulls = nil
		if t, ok := strings.CutPrefix(inner, "LowCardinality("); ok {
			if err := r.lowCardinality(c, strings.TrimSuffix(t, ")"), rows); err != nil {
				return false, err
			}
			continue
		}
		if t, ok := strings.CutPrefix(inner, "Nullable("); ok {
			inner = strings.TrimSuffix(t, ")")
			c.nulls = r.bytes(rows)
		}
		if c.kind = kindOf(inner); c.kind == 0 {
			return false, c.unreadable()
		}
		if err := r.values(c, rows); err != nil {
			return false, err
		}
	}
	return true, r.err
}

// lowCardinality reads a LowCardinality column of a block: a dictionary of
// the block's values, then each row's place in it. The rows' values are
// copied out of the dictionary into c.
func (r *reader) lowCardinality(c *column, inner string, rows int) error {
	nullable := false
	if t, ok := strings.CutPrefix(inner, "Nullable("); ok {
		inner, nullable = strings.TrimSuffix(t, ")"), true
	}
	if c.kind = kindOf(inner); c.kind == 0 {
		return c.unreadable()
	}
	c.starts, c.ends = c.starts[:0], c.ends[:0]
	c.data, c.nulls = nil, nil
	if rows == 0 {
		return r.err
	}
	const hasAdditionalKeys = 1 << 9
	if version := r.uint64(); version != 1 {
		return fmt.Errorf("column %s: LowCardinality serialization version %d", c.short(), version)
	}
	flags := r.uint64()
	if flags&hasAdditionalKeys == 0 {
		return fmt.Errorf("column %s: LowCardinality without its dictionary", c.short())
	}
	nkeys := r.uint64()
	if r.err != nil || nkeys == 0 || nkeys > uint64(len(r.buf)) {
		return fmt.Errorf("column %s: LowCardinality dictionary truncated", c.short())
	}
	keys := column{name: c.name, typ: inner, kind: c.kind}
	if err := r.values(&keys, int(nkeys)); err != nil {
		return err
	}
	if n := r.uint64(); n != uint64(rows) {
		return fmt.Errorf("column %s: LowCardinality of %d rows in a block of %d", c.short(), n, rows)
	}
	width := 1 << min(flags&0xff, 4) // UInt8 to UInt64
	if width > 8 {
		return fmt.Errorf("column %s: LowCardinality index type %d", c.short(), flags&0xff)
	}
	idx := r.bytes(rows * width)
	if r.err != nil {
		return r.err
	}
	if nullable {
		c.nulls = make([]byte, rows)
	}
	w := widths[c.kind]
	if c.kind == kindString {
		c.data = keys.data
	} else {
		c.data = make([]byte, 0, rows*w)
	}
	for row := range rows {
		var k uint64
		for b := width - 1; b >= 0; b-- {
			k = k<<8 | uint64(idx[row*width+b])
		}
		if k >= nkeys {
			return fmt.Errorf("column %s: LowCardinality index %d of %d keys", c.short(), k, nkeys)
		}
		if nullable && k == 0 { // the dictionary's first key stands for NULL
			c.nulls[row] = 1
		}
		if c.kind == kindString {
			c.starts, c.ends = append(c.starts, keys.starts[k]), append(c.ends, keys.ends[k])
		} else {
			c.data = append(c.data, keys.data[int(k)*w:int(k+1)*w]...)
		}
	}
	return nil
}

// values reads rows plain values of c's kind.
func (r *reader) values(c *column, rows int) error {
	if c.kind != kindString {
		c.data = r.bytes(rows * widths[c.kind])
		return r.err
	}
	c.data, c.starts, c.ends = r.buf, c.starts[:0], c.ends[:0]
	for range rows {
		n := r.uvarint()
		at := len(c.data) - len(r.buf)
		if r.bytes(n); r.err != nil {
			return r.err
		}
		c.starts, c.ends = append(c.starts, at), append(c.ends, at+n)
	}
	return nil
}

// short is the column's name as an error shows it: long expressions cut.
func (c *column) short() string {
	if len(c.name) > 60 {
		return c.name[:57] + "..."
	}
	return c.name
}

func (c *column) unreadable() error {
	return fmt.Errorf("column %s: type %s cannot be read", c.short(), c.typ)
}

func (r *reader) uint64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// scan converts row's value into dest, whose type must be the column's
// (Store.Stream's table).
func (c *column) scan(row int, dest any) error {
	if c.nulls != nil {
		null := c.nulls[row] != 0
		switch d := dest.(type) {
		case **string:
			return scanNullable(c, row, null, d)
		case **uint32:
			return scanNullable(c, row, null, d)
		case **uint64:
			return scanNullable(c, row, null, d)
		case **float32:
			return scanNullable(c, row, null, d)
		case **time.Time:
			return scanNullable(c, row, null, d)
		}
		return c.mismatch(dest)
	}
	ok := false
	switch d := dest.(type) {
	case *uint32:
		if ok = c.kind == kindUInt32; ok {
			*d = binary.LittleEndian.Uint32(c.data[4*row:])
		}
	case *int8:
		if ok = c.kind == kindInt8; ok {
			*d = int8(c.data[row])
		}
	case *int64:
		if ok = c.kind == kindInt64; ok {
			*d = int64(binary.LittleEndian.Uint64(c.data[8*row:]))
		}
	case *uint64:
		if ok = c.kind == kindUInt64; ok {
			*d = binary.LittleEndian.Uint64(c.data[8*row:])
		}
	case *string:
		if ok = c.kind == kindString; ok {
			*d = string(c.data[c.starts[row]:c.ends[row]])
		}
	case *uint8:
		if ok = c.kind == kindUInt8; ok {
			*d = c.data[row]
		}
	case *uint16:
		if ok = c.kind == kindUInt16; ok {
			*d = binary.LittleEndian.Uint16(c.data[2*row:])
		}
	case *int16:
		if ok = c.kind == kindInt16; ok {
			*d = int16(binary.LittleEndian.Uint16(c.data[2*row:]))
		}
	case *int32:
		if ok = c.kind == kindInt32; ok {
			*d = int32(binary.LittleEndian.Uint32(c.data[4*row:]))
		}
	case *float32:
		if ok = c.kind == kindFloat32; ok {
			*d = math.Float32frombits(binary.LittleEndian.Uint32(c.data[4*row:]))
		}
	case *float64:
		if ok = c.kind == kindFloat64; ok {
			*d = math.Float64frombits(binary.LittleEndian.Uint64(c.data[8*row:]))
		}
	case *time.Time:
		if ok = c.kind == kindDateTime; ok {
			*d = time.Unix(int64(binary.LittleEndian.Uint32(c.data[4*row:])), 0).UTC()
		}
	}
	if !ok {
		return c.mismatch(dest)
	}
	return nil
}

func (c *column) mismatch(dest any) error {
	return fmt.Errorf("scan column %s of type %s into %T: unsupported", c.short(), c.typ, dest)
}

func scanNullable[T any](c *column, row int, null bool, dest **T) error {
	if null {
		*dest = nil
		return nil
	}
	v := new(T)
	// The nested values are stored for NULL rows too, so row indexes them.
	inner := *c
	inner.nulls = nil
	if err := inner.scan(row, v); err != nil {
		return err
	}
	*dest = v
	return nil
}
