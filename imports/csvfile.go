// Package imports reads the input files of SPEC §3 (inventory, projects,
// allocations, samples), validates each whole before anything is written, and
// writes it so that re-importing the same file changes nothing and a later
// import replaces the earlier rows of the same keys (samples excepted: a
// stored sample stays, SPEC §9).
package imports

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// MaxReported caps the bad lines listed in one error; the count of the rest is given.
const MaxReported = 1000

// Problem is one bad line of an input file.
type Problem struct {
	Line   int
	Reason string
}

// ValidationError rejects a whole file: nothing of it was stored.
type ValidationError struct {
	File     string
	Problems []Problem
	Total    int // bad lines, including those beyond MaxReported
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	noun := "lines"
	if e.Total == 1 {
		noun = "line"
	}
	fmt.Fprintf(&b, "%s: %d bad %s, nothing imported", e.File, e.Total, noun)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n%s:%d: %s", e.File, p.Line, p.Reason)
	}
	if e.Total > len(e.Problems) {
		fmt.Fprintf(&b, "\n… and %d more bad lines", e.Total-len(e.Problems))
	}
	return b.String()
}

type problems struct {
	file  string
	list  []Problem
	lines map[int]bool
	total int
}

// add records a problem; a line counts once however many problems it has.
func (p *problems) add(line int, format string, args ...any) {
	if p.lines == nil {
		p.lines = map[int]bool{}
	}
	if !p.lines[line] {
		p.lines[line] = true
		p.total++
	}
	if len(p.list) < MaxReported {
		p.list = append(p.list, Problem{Line: line, Reason: fmt.Sprintf(format, args...)})
	}
}

func (p *problems) err() error {
	if p.total == 0 {
		return nil
	}
	return &ValidationError{File: p.file, Problems: p.list, Total: p.total}
}

// csvFile reads a CSV input with a header naming exactly the expected columns,
// in any order, and hashes every byte it reads. Lines are split at commas
// here while none holds a quote, which real exports seldom do and which is
// several times faster for files of millions of lines; from the first quote
// on, encoding/csv reads the rest, as quoted fields may span lines.
type csvFile struct {
	name    string
	f       *os.File
	hash    hash.Hash
	br      *bufio.Reader
	r       *csv.Reader // from the first quote on
	skipped int         // lines read from br before r took over
	lineNo  int         // lines read from br
	buf     []byte      // a line longer than br's buffer
	fields  []string
	index   map[string]int
	at      []int    // position in the record of each expected column, in their order
	columns []string // the header's names, by position
	record  []string
	line    int
}

func openCSV(path string, columns []string) (*csvFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c := &csvFile{name: filepath.Base(path), f: f, hash: sha256.New()}
	c.br = bufio.NewReaderSize(io.TeeReader(f, c.hash), 1<<20)
	header, _, err := c.read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file, want header %s", c.name, strings.Join(columns, ","))
		}
		return nil, fmt.Errorf("%s:1: %v", c.name, err)
	}
	c.index = map[string]int{}
	var bad []string
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		c.columns = append(c.columns, h)
		if _, dup := c.index[h]; dup {
			bad = append(bad, fmt.Sprintf("column %q twice", h))
		}
		c.index[h] = i
	}
	for _, col := range columns {
		if _, ok := c.index[col]; !ok {
			bad = append(bad, fmt.Sprintf("missing column %q", col))
		}
	}
	for h := range c.index {
		if !slices.Contains(columns, h) {
			bad = append(bad, fmt.Sprintf("unknown column %q", h))
		}
	}
	if len(bad) > 0 {
		f.Close()
		return nil, fmt.Errorf("%s:1: bad header (%s); want %s", c.name, strings.Join(bad, ", "), strings.Join(columns, ","))
	}
	for _, col := range columns {
		c.at = append(c.at, c.index[col])
	}
	return c, nil
}

