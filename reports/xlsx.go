package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ledger"
)

// Workbook options.
type WorkbookOptions struct {
	Lang     string // ko (default) or en
	Version  string // gpumeter's version, for the definitions sheet
	Config   string // the configuration as YAML, for the definitions sheet
	Provider string // "" for NIPA's workbook
	Changes  []Change
	Previous time.Time // previous issue, zero for a first one
}

// WriteWorkbook writes the ledger as an Excel workbook for people: the same
// figures as its JSON (numbers as numbers, to the unit), laid out by sheet.
func WriteWorkbook(out io.Writer, l *ledger.Ledger, o WorkbookOptions) error {
	rep := JSON(l)
	w := &workbook{f: excelize.NewFile(), lang: o.Lang, rep: rep, ledger: l, o: o, printTitles: map[string]int{}}
	defer w.f.Close()
	if err := w.styles(); err != nil {
		return err
	}
	for _, step := range []func() error{w.summary, w.daily, w.trend, w.projects, w.shares, w.energy, w.attribution, w.idle, w.quality, w.gpus, w.changes, w.definitions} {
		if err := step(); err != nil {
			return err
		}
	}
	// Print setup last: filters rewrite the sheet properties it lives in.
	for _, sheet := range w.f.GetSheetList() {
		if sheet == w.streamed {
			continue
		}
		if err := w.pageSetup(sheet); err != nil {
			return err
		}
	}
	// Long sheets repeat their header on every printed page.
	for sheet, row := range w.printTitles {
		if err := w.f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: fmt.Sprintf("'%s'!$1:$%d", sheet, row), Scope: sheet}); err != nil {
			return err
		}
	}
	if err := w.f.SetDocProps(&excelize.DocProperties{Title: w.t("title") + " " + rep.Month, Creator: "gpumeter " + o.Version}); err != nil {
		return err
	}
	return w.f.Write(out)
}

type workbook struct {
	f      *excelize.File
	lang   string
	rep    *Report        // the figures, rounded as the JSON has them
	ledger *ledger.Ledger // the detail beyond the JSON: days, GPUs, names
	o      WorkbookOptions
	s      map[string]int // style ids
	// streamed is the sheet written with a StreamWriter, whose settings
	// cannot change once its rows are flushed.
	streamed string
	// printTitles are the rows each sheet repeats atop every printed page:
	// down to its main table's header.
	printTitles map[string]int
	sheets      int // made so far
}

const font = "NanumGothic" // renders Hangul; Excel substitutes a Korean font where it is absent

func (w *workbook) styles() error {
	base := &excelize.Font{Family: font, Size: 10}
	border := []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}}
	specs := map[string]*excelize.Style{
		"text":   {Font: base},
		"title":  {Font: &excelize.Font{Family: font, Size: 14, Bold: true}},
		"header": {Font: &excelize.Font{Family: font, Size: 10, Bold: true}, Fill: excelize.Fill{Type: "pattern", Color: []string{"DDE4EE"}, Pattern: 1}, Border: border, Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}},
		"dec3":   {Font: base, CustomNumFmt: ptr("#,##0.000")},
		"int":    {Font: base, NumFmt: 3}, // #,##0
		"krw":    {Font: base, CustomNumFmt: ptr(`"₩"#,##0`)},
		"pct":    {Font: base, NumFmt: 10}, // 0.00%
		"bold":   {Font: &excelize.Font{Family: font, Size: 10, Bold: true}, Alignment: &excelize.Alignment{Vertical: "top"}},
		"boldh":  {Font: &excelize.Font{Family: font, Size: 10, Bold: true}, CustomNumFmt: ptr("#,##0.000")},
		"boldk":  {Font: &excelize.Font{Family: font, Size: 10, Bold: true}, CustomNumFmt: ptr(`"₩"#,##0`)},
		"wrap":   {Font: base, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}},
	}
	w.s = map[string]int{}
	for name, spec := range specs {
		id, err := w.f.NewStyle(spec)
		if err != nil {
			return fmt.Errorf("workbook style %s: %w", name, err)
		}
		w.s[name] = id
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// cell is one value with its style.
type cell struct {
	v     any
	style string
}

func txt(s string) cell           { return cell{s, "text"} }
func dec3(x float64) cell         { return cell{x, "dec3"} } // GPU-hours, kWh, GPUs: as the JSON rounds them
func num(n int) cell              { return cell{n, "int"} }
func won(n int64) cell            { return cell{n, "krw"} }
func frac(pct float64) cell       { return cell{pct / 100, "pct"} }
func styled(v any, s string) cell { return cell{v, s} }

// table writes a header and rows at the top left of a new sheet, freezes
// the header, adds a filter and sizes the columns to fit.
type table struct {
	sheet   string
	title   string
	header  []string
	rows    [][]cell
	startAt int  // first row (1-based)
	filter  bool // freeze the header and add a filter (the sheet's main table)
}

func (w *workbook) newSheet(key string) (string, error) {
	name := w.t(key)
	// The first sheet takes the place of the new file's Sheet1, the active
	// one: deleting Sheet1 or choosing the active sheet once all are
	// written makes excelize read every sheet back, the streamed one too.
	if w.sheets++; w.sheets == 1 {
		return name, w.f.SetSheetName(w.f.GetSheetName(0), name)
	}
	_, err := w.f.NewSheet(name)
	return name, err
}

// pageSetup prints a sheet on landscape A4, all columns on one page width,
// as many pages down as needed.
func (w *workbook) pageSetup(sheet string) error {
	landscape, one, zero := "landscape", 1, 0
	if err := w.f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &landscape, Size: ptr(9), FitToWidth: &one, FitToHeight: &zero}); err != nil {
		return err
	}
	return w.f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: ptr(true)})
}

