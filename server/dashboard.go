package server

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/redact"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

// The dashboard (SPEC §8.2) is rendered here from the same ledgers and
// recorded flags the API serves: no script, no outside request, charts as
// inline SVG, so that it works on a closed network and prints.

//go:embed web
var web embed.FS

//go:embed web/dashboard.css
var dashboardCSS []byte

// dashPages are the dashboard's pages in menu order; the first is "/".
var dashPages = []string{"month", "limits", "idle", "violations", "quality", "downloads"}

// needsMonth says which pages show a month's ledger.
var needsMonth = map[string]bool{"month": true, "limits": true, "violations": true, "quality": true}

var pageTemplates = func() map[string]*template.Template {
	funcs := template.FuncMap{"hours": formatHours, "pct": formatPct, "count": formatCount,
		"count64": func(n int64) string { return group(strconv.FormatInt(n, 10)) },
		"int64":   func(n uint64) int64 { return int64(n) }}
	out := map[string]*template.Template{}
	for _, name := range append(slices.Clone(dashPages), "login", "message") {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(web, "web/layout.html", "web/"+name+".html"))
	}
	return out
}()

// dashWords are the dashboard's own words; the figures' names are the
// workbook's (reports.Word).
var dashWords = map[string][2]string{
	"page.month":                {"월간 현황", "Month at a glance"},
	"page.limits":               {"한도", "Limits"},
	"page.idle":                 {"유휴 자원", "Idle capacity"},
	"page.violations":           {"위반", "Violations"},
	"page.quality":              {"데이터 품질", "Data quality"},
	"page.downloads":            {"내려받기", "Downloads"},
	"dashboard":                 {"공공 GPU 계량", "Public GPU metering"},
	"all_providers":             {"전체", "All"},
	"prev":                      {"이전 달", "Previous month"},
	"next":                      {"다음 달", "Next month"},
	"login":                     {"로그인", "Log in"},
	"logout":                    {"로그아웃", "Log out"},
	"token":                     {"토큰", "Token"},
	"login_hint":                {"발급받은 토큰을 입력하세요.", "Enter the token you were given."},
	"login_failed":              {"알 수 없는 토큰입니다.", "Unknown token."},
	"building":                  {"이 달의 집계를 만드는 중입니다. 잠시 후 자동으로 새로 고칩니다.", "This month is being built; the page reloads shortly."},
	"no_flags":                  {"유휴 알림이 아직 판정되지 않았습니다. 잠시 후 다시 보세요.", "Idle flags are not evaluated yet; look again shortly."},
	"as_of":                     {"기준", "as of"},
	"age":                       {"경과 (시간)", "Age (h)"},
	"flagged_at":                {"알림 시각", "Flagged at"},
	"closed_flags":              {"종료된 알림", "Closed flags"},
	"current_flags":             {"현재 알림", "Current flags"},
	"allocation_id":             {"포털 배정 ID", "Portal allocation"},
	"note":                      {"메모", "Note"},
	"daily_chart":               {"일별 GPU·시간", "GPU-hours by day"},
	"idle_all":                  {"유휴 (전체)", "Idle (all)"},
	"workbook_ko":               {"엑셀 보고서 (한국어)", "Workbook (Korean)"},
	"workbook_en":               {"엑셀 보고서 (영어)", "Workbook (English)"},
	"report_json":               {"JSON 보고서", "JSON report"},
	"generated_at":              {"생성 시각", "Generated at"},
	"capacity_total":            {"용량 합계 (GPU·시간)", "Capacity (GPU-h)"},
	"charges_total":             {"정산 합계 (원)", "Charges (KRW)"},
	string(gpumeter.FlagOpen):   {"미처리", "Open"},
	string(gpumeter.FlagClosed): {"종료", "Closed"},
	"error":                     {"오류", "Error"},
}

// view is what a dashboard page is rendered from.
type view struct {
	Lang, Page string
	Principal  config.Principal
	Month      string
	Prev, Next string // "" where there is none
	Provider   string // the scope: "" for every provider
	Providers  []string
	Report     *reports.Report
	Ledger     *ledger.Ledger
	Flags      []Flag
	Closed     bool // the idle page lists closed flags
	Message    string
	Failed     bool   // the login page after a wrong token
	Back       string // where the login page goes back to
	Charts     map[string]template.HTML
	loc        *time.Location
}