// read returns the next record and the line it starts on; io.EOF at the
// end. Like encoding/csv it skips empty lines and takes "\r\n" for "\n".
// The record is valid until the next read.
func (c *csvFile) read() ([]string, int, error) {
	for c.r == nil {
		line, err := c.readLine()
		if len(line) == 0 && err != nil {
			return nil, c.lineNo, err
		}
		c.lineNo++
		if len(line) == 0 {
			continue
		}
		if bytes.IndexByte(line, '"') < 0 {
			s := string(line)
			c.fields = c.fields[:0]
			for {
				i := strings.IndexByte(s, ',')
				if i < 0 {
					break
				}
				c.fields, s = append(c.fields, s[:i]), s[i+1:]
			}
			return append(c.fields, s), c.lineNo, nil
		}
		rest := append(append([]byte(nil), line...), '\n')
		c.r = csv.NewReader(io.MultiReader(bytes.NewReader(rest), c.br))
		c.r.ReuseRecord = true
		c.r.FieldsPerRecord = -1
		c.skipped = c.lineNo - 1
	}
	rec, err := c.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine + c.skipped, pe.Err
		}
		return nil, 0, err
	}
	line, _ := c.r.FieldPos(0)
	return rec, line + c.skipped, nil
}

// readLine reads one line without its line ending; what is left at the end
// comes with io.EOF.
func (c *csvFile) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		c.buf = append(c.buf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = c.br.ReadSlice('\n')
			c.buf = append(c.buf, line...)
		}
		line = c.buf
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line, err
}

// records iterates over the file's records after the header, yielding each
// one's line number while it is the current record (get reads it). A line
// the CSV reader cannot parse is added to bad and skipped: reading goes on,
// so that one pass reports every bad line.
func (c *csvFile) records(bad *problems) iter.Seq[int] {
	return func(yield func(int) bool) {
		for {
			more, problem := c.next()
			if !more {
				return
			}
			if problem != "" {
				bad.add(c.line, "%s", problem)
				continue
			}
			if !yield(c.line) {
				return
			}
		}
	}
}

// next reads the next record; false at the end. A line the CSV reader cannot
// parse is returned as a problem, and reading goes on with the next one.
func (c *csvFile) next() (ok bool, problem string) {
	rec, line, err := c.read()
	if errors.Is(err, io.EOF) {
		return false, ""
	}
	if err != nil {
		if line == 0 {
			line = c.line + 1
		}
		c.line = line
		return true, err.Error()
	}
	c.line = line
	if len(rec) != len(c.columns) {
		return true, fmt.Sprintf("%d fields, want %d", len(rec), len(c.columns))
	}
	for i, f := range rec {
		if problem := checkField(c.columns[i], f); problem != "" {
			return true, problem
		}
	}
	c.record = rec
	return true, ""
}

// Field lengths: ids, names of places and labels fit in maxField bytes, a
// project's name in maxNameField; anything longer is a mistake, not data.
const (
	maxField     = 256
	maxNameField = 1024
)

// checkField says what is wrong with a field, or "": invalid UTF-8, a control
// character (a line ending inside a quoted field included: SPEC §3), or a
// length no real value has.
func checkField(column, f string) string {
	if fault := gpumeter.TextFault(f); fault != "" {
		return column + " " + fault
	}
	limit := maxField
	if column == "name" {
		limit = maxNameField
	}
	if len(f) > limit {
		return fmt.Sprintf("%s is %d bytes long, more than %d", column, len(f), limit)
	}
	return ""
}

// get returns a column of the current record, trimmed.
func (c *csvFile) get(column string) string {
	return strings.TrimSpace(c.record[c.index[column]])
}

// field returns the k-th expected column of the current record, trimmed:
// get without looking the name up, for files of millions of lines.
func (c *csvFile) field(k int) string {
	return strings.TrimSpace(c.record[c.at[k]])
}

func (c *csvFile) sum() string { return hex.EncodeToString(c.hash.Sum(nil)) }

func (c *csvFile) Close() error { return c.f.Close() }

// Times the store holds: DateTime runs from 1970 to early 2106.
var (
	firstTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	lastTime  = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
)

// parseTime reads an RFC 3339 timestamp with an offset, truncated to the
// second, within the years the store holds.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%s %q is not an RFC 3339 time with an offset", field, s)
	}
	t = t.Truncate(time.Second).UTC()
	if t.Before(firstTime) || t.After(lastTime) {
		return t, fmt.Errorf("%s %q is outside 1970–2105, the years the store holds", field, s)
	}
	return t, nil
}

func parseOptionalTime(field, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTime(field, s)
	return &t, err
}
