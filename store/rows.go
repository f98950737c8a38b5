package store

import (
	"strconv"
	"time"
)

// DateTimeLayout is how both backends render a DateTime cell (in UTC).
const DateTimeLayout = "2006-01-02 15:04:05"

// ParseDateTime reads a DateTime cell: text in UTC or a Unix timestamp.
func ParseDateTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.ParseInLocation(DateTimeLayout, s, time.UTC)
}
