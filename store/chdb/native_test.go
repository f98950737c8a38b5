package chdb

import (
	"context"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every type Stream promises, plain, Nullable and LowCardinality, read from
// the engine's Native output.
func TestStreamReadsEveryType(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	q := `SELECT toUInt8(number), toUInt16(number + 1000), toUInt32(number + 100000), toUInt64(number) * 1000000000000,
    toInt8(-1 - number), toInt16(-300), toInt32(-70000), toInt64(-5000000000000),
    toFloat32(0.5), toFloat64(number) / 4, toDateTime(1790780400 + number, 'UTC'),
    concat('a\tb\nc\\', toString(number)),
    if(number = 1, NULL, toDateTime(1790780400 + number)), if(number = 1, NULL, toUInt32(number)),
    if(number = 1, NULL, toUInt64(number)), if(number = 1, NULL, toFloat32(number)), if(number = 1, NULL, toString(number)),
    toLowCardinality(toString(number % 2)), toLowCardinality(if(number = 1, NULL, toString(number))),
    toLowCardinality(toUInt32(number * 7))
FROM numbers(3)`
	type row struct {
		u8                  uint8
		u16                 uint16
		u32                 uint32
		u64                 uint64
		i8                  int8
		i16                 int16
		i32                 int32
		i64                 int64
		f32                 float32
		f64                 float64
		ts                  time.Time
		text                string
		nts                 *time.Time
		nu32                *uint32
		nu64                *uint64
		nf32                *float32
		nstr                *string
		lc                  string
		lcNullable          *string
		lcNumber            uint32
		nullTS, nullU32     bool
		nullU64, nullF32    bool
		nullStr, nullLCText bool
	}
	var got []row
	err := s.Stream(ctx, q, func(scan func(...any) error) error {
		var r row
		if err := scan(&r.u8, &r.u16, &r.u32, &r.u64, &r.i8, &r.i16, &r.i32, &r.i64, &r.f32, &r.f64, &r.ts, &r.text,
			&r.nts, &r.nu32, &r.nu64, &r.nf32, &r.nstr, &r.lc, &r.lcNullable, &r.lcNumber); err != nil {
			return err
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3", len(got))
	}
	for n, r := range got {
		u := uint64(n)
		if r.u8 != uint8(n) || r.u16 != uint16(1000+n) || r.u32 != uint32(100000+n) || r.u64 != u*1000000000000 {
			t.Errorf("row %d unsigned: %+v", n, r)
		}
		if r.i8 != int8(-1-n) || r.i16 != -300 || r.i32 != -70000 || r.i64 != -5000000000000 {
			t.Errorf("row %d signed: %+v", n, r)
		}
		if r.f32 != 0.5 || r.f64 != float64(n)/4 {
			t.Errorf("row %d floats: %v %v", n, r.f32, r.f64)
		}
		if want := time.Unix(1790780400+int64(n), 0).UTC(); !r.ts.Equal(want) || r.ts.Location() != time.UTC {
			t.Errorf("row %d DateTime: %v", n, r.ts)
		}
		if want := "a\tb\nc\\" + string(rune('0'+n)); r.text != want {
			t.Errorf("row %d string: %q, want %q", n, r.text, want)
		}
		if r.lc != string(rune('0'+n%2)) || r.lcNumber != uint32(7*n) {
			t.Errorf("row %d LowCardinality: %q %d", n, r.lc, r.lcNumber)
		}
		nulls := []bool{r.nts == nil, r.nu32 == nil, r.nu64 == nil, r.nf32 == nil, r.nstr == nil, r.lcNullable == nil}
		for i, isNull := range nulls {
			if isNull != (n == 1) {
				t.Errorf("row %d Nullable %d: null %v", n, i, isNull)
			}
		}
		if n != 1 && (*r.nu32 != uint32(n) || *r.nu64 != u || *r.nf32 != float32(n) || *r.nstr != string(rune('0'+n)) ||
			*r.lcNullable != *r.nstr || !r.nts.Equal(time.Unix(1790780400+int64(n), 0))) {
			t.Errorf("row %d Nullable values: %+v", n, r)
		}
	}
}

// A large result comes in several blocks; an empty one in none.
func TestStreamReadsBlocks(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var n, sum uint64
	err := s.Stream(ctx, "SELECT number, toString(number) FROM numbers(200000) SETTINGS max_block_size = 7000", func(scan func(...any) error) error {
		var v uint64
		var text string
		if err := scan(&v, &text); err != nil {
			return err
		}
		if v != n || text != strconv.FormatUint(n, 10) {
			t.Fatalf("row %d: %d %q", n, v, text)
		}
		n++
		sum += v
		return nil
	})
	if err != nil || n != 200000 || sum != 200000*199999/2 {
		t.Fatalf("%d rows, sum %d: %v", n, sum, err)
	}
	called := false
	if err := s.Stream(ctx, "SELECT number FROM numbers(10) WHERE number > 20", func(func(...any) error) error {
		called = true
		return nil
	}); err != nil || called {
		t.Fatalf("empty result: called %v, %v", called, err)
	}
}

// A destination of another type than the column's, or a type Stream cannot
// read, is a clear error naming the column, never a wrong value.
func TestStreamRefusesMismatchedTypes(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for _, c := range []struct {
		query string
		dest  any
		want  string
	}{
		{"SELECT toUInt64(1) AS big", new(uint32), "scan column big of type UInt64 into *uint32"},
		{"SELECT if(number = 0, NULL, number) AS n FROM numbers(1)", new(uint64), "type Nullable(UInt64) into *uint64"},
		{"SELECT [1, 2] AS list", new(string), "column list: type Array(UInt8) cannot be read"},
		{"SELECT toString(1) AS s", new(int64), "type String into *int64"},
	} {
		err := s.Stream(ctx, c.query, func(scan func(...any) error) error { return scan(c.dest) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.query, err, c.want)
		}
	}
}

// The Native reader never panics or reads out of bounds, whatever the bytes:
// each block either reads whole, every value of every row, or is an error.
// FuzzNative reads its input twice. As a Native result straight from the
// engine's side it must never panic or hang, and whatever block it decodes
// must scan whole. As the values of a table (UInt32, Int64, Float64,
// DateTime, String, Nullable(String)) it is encoded the way the engine
// encodes them and must decode to exactly those values.
func FuzzNative(f *testing.F) {
	encode := func(cols ...string) []byte {
		b := []byte{byte(len(cols) / 3), 2}
		for i := 0; i < len(cols); i += 3 {
			for _, s := range cols[i : i+2] {
				b = append(append(b, byte(len(s))), s...)
			}
			b = append(b, cols[i+2]...)
		}
		return b
	}
	f.Add(encode("n", "UInt32", "\x01\x00\x00\x00\x02\x00\x00\x00", "s", "Nullable(String)", "\x00\x01\x02hi\x00"))
	f.Add(encode("lc", "LowCardinality(String)", "\x01\x00\x00\x00\x00\x00\x00\x00"+"\x00\x02\x00\x00\x00\x00\x00\x00"+
		"\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01x"+"\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00"))
	f.Add(encode("t", "DateTime('UTC')", "\x00\x00\x00\x00\xff\xff\xff\xff", "f", "Float64", strings.Repeat("\x00", 16)))
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeAnything(t, data)
		roundTrip(t, data)
	})
}

// decodeAnything reads data as a result: errors are fine, a decoded block
// that does not scan is not.
func decodeAnything(t *testing.T, data []byte) {
	r := reader{buf: data}
	var b block
	for {
		more, err := r.next(&b)
		if err != nil || !more {
			return
		}
		for i := range b.cols {
			c := &b.cols[i]
			var dest any
			switch {
			case c.kind == kindString && c.nulls != nil:
				dest = new(*string)
			case c.kind == kindString:
				dest = new(string)
			case c.kind == kindUInt32 && c.nulls == nil:
				dest = new(uint32)
			default:
				continue
			}
			for row := range b.rows {
				if err := c.scan(row, dest); err != nil {
					t.Fatalf("column %s %s row %d of a decoded block: %v", c.name, c.typ, row, err)
				}
			}
		}
	}
}

// nativeRow is one row of the round trip's table.
type nativeRow struct {
	n    uint32
	i    int64
	f    float64
	t    time.Time
	s    string
	null *string
}

// tableOf makes rows of data, 25 bytes and a string a row; every third
// nullable value is NULL.
func tableOf(data []byte) []nativeRow {
	var rows []nativeRow
	for len(data) >= 25 {
		r := nativeRow{n: binary.LittleEndian.Uint32(data), i: int64(binary.LittleEndian.Uint64(data[4:])),
			f: math.Float64frombits(binary.LittleEndian.Uint64(data[12:])), t: time.Unix(int64(binary.LittleEndian.Uint32(data[20:])), 0).UTC()}
		k := int(data[24]) % (len(data) - 24)
		r.s, data = string(data[25:25+k]), data[25+k:]
		if len(rows)%3 != 2 {
			r.null = &r.s
		}
		rows = append(rows, r)
	}
	return rows
}

// nativeBlock encodes rows as the engine does: a block of columns, each
// its name, its type and its values.
func nativeBlock(rows []nativeRow) []byte {
	b := binary.AppendUvarint(nil, 6)
	b = binary.AppendUvarint(b, uint64(len(rows)))
	col := func(name, typ string, value func(b []byte, r nativeRow) []byte) {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(len(typ)))
		b = append(b, typ...)
		for _, r := range rows {
			b = value(b, r)
		}
	}
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	col("n", "UInt32", func(b []byte, r nativeRow) []byte { return binary.LittleEndian.AppendUint32(b, r.n) })
	col("i", "Int64", func(b []byte, r nativeRow) []byte { return binary.LittleEndian.AppendUint64(b, uint64(r.i)) })
	col("f", "Float64", func(b []byte, r nativeRow) []byte { return binary.LittleEndian.AppendUint64(b, math.Float64bits(r.f)) })
	col("t", "DateTime('UTC')", func(b []byte, r nativeRow) []byte { return binary.LittleEndian.AppendUint32(b, uint32(r.t.Unix())) })
	col("s", "String", func(b []byte, r nativeRow) []byte { return str(b, r.s) })
	// Nullable: the null map of the whole column, then its values (empty
	// for NULL), so this column is written whole here.
	b = str(str(b, "ns"), "Nullable(String)")
	for _, r := range rows {
		b = append(b, map[bool]byte{true: 1, false: 0}[r.null == nil])
	}
	for _, r := range rows {
		if r.null == nil {
			b = str(b, "")
		} else {
			b = str(b, *r.null)
		}
	}
	return b
}

func roundTrip(t *testing.T, data []byte) {
	want := tableOf(data)
	if len(want) == 0 {
		return
	}
	r := reader{buf: nativeBlock(want)}
	var b block
	more, err := r.next(&b)
	if err != nil || !more || b.rows != len(want) {
		t.Fatalf("a block of %d rows read as %d rows, more %v: %v", len(want), b.rows, more, err)
	}
	for k, w := range want {
		var got nativeRow
		for i, dest := range []any{&got.n, &got.i, &got.f, &got.t, &got.s, &got.null} {
			if err := b.cols[i].scan(k, dest); err != nil {
				t.Fatalf("row %d column %s: %v", k, b.cols[i].name, err)
			}
		}
		same := got.n == w.n && got.i == w.i && math.Float64bits(got.f) == math.Float64bits(w.f) && got.t.Equal(w.t) && got.s == w.s &&
			(got.null == nil) == (w.null == nil) && (w.null == nil || *got.null == *w.null)
		if !same {
			t.Fatalf("row %d read as %+v, written as %+v", k, got, w)
		}
	}
	if more, err := r.next(&b); more || err != nil {
		t.Fatalf("after the only block: more %v, %v", more, err)
	}
}
