package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Every page, as every role: the status SPEC §8 gives, HTML that names no
// other provider for a provider, and the login form for no one.
func TestDashboardPages(t *testing.T) {
	s, _ := smallService(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL, c: srv.Client()}
	c.ready("/api/v1/reports/2026-10.json", "tok-nipa") // built once for nipa, once for each provider below
	for _, tok := range []string{"tok-nhn", "tok-kakao"} {
		c.ready("/api/v1/reports/2026-10.json", tok)
	}
	foreign := regexp.MustCompile(`kakao|GPU-K1|\bk1\b`)
	for _, page := range dashPages {
		path := "/" + page + "?month=2026-10"
		if page == "month" {
			path = "/?month=2026-10"
		}
		for token, want := range map[string]int{"tok-nipa": 200, "tok-nhn": 200, "tok-kakao": 200, "tok-portal": 403, "tok-push": 403, "": 401, "wrong": 401} {
			if token == "tok-portal" && page == "idle" {
				want = 200
			}
			code, body, h := c.do("GET", path, token)
			if code != want || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Errorf("%s as %q: %d %s, want %d: %.300s", path, token, code, h.Get("Content-Type"), want, body)
			}
			if code == 401 && !strings.Contains(body, `name="token"`) {
				t.Errorf("%s without a principal: no login form", path)
			}
			if token == "tok-nhn" && foreign.MatchString(body) {
				t.Errorf("%s as nhn names another provider: %q", path, foreign.FindString(body))
			}
			if strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") == false {
				t.Errorf("%s: no content security policy", path)
			}
		}
	}
	for path, want := range map[string]int{"/?provider=kakao&month=2026-10": 403, "/?month=2026-13": 400, "/limits?month=2999-01": 400,
		"/?month=2026-10&lang=en": 200} {
		if code, body, _ := c.do("GET", path, "tok-nhn"); code != want {
			t.Errorf("%s as nhn: %d, want %d: %.200s", path, code, want, body)
		}
	}
	if _, body, _ := c.do("GET", "/?month=2026-10&lang=en", "tok-nipa"); !strings.Contains(body, "Month at a glance") || !strings.Contains(body, "kakao") {
		t.Errorf("English page for nipa: %.300s", body)
	}
	// The login form: a wrong token shows the form again, a right one goes
	// back where it came from with a session; logout ends it.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(srv.URL+"/login", url.Values{"token": {"nope"}, "next": {"/limits?month=2026-10"}})
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("wrong token from the form: %v %v", resp.StatusCode, err)
	}
	for next, want := range map[string]string{"/limits?month=2026-10": "/limits?month=2026-10", "https://evil.example/": "", "//evil.example/": ""} {
		resp, err = noRedirect.PostForm(srv.URL+"/login", url.Values{"token": {"tok-nhn"}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("login with next %q: Location %q, want %q", next, got, want)
		}
	}
	cookies := resp.Cookies()
	if code, _, _ := c.do("GET", "/limits?month=2026-10", "", cookies...); code != 200 {
		t.Fatalf("the session from the form: %d", code)
	}
}
