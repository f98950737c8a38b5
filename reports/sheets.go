package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ledger"
)

func (w *workbook) summary() error {
	sheet, err := w.newSheet("sheet.summary")
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s — %s", w.t("title"), w.rep.Month)
	if w.o.Provider != "" {
		title += " (" + w.o.Provider + ")"
	}
	loc := w.ledger.From.Location()
	period := fmt.Sprintf("%s: %s – %s (%s)", w.t("period"), w.ledger.From.Format("2006-01-02 15:04"),
		w.ledger.To.In(loc).Format("2006-01-02 15:04"), w.rep.Timezone)
	if err := w.set(sheet, 1, 1, styled(title, "title")); err != nil {
		return err
	}
	if err := w.set(sheet, 1, 2, txt(period)); err != nil {
		return err
	}
	header := append([]string{w.t("provider"), w.t("share"), w.t("gpus"), w.t("capacity")}, w.classHeaders()...)
	header = append(header, w.t("utilization"), w.t("idle_pct"), w.t("coverage"))
	var rows [][]cell
	for _, p := range w.rep.Providers {
		shares := []struct {
			key  gpumeter.Share
			gpus int
			cap  float64
			c    Classes
		}{
			{gpumeter.ShareGovernment, p.GPUs.Government, p.CapacityGPUHours.Government, p.Hours.Government},
			{gpumeter.SharePrivate, p.GPUs.Private, p.CapacityGPUHours.Private, p.Hours.Private},
		}
		var total Classes
		for _, sh := range shares {
			rows = append(rows, append(append([]cell{txt(p.Provider), txt(w.shareName(sh.key)), num(sh.gpus), dec3(sh.cap)},
				classCells(sh.c)...), ratios(sh.c, sh.cap)...))
			total = addClasses(total, sh.c)
		}
		capTotal := gpumeter.Round3(p.CapacityGPUHours.Government + p.CapacityGPUHours.Private)
		row := append([]cell{styled(p.Provider, "bold"), styled(w.t("total"), "bold"), num(p.GPUs.Government + p.GPUs.Private),
			styled(capTotal, "boldh")}, classCells(total)...)
		rows = append(rows, append(row, ratios(total, capTotal)...))
	}
	next, err := w.writeTable(&table{sheet: sheet, header: header, rows: rows, startAt: 4, filter: true})
	if err != nil {
		return err
	}
	header = []string{w.t("provider"), w.t("borrowed"), w.t("lent"), w.t("private_used"), w.t("peak"), w.t("charges"), w.t("violations")}
	rows = nil
	for _, p := range w.rep.Providers {
		rows = append(rows, []cell{txt(p.Provider), dec3(p.BorrowedGPUHours), dec3(p.LentGPUHours), dec3(p.PrivateUsedGPUHours),
			dec3(p.PeakProviderGPUs), won(sumKRW(p)), num(len(p.Violations))})
	}
	next, err = w.writeTable(&table{sheet: sheet, header: header, rows: rows, startAt: next})
	if err != nil {
		return err
	}
	header = []string{w.t("provider"), w.t("class"), w.t("model"), w.t("gpu_hours"), w.t("krw"), w.t("billed_to")}
	rows = nil
	for _, p := range w.rep.Providers {
		for _, c := range p.ChargesKRW {
			rows = append(rows, []cell{txt(p.Provider), txt(string(c.Class)), txt(c.Model), dec3(c.GPUHours), won(c.KRW), txt(string(c.BilledTo))})
		}
	}
	if len(rows) == 0 {
		rows = [][]cell{{txt(w.t("none"))}}
	}
	_, err = w.writeTable(&table{sheet: sheet, header: header, rows: rows, startAt: next})
	return err
}

// ratios are utilization, idle share and coverage of a share's classes.
func ratios(c Classes, capacity float64) []cell {
	if capacity == 0 {
		return []cell{frac(0), frac(0), frac(0)}
	}
	active := c.PublicActive + c.ProviderActive + c.UnallocatedActive
	idle := c.PublicIdle + c.ProviderIdle + c.UnallocatedIdle
	return []cell{frac(100 * active / capacity), frac(100 * idle / capacity), frac(100 * (active + idle) / capacity)}
}