// writeTable writes t from row t.startAt (1-based) and returns the next free row.
func (w *workbook) writeTable(t *table) (int, error) {
	r := t.startAt
	if t.title != "" {
		if err := w.set(t.sheet, 1, r, styled(t.title, "title")); err != nil {
			return 0, err
		}
		r += 2
	}
	headerRow := r
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		if err := w.set(t.sheet, i+1, r, styled(h, "header")); err != nil {
			return 0, err
		}
		widths[i] = headerWidth(h)
	}
	// Headers wrap onto two lines, so columns need only be as wide as their numbers.
	if err := w.f.SetRowHeight(t.sheet, headerRow, 30); err != nil {
		return 0, err
	}
	for _, row := range t.rows {
		r++
		for i, c := range row {
			if err := w.set(t.sheet, i+1, r, c); err != nil {
				return 0, err
			}
			if i < len(widths) {
				widths[i] = max(widths[i], valueWidth(c))
			}
		}
	}
	for i, wd := range widths {
		col, _ := excelize.ColumnNumberToName(i + 1)
		prev, _ := w.f.GetColWidth(t.sheet, col)
		width := float64(min(wd+2, 70))
		if width > prev {
			if err := w.f.SetColWidth(t.sheet, col, col, width); err != nil {
				return 0, err
			}
		}
	}
	last, _ := excelize.CoordinatesToCellName(len(t.header), max(r, headerRow+1))
	first, _ := excelize.CoordinatesToCellName(1, headerRow)
	if t.filter {
		w.printTitles[t.sheet] = headerRow
	}
	if t.filter && len(t.rows) > 0 {
		if err := w.f.AutoFilter(t.sheet, first+":"+last, nil); err != nil {
			return 0, err
		}
		top, _ := excelize.CoordinatesToCellName(1, headerRow+1)
		if err := w.f.SetPanes(t.sheet, &excelize.Panes{Freeze: true, YSplit: headerRow, TopLeftCell: top, ActivePane: "bottomLeft"}); err != nil {
			return 0, err
		}
	}
	return r + 2, nil
}

func (w *workbook) set(sheet string, col, row int, c cell) error {
	name, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		return err
	}
	if err := w.f.SetCellValue(sheet, name, c.v); err != nil {
		return err
	}
	return w.f.SetCellStyle(sheet, name, name, w.s[c.style])
}

// headerWidth is the width a header needs on two lines: half of it, or its
// longest word, whichever is more.
func headerWidth(h string) int {
	longest := 0
	for _, word := range strings.Fields(h) {
		longest = max(longest, displayWidth(word))
	}
	return max(longest, (displayWidth(h)+1)/2, 6)
}

// displayWidth counts Hangul and other wide characters as two columns.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x1100 && utf8.RuneLen(r) >= 3 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func valueWidth(c cell) int {
	switch v := c.v.(type) {
	case string:
		return displayWidth(v)
	case float64:
		if c.style == "pct" {
			return 8
		}
		return len(fmt.Sprintf("%.3f", v)) + len(fmt.Sprintf("%.0f", v))/3
	case int, int64:
		s := fmt.Sprint(v)
		return len(s) + len(s)/3 + 2
	}
	return 10
}

func (w *workbook) shareName(share gpumeter.Share) string { return w.t(string(share)) }

// classCells are the seven classes of a share, in hours.
func classCells(c Classes) []cell {
	return []cell{dec3(c.PublicActive), dec3(c.PublicIdle), dec3(c.ProviderActive), dec3(c.ProviderIdle),
		dec3(c.UnallocatedActive), dec3(c.UnallocatedIdle), dec3(c.NoData)}
}

func (w *workbook) classHeaders() []string {
	out := make([]string, len(gpumeter.Classes))
	for i, c := range gpumeter.Classes {
		out[i] = w.t(string(c))
	}
	return out
}

func sumKRW(p Provider) int64 {
	var n int64
	for _, c := range p.ChargesKRW {
		n += c.KRW
	}
	return n
}

func sortedDays(rows []ledger.Day) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if !seen[r.Day] {
			seen[r.Day] = true
			out = append(out, r.Day)
		}
	}
	sort.Strings(out)
	return out
}
