package store

import (
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// Rows is a query result as text cells, the same on both backends: numbers as
// ClickHouse prints them, DateTime as "2006-01-02 15:04:05" in UTC.
type Rows struct {
	Columns []string
	Data    [][]sql.NullString
	next    int
}

// Len is the number of rows.
func (r *Rows) Len() int { return len(r.Data) }

// Next advances to the next row; the first call moves to the first row.
func (r *Rows) Next() bool {
	if r.next >= len(r.Data) {
		return false
	}
	r.next++
	return true
}

// Scan converts the current row's cells into dest: *string, *int, *int64,
// *uint64, *float64, *bool, *time.Time, *sql.NullString, or a pointer to one
// of those (left nil for NULL).
func (r *Rows) Scan(dest ...any) error {
	if r.next == 0 || r.next > len(r.Data) {
		return fmt.Errorf("scan: no current row")
	}
	row := r.Data[r.next-1]
	if len(dest) != len(row) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(row))
	}
	for i, d := range dest {
		if err := scanCell(row[i], d); err != nil {
			return fmt.Errorf("scan column %s: %w", r.Columns[i], err)
		}
	}
	return nil
}

func scanCell(c sql.NullString, dest any) error {
	if ns, ok := dest.(*sql.NullString); ok {
		*ns = c
		return nil
	}
	if !c.Valid {
		switch d := dest.(type) {
		case **string:
			*d = nil
		case **int64:
			*d = nil
		case **uint64:
			*d = nil
		case **float64:
			*d = nil
		case **time.Time:
			*d = nil
		default:
			return fmt.Errorf("NULL into %T", dest)
		}
		return nil
	}
	s := c.String
	var err error
	switch d := dest.(type) {
	case *string:
		*d = s
	case *int:
		*d, err = strconv.Atoi(s)
	case *int64:
		*d, err = strconv.ParseInt(s, 10, 64)
	case *uint64:
		*d, err = strconv.ParseUint(s, 10, 64)
	case *float64:
		*d, err = strconv.ParseFloat(s, 64)
	case *bool:
		*d = s == "1" || s == "true"
	case *time.Time:
		*d, err = ParseDateTime(s)
	case **string:
		*d = &s
	case **int64:
		v, e := strconv.ParseInt(s, 10, 64)
		*d, err = &v, e
	case **uint64:
		v, e := strconv.ParseUint(s, 10, 64)
		*d, err = &v, e
	case **float64:
		v, e := strconv.ParseFloat(s, 64)
		*d, err = &v, e
	case **time.Time:
		v, e := ParseDateTime(s)
		*d, err = &v, e
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return err
}

// DateTimeLayout is how both backends render a DateTime cell (in UTC).
const DateTimeLayout = "2006-01-02 15:04:05"

// ParseDateTime reads a DateTime cell: text in UTC or a Unix timestamp.
func ParseDateTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.ParseInLocation(DateTimeLayout, s, time.UTC)
}