func addClasses(a, b Classes) Classes {
	return Classes{gpumeter.Round3(a.PublicActive + b.PublicActive), gpumeter.Round3(a.PublicIdle + b.PublicIdle),
		gpumeter.Round3(a.ProviderActive + b.ProviderActive), gpumeter.Round3(a.ProviderIdle + b.ProviderIdle),
		gpumeter.Round3(a.UnallocatedActive + b.UnallocatedActive), gpumeter.Round3(a.UnallocatedIdle + b.UnallocatedIdle), gpumeter.Round3(a.NoData + b.NoData)}
}

func (w *workbook) daily() error {
	sheet, err := w.newSheet("sheet.daily")
	if err != nil {
		return err
	}
	header := append([]string{w.t("day"), w.t("provider"), w.t("share"), w.t("capacity")}, w.classHeaders()...)
	var rows [][]cell
	for _, r := range w.ledger.Daily {
		c := ClassHours(r.Seconds)
		rows = append(rows, append([]cell{txt(r.Day), txt(r.Provider), txt(w.shareName(r.Share)), dec3(gpumeter.Hours(r.Seconds.Total()))}, classCells(c)...))
	}
	_, err = w.writeTable(&table{sheet: sheet, header: header, rows: rows, startAt: 1, filter: true})
	return err
}

// trend shows active GPU-hours a day per provider and share, and charts them.
func (w *workbook) trend() error {
	sheet, err := w.newSheet("sheet.trend")
	if err != nil {
		return err
	}
	_, err = w.dailyPivot(sheet, w.t("chart_daily"), func(d ledger.Day) float64 { return gpumeter.Hours(d.Seconds.Active()) })
	return err
}

// dailyPivot writes a figure of each day (rows) per provider and share
// (columns) from the sheet's first row, charts it beside, and returns the
// next free row.
func (w *workbook) dailyPivot(sheet, title string, figure func(ledger.Day) float64) (int, error) {
	days := sortedDays(w.ledger.Daily)
	type series struct {
		provider string
		share    gpumeter.Share
	}
	var cols []series
	values := map[series]map[string]float64{}
	for _, r := range w.ledger.Daily {
		k := series{r.Provider, r.Share}
		if values[k] == nil {
			cols = append(cols, k)
			values[k] = map[string]float64{}
		}
		values[k][r.Day] = figure(r)
	}
	header := []string{w.t("day")}
	for _, k := range cols {
		header = append(header, k.provider+" "+w.shareName(k.share))
	}
	var pivot [][]cell
	for _, day := range days {
		row := []cell{txt(day[5:])} // MM-DD: the month is in the title
		for _, k := range cols {
			row = append(row, dec3(values[k][day]))
		}
		pivot = append(pivot, row)
	}
	next, err := w.writeTable(&table{sheet: sheet, header: header, rows: pivot, startAt: 1})
	if err != nil || len(days) == 0 || len(cols) == 0 {
		return next, err
	}
	return next, w.lineChart(sheet, 1, len(cols), len(days), len(header)+2, title)
}

// lineChart charts a pivot of days (rows 2.., column first) by series (the
// columns after it, named in row 1), anchored at column anchorCol.
func (w *workbook) lineChart(sheet string, first, series, days, anchorCol int, title string) error {
	dayCol, _ := excelize.ColumnNumberToName(first)
	var chartSeries []excelize.ChartSeries
	for i := range series {
		col, _ := excelize.ColumnNumberToName(first + 1 + i)
		chartSeries = append(chartSeries, excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$1", sheet, col),
			Categories: fmt.Sprintf("'%s'!$%s$2:$%s$%d", sheet, dayCol, dayCol, days+1),
			Values:     fmt.Sprintf("'%s'!$%s$2:$%s$%d", sheet, col, col, days+1),
			Marker:     excelize.ChartMarker{Symbol: "none"},
			Line:       excelize.LineOptions{Width: 1.75},
		})
	}
	anchor, _ := excelize.CoordinatesToCellName(anchorCol, 2)
	return w.f.AddChart(sheet, anchor, &excelize.Chart{
		Type:      excelize.Line,
		Series:    chartSeries,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title, Font: &excelize.Font{Family: font, Size: 12, Bold: true}}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 820, Height: 460},
		XAxis:     excelize.ChartAxis{Font: excelize.Font{Family: font, Size: 9}},
		YAxis:     excelize.ChartAxis{Font: excelize.Font{Family: font, Size: 9}, NumFmt: excelize.ChartNumFmt{CustomNumFmt: "#,##0"}},
	})
}

