package reports_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/nipa-gpu/gpumeter/reports"
)

// readNumber reads a cell as the number stored there (not its formatted text).
func readNumber(t *testing.T, f *excelize.File, sheet, cell string) float64 {
	t.Helper()
	raw, err := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	typ, _ := f.GetCellType(sheet, cell)
	if typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Fatalf("%s!%s holds text %q, not a number", sheet, cell, raw)
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		t.Fatalf("%s!%s = %q: %v", sheet, cell, raw, err)
	}
	return v
}

// The workbook's figures equal the JSON's, to the unit: read back from the
// file and compared with the JSON of the same ledger.
func TestWorkbookReadsBackAsTheJSON(t *testing.T) {
	d := testLedger()
	rep := reports.JSON(d)
	for _, lang := range []string{"ko", "en"} {
		var buf bytes.Buffer
		config := strings.Repeat("a: line\n", 200) // longer than any one row may be tall
		if err := reports.WriteWorkbook(&buf, d, reports.WorkbookOptions{Lang: lang, Version: "test", Config: config}); err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		sheets := f.GetSheetList()
		if len(sheets) != 11 {
			t.Fatalf("%s: sheets %v", lang, sheets)
		}
		// The energy sheet carries the JSON's kWh; long sheets repeat their
		// header rows on every printed page.
		energySheet := sheets[5]
		energyRows, _ := f.GetRows(energySheet, excelize.Options{RawCellValue: true})
		found := false
		for _, r := range energyRows {
			if len(r) > 2 && r[0] == "nhn" && (r[1] == "정부" || r[1] == "Government") && r[2] == "1.001" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the energy sheet lacks nhn's government public_active 1.001 kWh: %v", lang, energyRows)
		}
		attrRows, _ := f.GetRows(sheets[6], excelize.Options{RawCellValue: true})
		found = false
		for _, r := range attrRows {
			if len(r) > 5 && r[0] == "nhn" && r[1] == "1" && r[2] == "0.167" && r[5] == "1.834" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the attribution sheet lacks nhn's 1 / 0.167 / … / 1.834 GPU-hours: %v", lang, attrRows)
		}
		titled, filtered := map[string]string{}, map[string]string{}
		for _, dn := range f.GetDefinedName() {
			switch dn.Name {
			case "_xlnm.Print_Titles":
				titled[dn.Scope] = dn.RefersTo
			case "_xlnm._FilterDatabase":
				filtered[dn.Scope] = dn.RefersTo
			}
		}
		for _, sh := range []string{sheets[1], sheets[9]} { // daily, GPU detail
			if titled[sh] != "'"+sh+"'!$1:$1" {
				t.Errorf("%s: sheet %s prints titles %q", lang, sh, titled[sh])
			}
		}
		// The streamed GPU sheet filters its whole table: a header and a
		// row per GPU and share.
		gpuSheet := sheets[9]
		if want := fmt.Sprintf("'%s'!$A$1:$N$%d", gpuSheet, len(d.GPUs)+1); filtered[gpuSheet] != want {
			t.Errorf("%s: sheet %s filters %q, want %q", lang, gpuSheet, filtered[gpuSheet], want)
		}
		summary := sheets[0]
		rows, _ := f.GetRows(summary)
		find := func(provider, share string) int {
			for i, r := range rows {
				if len(r) > 1 && r[0] == provider && r[1] == share {
					return i + 1
				}
			}
			t.Fatalf("%s: no summary row for %s %s", lang, provider, share)
			return 0
		}
		gov, priv, total := "정부", "민간", "합계"
		if lang == "en" {
			gov, priv, total = "Government", "Private", "Total"
		}
		col := func(c int, row int) string { s, _ := excelize.CoordinatesToCellName(c, row); return s }
		for _, p := range rep.Providers {
			for _, sh := range []struct {
				name string
				gpus int
				cap  float64
				c    reports.Classes
			}{{gov, p.GPUs.Government, p.CapacityGPUHours.Government, p.Hours.Government},
				{priv, p.GPUs.Private, p.CapacityGPUHours.Private, p.Hours.Private}} {
				r := find(p.Provider, sh.name)
				want := []float64{float64(sh.gpus), sh.cap, sh.c.PublicActive, sh.c.PublicIdle, sh.c.ProviderActive,
					sh.c.ProviderIdle, sh.c.UnallocatedActive, sh.c.UnallocatedIdle, sh.c.NoData}
				for i, w := range want {
					if got := readNumber(t, f, summary, col(3+i, r)); got != w {
						t.Errorf("%s %s %s column %d: %v, JSON %v", lang, p.Provider, sh.name, 3+i, got, w)
					}
				}
			}
			r := find(p.Provider, total)
			capTotal := readNumber(t, f, summary, col(4, r))
			if fmt.Sprintf("%.3f", capTotal) != fmt.Sprintf("%.3f", p.CapacityGPUHours.Government+p.CapacityGPUHours.Private) {
				t.Errorf("%s total capacity %v", p.Provider, capTotal)
			}
			// The provider table: borrowed, lent, private used, peak, charges.
			var pr int
			for i, row := range rows {
				if len(row) > 1 && row[0] == p.Provider && i+1 > r && pr == 0 && len(row) == 7 {
					pr = i + 1
				}
			}
			var krw int64
			for _, c := range p.ChargesKRW {
				krw += c.KRW
			}
			for i, w := range []float64{p.BorrowedGPUHours, p.LentGPUHours, p.PrivateUsedGPUHours, p.PeakProviderGPUs, float64(krw), float64(len(p.Violations))} {
				if got := readNumber(t, f, summary, col(2+i, pr)); got != w {
					t.Errorf("%s %s provider figure %d: %v, JSON %v", lang, p.Provider, i, got, w)
				}
			}
		}
		// Every GPU row streamed into the detail sheet, seconds summing to capacity.
		gpuRows, _ := f.GetRows(sheets[9])
		if len(gpuRows) != len(d.GPUs)+1 {
			t.Errorf("GPU sheet has %d rows for %d GPUs", len(gpuRows)-1, len(d.GPUs))
		}
	}
}
