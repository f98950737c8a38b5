package server

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ledger"
)

// Charts are SVG drawn here, so that a page needs no script and prints as
// it shows. Every text in them is escaped.

type segment struct {
	key, color string
	of         func(gpumeter.Seconds) int64
}

// dailySegments stack a day's capacity: who was active, then idle, then no data.
var dailySegments = []segment{
	{string(gpumeter.PublicActive), "#2f6fb3", func(s gpumeter.Seconds) int64 { return s.PublicActive }},
	{string(gpumeter.ProviderActive), "#e07b24", func(s gpumeter.Seconds) int64 { return s.ProviderActive }},
	{string(gpumeter.UnallocatedActive), "#c23b3b", func(s gpumeter.Seconds) int64 { return s.UnallocatedActive }},
	{"idle_all", "#9aa5b1", gpumeter.Seconds.Idle},
	{string(gpumeter.NoData), "#e4e8ec", func(s gpumeter.Seconds) int64 { return s.NoData }},
}

// dailyChart stacks one provider's GPU-hours per day, both shares together.
func dailyChart(l *ledger.Ledger, provider string, v *view) template.HTML {
	days := map[string]gpumeter.Seconds{}
	for _, d := range l.Daily {
		if d.Provider == provider {
			sum := days[d.Day]
			sum.Plus(d.Seconds)
			days[d.Day] = sum
		}
	}
	order := make([]string, 0, len(days))
	for d := range days {
		order = append(order, d)
	}
	slices.Sort(order)
	const W, H, left, right, top, plotH, legendH = 760, 250, 64, 8, 10, 190, 28
	plotW := float64(W - left - right)
	var top3600 int64
	for _, d := range order {
		top3600 = max(top3600, days[d].Total())
	}
	ymax := niceCeil(float64(top3600) / 3600)
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, W, H, esc(provider+" "+v.T("daily_chart")))
	for _, f := range []float64{0, 0.5, 1} {
		y := float64(top) + plotH*(1-f)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ccd3da" stroke-width="0.5"/>`, left, W-right, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="10" fill="#4a5560">%s</text>`, left-4, y+3, esc(formatCount(int(ymax*f))))
	}
	if len(order) > 0 && ymax > 0 {
		bw := plotW / float64(len(order))
		for i, d := range order {
			x := float64(left) + float64(i)*bw
			y := float64(top + plotH)
			for _, seg := range dailySegments {
				h := float64(seg.of(days[d])) / 3600
				if h <= 0 {
					continue
				}
				ph := plotH * h / ymax
				y -= ph
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s %s</title></rect>`,
					x+0.5, y, math.Max(bw-1, 0.5), ph, seg.color, esc(d), esc(v.T(seg.key)), esc(formatHours(gpumeter.Hours(seg.of(days[d])))))
			}
			if day := d[len(d)-2:]; i == 0 || day == "10" || day == "20" || i == len(order)-1 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="#4a5560">%s</text>`, x+bw/2, top+plotH+12, esc(d[5:]))
			}
		}
	}
	x := float64(left)
	for _, seg := range dailySegments {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="10" height="10" fill="%s" stroke="#9aa5b1" stroke-width="0.5"/>`, x, H-legendH+8, seg.color)
		label := v.T(seg.key)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" font-size="11" fill="#1f2933">%s</text>`, x+14, H-legendH+17, esc(label))
		x += 24 + float64(displayWidth(label))*6.5
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// limitChart draws the borrowed hours against the monthly cap and the
// longest hold against max_borrow_hours, each with its limit marked.
func limitChart(p ledger.Provider, v *view) template.HTML {
	var rows []ledger.Check
	for _, c := range p.Checks {
		if c.Item == ledger.CheckBorrowed || c.Item == ledger.CheckLongestHold {
			rows = append(rows, c)
		}
	}
	const W, left, barW, rowH = 760, 220, 440, 34
	H := rowH*len(rows) + 8
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, W, H, esc(p.ID+" "+v.T("page.limits")))
	for i, c := range rows {
		y := 6 + i*rowH
		scale := math.Max(c.Usage, c.Limit)
		if c.Unlimited || scale == 0 {
			scale = math.Max(c.Usage, 1)
		}
		scale *= 1.1
		color := "#2f6fb3"
		if c.Over {
			color = "#c23b3b"
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="12" fill="#1f2933">%s</text>`, y+15, esc(v.T(string(c.Item))))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="18" fill="#eef1f4"/>`, left, y+2, barW)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="18" fill="%s"/>`, left, y+2, barW*c.Usage/scale, color)
		label := formatHours(c.Usage)
		if !c.Unlimited {
			lx := float64(left) + barW*c.Limit/scale
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#1f2933" stroke-width="2" stroke-dasharray="3 2"/>`, lx, lx, y, y+22)
			label += " / " + formatHours(c.Limit)
		} else {
			label += " / " + v.T("no_cap")
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#1f2933">%s</text>`, left+barW+8, y+15, esc(label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// displayWidth counts wide (Hangul) characters twice.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x1100 {
			n++
		}
	}
	return n
}