// attribution shows the attribution audit: covered GPU-hours by what the
// namespace seen says, per provider, and the listed mismatch runs.
func (w *workbook) attribution() error {
	sheet, err := w.newSheet("sheet.attribution")
	if err != nil {
		return err
	}
	var rows [][]cell
	for _, p := range w.rep.Providers {
		a := p.AttributionGPUHours
		rows = append(rows, []cell{txt(p.Provider), dec3(a.Matched), dec3(a.Foreign), dec3(a.Unknown), dec3(a.Unlabeled),
			dec3(gpumeter.Round3(a.Matched + a.Foreign + a.Unknown + a.Unlabeled))})
	}
	next, err := w.writeTable(&table{sheet: sheet, title: w.t("attribution_hours"), header: []string{w.t("provider"), w.t("matched"),
		w.t("foreign"), w.t("unknown"), w.t("unlabeled"), w.t("covered")}, rows: rows, startAt: 1})
	if err != nil {
		return err
	}
	rows = nil
	for _, p := range w.rep.Providers {
		for _, m := range p.AttributionMismatches {
			rows = append(rows, []cell{txt(p.Provider), txt(m.GPUUUID), txt(m.Node), txt(m.HolderProject), txt(m.Namespace), txt(m.SeenProject),
				txt(w.local(m.From)), txt(w.local(m.To)), dec3(m.GPUHours)})
		}
	}
	if len(rows) == 0 {
		rows = [][]cell{{txt(w.t("none"))}}
	}
	_, err = w.writeTable(&table{sheet: sheet, title: w.t("mismatches"), header: []string{w.t("provider"), w.t("gpu"), w.t("node"),
		w.t("holder"), w.t("namespace"), w.t("seen_project"), w.t("from"), w.t("to"), w.t("gpu_hours")}, rows: rows, startAt: next, filter: true})
	return err
}

// energy shows the energy of the period: by provider, share and class, what
// came across gaps, the energy charges, per project, and a day by day chart.
func (w *workbook) energy() error {
	sheet, err := w.newSheet("sheet.energy")
	if err != nil {
		return err
	}
	// The daily pivot and its chart come first, as on the trend sheet.
	next, err := w.dailyPivot(sheet, w.t("chart_energy"), func(d ledger.Day) float64 { return gpumeter.KWh(d.Energy) })
	if err != nil {
		return err
	}
	header := append([]string{w.t("provider"), w.t("share")}, w.classHeaders()...)
	header = append(header, w.t("total_kwh"))
	var rows [][]cell
	for _, p := range w.rep.Providers {
		for _, sh := range []struct {
			share gpumeter.Share
			c     Classes
		}{{gpumeter.ShareGovernment, p.EnergyKWh.Government}, {gpumeter.SharePrivate, p.EnergyKWh.Private}} {
			total := sh.c.PublicActive + sh.c.PublicIdle + sh.c.ProviderActive + sh.c.ProviderIdle + sh.c.UnallocatedActive + sh.c.UnallocatedIdle + sh.c.NoData
			rows = append(rows, append(append([]cell{txt(p.Provider), txt(w.shareName(sh.share))}, classCells(sh.c)...), dec3(gpumeter.Round3(total))))
		}
	}
	if next, err = w.writeTable(&table{sheet: sheet, title: w.t("energy_by_class"), header: header, rows: rows, startAt: next}); err != nil {
		return err
	}
	rows = nil
	for _, p := range w.rep.Providers {
		for _, c := range p.EnergyChargesKRW {
			rows = append(rows, []cell{txt(p.Provider), txt(c.Model), dec3(c.KWh), won(c.KRW), txt(w.t(string(c.BilledTo)))})
		}
		if len(p.EnergyChargesKRW) == 0 {
			rows = append(rows, []cell{txt(p.Provider), txt(""), txt(""), txt(""), txt("")})
		}
	}
	unattributed := [][]cell{}
	for _, p := range w.rep.Providers {
		unattributed = append(unattributed, []cell{txt(p.Provider), dec3(p.EnergyUnattributedKWh)})
	}
	if next, err = w.writeTable(&table{sheet: sheet, title: w.t("energy_unattributed"), header: []string{w.t("provider"), w.t("kwh")},
		rows: unattributed, startAt: next}); err != nil {
		return err
	}
	if next, err = w.writeTable(&table{sheet: sheet, title: w.t("energy_charges"), header: []string{w.t("provider"), w.t("model"),
		w.t("kwh"), w.t("krw"), w.t("billed_to")}, rows: rows, startAt: next}); err != nil {
		return err
	}
	rows = nil
	for _, p := range w.rep.Projects {
		rows = append(rows, []cell{txt(p.ProjectID), txt(w.ledger.ProjectNames[p.ProjectID]), txt(p.Provider), txt(w.t(string(p.Kind))), dec3(p.EnergyKWh)})
	}
	if len(rows) == 0 {
		rows = [][]cell{{txt(w.t("none"))}}
	}
	_, err = w.writeTable(&table{sheet: sheet, title: w.t("energy_projects"), header: []string{w.t("project"), w.t("project_name"),
		w.t("provider"), w.t("kind"), w.t("kwh")}, rows: rows, startAt: next})
	return err
}