// T is a word in the page's language.
func (v *view) T(key string) string {
	if w, ok := dashWords[key]; ok {
		if v.Lang == "en" {
			return w[1]
		}
		return w[0]
	}
	return reports.Word(v.Lang, key)
}

// Link is a dashboard page's address keeping the month, language and scope;
// pairs of kv override them ("" drops one).
func (v *view) Link(page string, kv ...string) string {
	q := url.Values{}
	if v.Month != "" {
		q.Set("month", v.Month)
	}
	if v.Lang != "ko" {
		q.Set("lang", v.Lang)
	}
	if v.Provider != "" && v.Principal.Role == config.RoleNIPA {
		q.Set("provider", v.Provider)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	path := "/" + page
	if page == dashPages[0] {
		path = "/"
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Download is an API address of the month's report in the page's scope.
func (v *view) Download(ext, lang string) string {
	q := url.Values{}
	if lang != "" {
		q.Set("lang", lang)
	}
	if v.Provider != "" && v.Principal.Role == config.RoleNIPA {
		q.Set("provider", v.Provider)
	}
	u := "/api/v1/reports/" + v.Month + "." + ext
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Pages are the menu.
func (v *view) Pages() []string {
	if v.Principal.Role == config.RolePortal {
		return []string{"idle"}
	}
	return dashPages
}

// Local is an RFC 3339 time in the configured zone, to the second ("" stays "").
func (v *view) Local(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return ts
	}
	return t.In(v.loc).Format("2006-01-02 15:04:05")
}

// shareRow is one share of a provider on the month page.
type shareRow struct {
	Share    string
	GPUs     int
	Capacity float64
	Classes  []classCell
}

type classCell struct {
	Class string
	Hours float64
}

// ShareRows are a provider's shares with their seven classes.
func (v *view) ShareRows(p reports.Provider) []shareRow {
	row := func(share gpumeter.Share, gpus int, capacity float64, c reports.Classes) shareRow {
		r := shareRow{Share: string(share), GPUs: gpus, Capacity: capacity}
		for _, class := range gpumeter.Classes {
			r.Classes = append(r.Classes, classCell{string(class), c.Of(class)})
		}
		return r
	}
	return []shareRow{
		row(gpumeter.ShareGovernment, p.GPUs.Government, p.CapacityGPUHours.Government, p.Hours.Government),
		row(gpumeter.SharePrivate, p.GPUs.Private, p.CapacityGPUHours.Private, p.Hours.Private),
	}
}

// Classes are the seven classes' keys.
func (v *view) Classes() []gpumeter.Class { return gpumeter.Classes }

// Reallocation is a provider's idle flag outcomes of the month, if built.
func (v *view) Reallocations() []reports.Provider {
	if v.Report == nil {
		return nil
	}
	return v.Report.Providers
}

// Check is a limit check's words and figures for the limits page.
type viewCheck struct {
	Provider, Item, Status string
	Usage, Limit           string
	HasLimit, Over         bool
}

// dashboard serves the pages of SPEC §8.2 from the API's ledgers, and the
// login form's session.
type dashboard struct {
	*api
	principals *principals
}

// dashboard serves a page: the login form to a caller without a principal,
// the page in the caller's scope otherwise.
func (s *dashboard) page(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := &view{Lang: "ko", Page: page, loc: s.Config.Location(), Charts: map[string]template.HTML{}}
		if r.URL.Query().Get("lang") == "en" {
			v.Lang = "en"
		}
		p, ok := s.principals.fromRequest(r)
		if !ok {
			v.Back = r.URL.RequestURI()
			s.render(w, http.StatusUnauthorized, "login", v)
			return
		}
		setPrincipal(r, p)
		v.Principal = p
		if err := s.fill(r, v); err != nil {
			var ae apiError
			if !errors.As(err, &ae) {
				s.Log.Error("dashboard", zap.String("page", page), zap.String("principal", p.Name), zap.String("error", redact.Secrets(err.Error())))
				ae = apiError{http.StatusInternalServerError, "internal error"}
			}
			v.Message = ae.msg
			if ae.status == http.StatusAccepted {
				v.Message = v.T("building")
				w.Header().Set("Refresh", fmt.Sprint(int(retryAfter.Seconds())))
			}
			s.render(w, ae.status, "message", v)
			return
		}
		s.render(w, http.StatusOK, page, v)
	}
}

func (s *dashboard) render(w http.ResponseWriter, status int, page string, v *view) {
	var buf bytes.Buffer
	if err := pageTemplates[page].Execute(&buf, v); err != nil {
		s.Log.Error("dashboard template", zap.String("page", page), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fill loads what the page shows, in the caller's scope, with the API's
// rules: a provider sees its own, asking for another is 403.
func (s *dashboard) fill(r *http.Request, v *view) error {
	p := v.Principal
	if p.Role == config.RoleIngest || (p.Role == config.RolePortal && v.Page != "idle") {
		return apiError{http.StatusForbidden, "role " + p.Role + " has no dashboard page " + v.Page}
	}
	provider, err := s.scope(r, p)
	if err != nil {
		return err
	}
	v.Provider = provider
	if p.Role == config.RoleNIPA {
		v.Providers = slices.Sorted(maps.Keys(s.Config.Providers))
	}
	now := time.Now().In(s.Config.Location())
	v.Month = r.URL.Query().Get("month")
	if v.Month == "" {
		v.Month = now.Format("2006-01")
	}
	if !monthPattern.MatchString(v.Month) {
		return apiError{http.StatusBadRequest, fmt.Sprintf("month %q: want YYYY-MM", v.Month)}
	}
	m, _ := time.ParseInLocation("2006-01", v.Month, s.Config.Location())
	v.Prev = m.AddDate(0, -1, 0).Format("2006-01")
	if next := m.AddDate(0, 1, 0); !next.After(now) {
		v.Next = next.Format("2006-01")
	}
	if v.Page == "idle" {
		v.Closed = r.URL.Query().Get("status") == string(gpumeter.FlagClosed)
		if v.Flags, err = s.trackedFlags(r, store.FlagFilter{Provider: provider, Open: !v.Closed, Closed: v.Closed}); err != nil {
			var ae apiError
			if !errors.As(err, &ae) || ae.status != http.StatusAccepted {
				return err
			}
			v.Message = v.T("no_flags")
		}
		if p.Role == config.RolePortal {
			return nil
		}
		// The month's reallocation figures, if the month is built.
		if l, _, err := s.ledger(r, p, v.Month); err == nil {
			v.Ledger, v.Report = l, reports.JSON(l)
		}
		return nil
	}
	if !needsMonth[v.Page] {
		if _, _, err := ledger.Period(v.Month, s.Config.Location(), time.Now()); err != nil {
			return apiError{http.StatusBadRequest, err.Error()}
		}
		return nil
	}
	l, _, err := s.ledger(r, p, v.Month)
	if err != nil {
		return err
	}
	v.Ledger, v.Report = l, reports.JSON(l)
	if v.Page == "month" {
		for _, lp := range v.Report.Providers {
			v.Charts[lp.Provider] = dailyChart(l, lp.Provider, v)
		}
	}
	if v.Page == "limits" {
		for _, lp := range l.Providers {
			v.Charts[lp.ID] = limitChart(lp, v)
		}
	}
	return nil
}

// Checks are the limits page's rows.
func (v *view) Checks() []viewCheck {
	var out []viewCheck
	for _, lp := range v.Ledger.Providers {
		for _, c := range lp.Checks {
			vc := viewCheck{Provider: lp.ID, Item: string(c.Item), HasLimit: c.HasLimit, Over: c.Over}
			count := c.Item == ledger.CheckPrivateShareGPUs || c.Item == ledger.CheckPeakGPUs
			vc.Usage, vc.Limit = formatHours(c.Usage), formatHours(c.Limit)
			if c.Item == ledger.CheckPrivateShareGPUs {
				vc.Usage = formatCount(int(c.Usage))
			}
			if count {
				vc.Limit = formatCount(int(c.Limit))
			}
			if vc.Status = string(c.Status()); !c.HasLimit {
				vc.Limit = ""
			}
			out = append(out, vc)
		}
	}
	return out
}

// formatHours is a figure to 3 decimals with thousands separators: the
// JSON's value, as people read it.
func formatHours(x float64) string {
	s := strconv.FormatFloat(x, 'f', 3, 64)
	whole, frac, _ := strings.Cut(s, ".")
	return group(whole) + "." + frac
}

func formatPct(x float64) string { return formatHours(x) + " %" }

func formatCount(n int) string { return group(strconv.Itoa(n)) }

func group(digits string) string {
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
