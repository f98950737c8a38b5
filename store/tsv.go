package store

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// EncodeTSV appends one value in ClickHouse's TabSeparated text form. The Go
// types it takes are the ones Insert accepts: string, integers, floats, bool,
// time.Time (DateTime, written as a Unix timestamp so no time zone applies),
// pointers to those, and nil (NULL).
func EncodeTSV(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, `\N`...), nil
	case string:
		return appendEscaped(b, x), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float32:
		return strconv.AppendFloat(b, float64(x), 'g', -1, 32), nil
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64), nil
	case bool:
		if x {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	case time.Time:
		// The engine reads a Unix timestamp only as exactly 10 digits: pad
		// those before 2001.
		if u := x.Unix(); u >= 0 && u < 1e9 {
			return fmt.Appendf(b, "%010d", u), nil
		}
		return strconv.AppendInt(b, x.Unix(), 10), nil
	case []uint32:
		b = append(b, '[')
		for i, v := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(v), 10)
		}
		return append(b, ']'), nil
	case []string:
		// An array's strings are quoted literals, escaped as TabSeparated
		// escapes them (the quote too).
		b = append(b, '[')
		for i, v := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '\'')
			for _, c := range []byte(v) {
				switch c {
				case '\\', '\'':
					b = append(b, '\\', c)
				case '\t':
					b = append(b, '\\', 't')
				case '\n':
					b = append(b, '\\', 'n')
				default:
					b = append(b, c)
				}
			}
			b = append(b, '\'')
		}
		return append(b, ']'), nil
	case *string:
		return encodePtr(b, x)
	case *uint32:
		return encodePtr(b, x)
	case *uint64:
		return encodePtr(b, x)
	case *float32:
		return encodePtr(b, x)
	case *float64:
		return encodePtr(b, x)
	case *time.Time:
		return encodePtr(b, x)
	}
	return b, fmt.Errorf("encode %T: unsupported type", v)
}

func encodePtr[T any](b []byte, p *T) ([]byte, error) {
	if p == nil {
		return append(b, `\N`...), nil
	}
	return EncodeTSV(b, *p)
}

var tsvEscaper = strings.NewReplacer("\\", `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

func appendEscaped(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\t\n\r\x00") {
		return append(b, s...)
	}
	return append(b, tsvEscaper.Replace(s)...)
}

// UnescapeTSV reverses ClickHouse's TabSeparated escaping of one field.
func UnescapeTSV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case '0':
			sb.WriteByte(0)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}

// ParseTSVField converts one TabSeparated field into dest (see Store.Stream).
func ParseTSVField(f []byte, dest any) error {
	// The hot cases of a large result parse without allocating.
	switch d := dest.(type) {
	case *uint32:
		if v, ok := parseDigits(f); ok && v <= math.MaxUint32 {
			*d = uint32(v)
			return nil
		}
	case *int8:
		if len(f) == 2 && f[0] == '-' && f[1] == '1' {
			*d = -1
			return nil
		}
		if v, ok := parseDigits(f); ok && v <= math.MaxInt8 {
			*d = int8(v)
			return nil
		}
	}
	s := string(f)
	var err error
	switch d := dest.(type) {
	case **time.Time:
		return parseNullable(f, d)
	case **string:
		return parseNullable(f, d)
	case **float32:
		return parseNullable(f, d)
	case **uint32:
		return parseNullable(f, d)
	case **uint64:
		return parseNullable(f, d)
	case *float32:
		var v float64
		v, err = strconv.ParseFloat(s, 32)
		*d = float32(v)
	case *uint16:
		var v uint64
		v, err = strconv.ParseUint(s, 10, 16)
		*d = uint16(v)
	case *string:
		*d = UnescapeTSV(s)
	case *uint32:
		var v uint64
		v, err = strconv.ParseUint(s, 10, 32)
		*d = uint32(v)
	case *int8:
		var v int64
		v, err = strconv.ParseInt(s, 10, 8)
		*d = int8(v)
	case *uint64:
		*d, err = strconv.ParseUint(s, 10, 64)
	case *int64:
		*d, err = strconv.ParseInt(s, 10, 64)
	case *float64:
		*d, err = strconv.ParseFloat(s, 64)
	case *time.Time:
		*d, err = ParseDateTime(s)
	default:
		return fmt.Errorf("scan into %T: unsupported", dest)
	}
	if err != nil {
		return fmt.Errorf("scan %q into %T: %w", s, dest, err)
	}
	return nil
}

// parseDigits reads a plain unsigned decimal of up to 18 digits.
func parseDigits(f []byte) (uint64, bool) {
	if len(f) == 0 || len(f) > 18 {
		return 0, false
	}
	var v uint64
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseNullable reads a Nullable field: \N is nil.
func parseNullable[T any](f []byte, dest **T) error {
	if string(f) == `\N` {
		*dest = nil
		return nil
	}
	v := new(T)
	if err := ParseTSVField(f, v); err != nil {
		return err
	}
	*dest = v
	return nil
}