func (w *workbook) projects() error {
	sheet, err := w.newSheet("sheet.projects")
	if err != nil {
		return err
	}
	header := []string{w.t("project"), w.t("project_name"), w.t("kind"), w.t("provider"), w.t("allocated"), w.t("active"),
		w.t(string(gpumeter.NoData)), w.t("utilization")}
	var rows [][]cell
	for _, p := range w.rep.Projects {
		kind := w.t(string(gpumeter.ProjectPublic))
		if p.Kind == gpumeter.ProjectProvider {
			kind = w.t("provider_kind")
		}
		util := 0.0
		if p.AllocatedGPUHours > 0 {
			util = 100 * p.ActiveGPUHours / p.AllocatedGPUHours
		}
		rows = append(rows, []cell{txt(p.ProjectID), txt(w.ledger.ProjectNames[p.ProjectID]), txt(kind), txt(p.Provider),
			dec3(p.AllocatedGPUHours), dec3(p.ActiveGPUHours), dec3(p.NoDataGPUHours), frac(util)})
	}
	_, err = w.writeTable(&table{sheet: sheet, header: header, rows: rows, startAt: 1, filter: true})
	return err
}

func (w *workbook) shares() error {
	sheet, err := w.newSheet("sheet.shares")
	if err != nil {
		return err
	}
	header := []string{w.t("provider"), w.t("item"), w.t("usage"), w.t("limit"), w.t("status")}
	var rows [][]cell
	for _, p := range w.ledger.Providers {
		for _, c := range p.Checks {
			row := []cell{txt(p.ID), txt(w.t(string(c.Item))), dec3(c.Usage), txt(""), txt("")}
			if c.Item == ledger.CheckPrivateShareGPUs {
				row[2] = num(int(c.Usage))
			}
			limit := dec3(c.Limit)
			if c.Item == ledger.CheckPrivateShareGPUs || c.Item == ledger.CheckPeakGPUs {
				limit = num(int(c.Limit)) // a number of GPUs
			}
			switch status := c.Status(); status {
			case ledger.StatusContext:
			case ledger.StatusOver:
				row[3], row[4] = limit, styled(w.t(string(status)), "bold")
			default:
				row[3], row[4] = limit, txt(w.t(string(status)))
			}
			rows = append(rows, row)
		}
	}
	next, err := w.writeTable(&table{sheet: sheet, header: header, rows: rows, startAt: 1, filter: true})
	if err != nil {
		return err
	}
	header = []string{w.t("provider"), w.t("kind"), w.t("gpu"), w.t("node"), w.t("from"), w.t("to"), w.t("gpu_hours")}
	rows = nil
	for _, p := range w.rep.Providers {
		for _, v := range p.Violations {
			rows = append(rows, []cell{txt(p.Provider), txt(w.t(string(v.Kind))), txt(v.GPUUUID), txt(v.Node), txt(w.local(v.From)),
				txt(w.local(v.To)), dec3(v.GPUHours)})
		}
	}
	if len(rows) == 0 {
		rows = [][]cell{{txt(w.t("none"))}}
	}
	_, err = w.writeTable(&table{sheet: sheet, title: w.t("violations"), header: header, rows: rows, startAt: next})
	return err
}

// local shows an RFC 3339 time in the report's zone ("" stays "").
func (w *workbook) local(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return ts
	}
	return t.In(w.ledger.From.Location()).Format("2006-01-02 15:04:05")
}

