package server

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium to drive; "" where this machine has none.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// A provider logs in through the form in a real Chromium and walks every
// page: each figure shown equals the API's JSON, nothing of another
// provider is in the DOM or in any request the page makes, and no request
// leaves this server. Screenshots go to $GPUMETER_SCREENSHOTS (default: a
// temporary folder).
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		storetest.MissingTool(t, "no Chromium on this machine (make test installs Debian's chromium where it may): the browser test is skipped")
	}
	shots := os.Getenv("GPUMETER_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := smallService(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL, c: srv.Client()}
	// The portal has acknowledged nhn's flag; the months are built.
	if code, body, _ := c.send("POST", "/api/v1/idle/"+flagID("GPU-G2")+"/ack", "tok-portal", `{"action":"reallocated","allocation_id":"A-17"}`); code != 200 {
		t.Fatalf("ack: %d %s", code, body)
	}
	apiJSON := func(path, token string) any {
		_, body := c.ready(path, token)
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1280, 900),
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, done := context.WithTimeout(ctx, 30*time.Second)
		defer done()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	step("the login page", chromedp.Navigate(srv.URL+"/?month=2026-10"), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)))
	shot("0-login")
	step("log in", chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "tok-nhn"), chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`.monthbar`)))

	report := apiJSON("/api/v1/reports/2026-10.json", "tok-nhn")
	limits := apiJSON("/api/v1/limits?month=2026-10", "tok-nhn")
	idle := apiJSON("/api/v1/idle", "tok-nhn")
	foreign := regexp.MustCompile(`kakao|GPU-K1|\bk1\b`)
	type figure struct{ Key, Text string }
	compared := 0
	for i, page := range dashPages {
		for _, lang := range []string{"ko", "en"} {
			u := srv.URL + "/" + page + "?month=2026-10"
			if page == "month" {
				u = srv.URL + "/?month=2026-10"
			}
			if lang == "en" {
				u += "&lang=en"
			}
			step(page, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`main`)))
			html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`html`)))
			if err != nil {
				t.Fatal(err)
			}
			if m := foreign.FindString(html); m != "" {
				t.Errorf("%s (%s) as nhn shows %q", page, lang, m)
			}
			if strings.Contains(html, "internal error") || strings.Contains(html, "being built") {
				t.Errorf("%s (%s): %.300s", page, lang, html)
			}
			figures, err := chromedp.Run(ctx, chromedp.Evaluate[[]figure](
				`Array.from(document.querySelectorAll('[data-figure]')).map(e => ({Key: e.dataset.figure, Text: e.textContent.trim()}))`))
			if err != nil {
				t.Fatal(err)
			}
			if len(figures) == 0 && page != "downloads" {
				t.Errorf("%s shows no figures", page)
			}
			for _, f := range figures {
				want, ok := figureIn(f.Key, report, limits, idle)
				got, err := strconv.ParseFloat(strings.NewReplacer(",", "", " %", "").Replace(f.Text), 64)
				if !ok || err != nil || got != want {
					t.Errorf("%s: %s shows %q, the API says %v (found %v)", page, f.Key, f.Text, want, ok)
				}
				compared++
			}
			shot(fmt.Sprintf("%d-%s-%s", i+1, page, lang))
		}
	}
	// The downloads are the provider's own.
	hrefs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('a[download]')).map(a => a.href)`))
	if err != nil || len(hrefs) != 3 {
		t.Fatalf("download links: %v %v", hrefs, err)
	}
	for _, h := range hrefs {
		u, _ := url.Parse(h)
		if code, _ := c.ready(u.RequestURI(), "tok-nhn"); code != 200 {
			t.Errorf("download %s: %d", h, code)
		}
	}
	mu.Lock()
	asProvider := len(requests)
	mu.Unlock()
	// NIPA, logged in after the provider logs out, sees every provider.
	step("log out", chromedp.Click(chromedp.CSS(`.who button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)))
	step("log in as nipa", chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "tok-nipa"), chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`.monthbar`)))
	c.ready("/api/v1/reports/2026-10.json", "tok-nipa")
	step("nipa's month", chromedp.Navigate(srv.URL+"/?month=2026-10"), chromedp.WaitVisible(chromedp.CSS(`#provider-kakao`)))
	shot("7-month-nipa-ko")
	mu.Lock()
	defer mu.Unlock()
	for i, r := range requests {
		if !strings.HasPrefix(r, srv.URL+"/") {
			t.Errorf("the page asked beyond its server: %s", r)
		}
		if i < asProvider && foreign.MatchString(r) {
			t.Errorf("a request names another provider: %s", r)
		}
	}
	if compared < 40 || asProvider < len(dashPages)*2 {
		t.Fatalf("compared %d figures over %d requests", compared, len(requests))
	}
	t.Logf("%d figures equal the API's on %d pages; %d requests, all to the server; screenshots in %s", compared, len(dashPages)*2, asProvider, shots)
}

// figureIn finds a page's figure in the API's JSON: providers/ID/… and
// data_quality/… in the report, limits/ID/ITEM/usage|limit in the limits,
// idle/FLAG/FIELD in the idle flags.
func figureIn(key string, report, limits, idle any) (float64, bool) {
	parts := strings.Split(key, "/")
	byField := func(list any, field, value string) any {
		items, _ := list.([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok && m[field] == value {
				return m
			}
		}
		return nil
	}
	var node any
	var rest []string
	switch {
	case parts[0] == "providers" && len(parts) > 2:
		node, rest = byField(report.(map[string]any)["providers"], "provider", parts[1]), parts[2:]
	case parts[0] == "data_quality":
		node, rest = report.(map[string]any)["data_quality"], parts[1:]
	case parts[0] == "limits" && len(parts) == 4:
		p, _ := byField(limits, "provider", parts[1]).(map[string]any)
		if p == nil {
			return 0, false
		}
		node, rest = byField(p["checks"], "item", parts[2]), parts[3:]
	case parts[0] == "idle" && len(parts) == 3:
		node, rest = byField(idle, "flag_id", parts[1]), parts[2:]
	default:
		return 0, false
	}
	for _, p := range rest {
		switch n := node.(type) {
		case map[string]any:
			node = n[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(n) {
				return 0, false
			}
			node = n[i]
		default:
			return 0, false
		}
	}
	x, ok := node.(float64)
	return x, ok
}
