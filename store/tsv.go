package store

import (
	"fmt"
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