func (w *workbook) idle() error {
	sheet, err := w.newSheet("sheet.idle")
	if err != nil {
		return err
	}
	header := []string{w.t("recommendation"), w.t("kind"), w.t("provider"), w.t("node"), w.t("gpu"), w.t("project"),
		w.t("since"), w.t("hours"), w.t("active_pct"), w.t("coverage"), w.t("flag")}
	var rows [][]cell
	for _, f := range w.rep.IdleFlags {
		rows = append(rows, []cell{styled(w.t(string(f.Recommendation)), "bold"), txt(string(f.Kind)), txt(f.Provider), txt(f.Node), txt(f.GPUUUID),
			txt(f.ProjectID), txt(w.local(f.Since)), dec3(f.Hours), frac(f.ActivePct), frac(f.CoveragePct), txt(f.FlagID)})
	}
	if len(rows) == 0 {
		rows = [][]cell{{txt(w.t("none"))}}
	}
	next, err := w.writeTable(&table{sheet: sheet, header: header, rows: rows, startAt: 1, filter: true})
	if err != nil {
		return err
	}
	header = []string{w.t("provider"), w.t("flags"), w.t("flagged_idle"), w.t(string(gpumeter.FlagReallocated)),
		w.t(string(gpumeter.FlagDeclined)), w.t("median_to_ack")}
	rows = nil
	for _, p := range w.rep.Providers {
		r := p.IdleReallocation
		median := txt("")
		if r.MedianHoursToAck != nil {
			median = dec3(*r.MedianHoursToAck)
		}
		rows = append(rows, []cell{txt(p.Provider), num(r.Flags), dec3(r.FlaggedIdleGPUHours), num(r.Reallocated), num(r.Declined), median})
	}
	_, err = w.writeTable(&table{sheet: sheet, title: w.t("reallocation"), header: header, rows: rows, startAt: next})
	return err
}

func (w *workbook) quality() error {
	sheet, err := w.newSheet("sheet.quality")
	if err != nil {
		return err
	}
	dq := w.rep.DataQuality
	rows := [][]cell{
		{txt(w.t("coverage")), frac(dq.CoveragePct)},
		{txt(w.t("unregistered")), num(dq.UnregisteredGPUs)},
		{txt(w.t("nodes_without_data")), num(len(dq.NodesWithoutData))},
		{txt(w.t("short_coverage")), num(len(w.ledger.ShortCoverage))},
		{txt(w.t("refused_foreign")), num(int(dq.RefusedSamples.ForeignGPU))},
		{txt(w.t("refused_unknown")), num(int(dq.RefusedSamples.UnknownGPU))},
		{txt(w.t("refused_bad_timestamp")), num(int(dq.RefusedSamples.BadTimestamp))},
		{txt(w.t("refused_too_old")), num(int(dq.RefusedSamples.TooOld))},
		{txt(w.t("refused_too_new")), num(int(dq.RefusedSamples.TooNew))},
		{txt(w.t("refused_conflict")), num(int(dq.RefusedSamples.Conflict))},
	}
	next, err := w.writeTable(&table{sheet: sheet, header: []string{w.t("item"), w.t("value")}, rows: rows, startAt: 1})
	if err != nil {
		return err
	}
	list := func(title string, items []string) error {
		var rows [][]cell
		for _, it := range items {
			rows = append(rows, []cell{txt(it)})
		}
		if len(rows) == 0 {
			rows = [][]cell{{txt(w.t("none"))}}
		}
		next, err = w.writeTable(&table{sheet: sheet, header: []string{title}, rows: rows, startAt: next})
		return err
	}
	if err := list(w.t("nodes_without_data"), dq.NodesWithoutData); err != nil {
		return err
	}
	return list(w.t("short_coverage"), w.ledger.ShortCoverage)
}

// gpus streams one row per GPU and share: 13k rows and more.
func (w *workbook) gpus() error {
	sheet, err := w.newSheet("sheet.gpus")
	if err != nil {
		return err
	}
	// A streamed sheet takes its print setup and filter before its rows:
	// set after them, they make excelize read the whole sheet back.
	if err := w.pageSetup(sheet); err != nil {
		return err
	}
	last, _ := excelize.CoordinatesToCellName(len(w.gpuHeader()), len(w.ledger.GPUs)+1)
	if err := w.f.AutoFilter(sheet, "A1:"+last, nil); err != nil {
		return err
	}
	w.streamed = sheet
	sw, err := w.f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	header := w.gpuHeader()
	for i, h := range header {
		width := float64(max(displayWidth(h), 12) + 3)
		if i == 0 {
			width = 46
		}
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	row := make([]any, len(header))
	for i, h := range header {
		row[i] = excelize.Cell{StyleID: w.s["header"], Value: h}
	}
	w.printTitles[sheet] = 1
	if err := sw.SetRow("A1", row); err != nil {
		return err
	}
	for n, g := range w.ledger.GPUs {
		c := ClassHours(g.Seconds)
		capacity := g.Seconds.Total()
		cov := 0.0
		if capacity > 0 {
			cov = float64(capacity-g.Seconds.NoData) / float64(capacity)
		}
		vals := []cell{txt(g.GPU), txt(g.Provider), txt(g.Node), txt(g.Model), txt(w.shareName(g.Share)), dec3(gpumeter.Hours(capacity))}
		vals = append(vals, classCells(c)...)
		vals = append(vals, cell{cov, "pct"})
		out := make([]any, len(vals))
		for i, v := range vals {
			out[i] = excelize.Cell{StyleID: w.s[v.style], Value: v.v}
		}
		name, _ := excelize.CoordinatesToCellName(1, n+2)
		if err := sw.SetRow(name, out); err != nil {
			return err
		}
	}
	return sw.Flush()
}

func (w *workbook) gpuHeader() []string {
	header := append([]string{w.t("gpu"), w.t("provider"), w.t("node"), w.t("model"), w.t("share"), w.t("capacity")}, w.classHeaders()...)
	return append(header, w.t("coverage"))
}

func (w *workbook) changes() error {
	if w.o.Previous.IsZero() {
		return nil
	}
	sheet, err := w.newSheet("sheet.changes")
	if err != nil {
		return err
	}
	var rows [][]cell
	for _, c := range w.o.Changes {
		rows = append(rows, []cell{txt(c.Path), txt(c.Was), txt(c.Now)})
	}
	if len(rows) == 0 {
		rows = [][]cell{{txt(w.t("none"))}}
	}
	title := fmt.Sprintf("%s: %s", w.t("sheet.changes"), w.o.Previous.In(w.ledger.From.Location()).Format("2006-01-02 15:04"))
	_, err = w.writeTable(&table{sheet: sheet, title: title, header: []string{w.t("figure"), w.t("was"), w.t("now")}, rows: rows, startAt: 1})
	return err
}

func (w *workbook) definitions() error {
	sheet, err := w.newSheet("sheet.definitions")
	if err != nil {
		return err
	}
	const textWidth = 110
	var rows [][]cell
	var lines []int
	for _, d := range definitions {
		name, text := d[0], d[2]
		if w.lang == "en" {
			name, text = d[1], d[3]
		}
		rows = append(rows, []cell{styled(name, "bold"), styled(text, "wrap")})
		lines = append(lines, (displayWidth(text)+textWidth-1)/textWidth)
	}
	next, err := w.writeTable(&table{sheet: sheet, title: w.t("sheet.definitions"), header: []string{w.t("item"), w.t("value")}, rows: rows, startAt: 1})
	if err != nil {
		return err
	}
	if err := w.f.SetColWidth(sheet, "B", "B", textWidth+2); err != nil {
		return err
	}
	// Wrapped cells get the height of their lines: not every spreadsheet
	// program grows rows to fit when it opens a file.
	first := next - len(rows) - 1 // writeTable leaves one blank row after the last
	for i, n := range lines {
		if err := w.f.SetRowHeight(sheet, first+i, float64(max(n, 1))*14); err != nil {
			return err
		}
	}
	meta := [][]cell{
		{txt(w.t("month")), txt(w.rep.Month)},
		{txt("timezone"), txt(w.rep.Timezone)},
		{txt("generated_at"), txt(w.rep.GeneratedAt)},
		{txt("inputs_sha256"), txt(w.rep.InputsSHA256)},
		{txt("gpumeter"), txt(w.o.Version)},
		{txt("activity"), txt(w.ledger.Params.String())},
	}
	next, err = w.writeTable(&table{sheet: sheet, header: []string{w.t("item"), w.t("value")}, rows: meta, startAt: next})
	if err != nil {
		return err
	}
	if w.o.Config == "" {
		return nil
	}
	if err := w.set(sheet, 1, next, styled("config", "bold")); err != nil {
		return err
	}
	// One line of YAML a row: a whole file in one cell outgrows a row's height.
	for i, line := range strings.Split(strings.TrimRight(w.o.Config, "\n"), "\n") {
		if err := w.set(sheet, 2, next+i, txt(line)); err != nil {
			return err
		}
	}
	return nil
}
