package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
	"github.com/nipa-gpu/gpumeter/webhook"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func sum(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// smallService serves the small month (testdata/reports/small) to five
// principals, one of each kind, whose tokens are their names.
func smallService(t *testing.T) (*Service, store.Store) {
	t.Helper()
	return smallServiceOn(t, storetest.Backends()[0].DSN(t))
}

// smallServiceOn is smallService on the store of dsn.
func smallServiceOn(t *testing.T, dsn string) (*Service, store.Store) {
	t.Helper()
	st := storetest.Open(t, dsn)
	storetest.ImportDir(t, st, "../testdata/reports/small/")
	cfg, err := config.Load("../testdata/reports/small/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aggregator.New(st, cfg, nil).Update(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []config.Principal{
		{Name: "tok-nipa", Role: config.RoleNIPA},
		{Name: "tok-nhn", Role: config.RoleProvider, Provider: "nhn"},
		{Name: "tok-kakao", Role: config.RoleProvider, Provider: "kakao"},
		{Name: "tok-portal", Role: config.RolePortal},
		{Name: "tok-push", Role: config.RoleIngest, Provider: "nhn"},
	} {
		p.TokenSHA256 = sum(p.Name)
		cfg.Principals = append(cfg.Principals, p)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// One evaluation has recorded an idle flag of each provider, over the
	// small month's six hours.
	var flags []gpumeter.TrackedFlag
	for _, g := range []struct{ provider, node, gpu string }{{"nhn", "n1", "GPU-G2"}, {"kakao", "k1", "GPU-K1"}} {
		flags = append(flags, gpumeter.TrackedFlag{IdleFlag: gpumeter.IdleFlag{FlagID: flagID(g.gpu), Kind: gpumeter.FlagUnallocatedIdle,
			Provider: g.provider, Node: g.node, GPUUUID: g.gpu, Since: smallStart.Format(time.RFC3339), Hours: 6, CoveragePct: 100,
			Recommendation: gpumeter.Offer}, FlaggedAt: smallEnd, SeenAt: smallEnd})
	}
	if err := store.RecordIdleEvaluation(context.Background(), st, smallEnd, flags); err != nil {
		t.Fatal(err)
	}
	return New(st, cfg, zap.NewNop(), "test", prometheus.NewRegistry()), st
}

// The small month's six hours.
var smallStart, smallEnd = time.Date(2026, 9, 30, 15, 0, 0, 0, time.UTC), time.Date(2026, 9, 30, 21, 0, 0, 0, time.UTC)

func flagID(gpu string) string { return gpumeter.FlagID(gpu, gpumeter.FlagUnallocatedIdle, smallStart) }

type client struct {
	t   *testing.T
	url string
	c   *http.Client
}

func (c client) do(method, path, token string, cookies ...*http.Cookie) (int, string, http.Header) {
	c.t.Helper()
	return c.send(method, path, token, "", cookies...)
}

func (c client) send(method, path, token, body string, cookies ...*http.Cookie) (int, string, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), resp.Header
}

// ready asks until the month is built (202 while it is).
func (c client) ready(path, token string, cookies ...*http.Cookie) (int, string) {
	c.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, body, h := c.do("GET", path, token, cookies...)
		if code != http.StatusAccepted {
			return code, body
		}
		if h.Get("Retry-After") == "" || time.Now().After(deadline) {
			c.t.Fatalf("%s: 202 without Retry-After, or never built", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Every endpoint, every role, own and other provider, no token and a wrong
// one: exactly SPEC §8's status; a provider's answers hold nothing of the
// other provider; and none of it writes to the store.
func TestAccessMatrix(t *testing.T) {
	s, st := smallService(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL, c: srv.Client()}
	written := func() int {
		n := 0
		for _, table := range []string{"aggregate_runs", "report_issues", "gpu_hours", "idle_flags", "idle_evaluations", "idle_acks"} {
			n += storetest.Count(t, st, "SELECT count() FROM "+table)
		}
		return n
	}
	before := written()
	if code, _, h := c.do("GET", "/api/v1/reports/2026-10.json", "tok-nipa"); code != http.StatusAccepted || h.Get("Retry-After") == "" {
		t.Fatalf("a month not built yet: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	paths := []string{"/api/v1/reports/2026-10.json", "/api/v1/reports/2026-10.xlsx", "/api/v1/limits?month=2026-10", "/api/v1/idle",
		"/metrics", "/api/v1/openapi.json"}
	allowed := map[string][]string{
		paths[0]: {"tok-nipa", "tok-nhn", "tok-kakao"},
		paths[1]: {"tok-nipa", "tok-nhn", "tok-kakao"},
		paths[2]: {"tok-nipa", "tok-nhn", "tok-kakao"},
		paths[3]: {"tok-nipa", "tok-nhn", "tok-kakao", "tok-portal"},
		paths[4]: {"tok-nipa"},
		paths[5]: {"tok-nipa", "tok-nhn", "tok-kakao", "tok-portal", "tok-push"},
	}
	foreignToNHN := []string{"kakao", "GPU-K1", `"k1"`}
	for _, path := range paths {
		for _, token := range []string{"tok-nipa", "tok-nhn", "tok-kakao", "tok-portal", "tok-push", "", "wrong-token"} {
			want := http.StatusForbidden
			switch {
			case token == "" || token == "wrong-token":
				want = http.StatusUnauthorized
			case slices.Contains(allowed[path], token):
				want = http.StatusOK
			}
			code, body := c.ready(path, token)
			if code != want {
				t.Errorf("%s as %q: %d, want %d: %.200s", path, token, code, want, body)
			}
			if code != http.StatusOK && !json.Valid([]byte(body)) {
				t.Errorf("%s as %q: error body is not JSON: %q", path, token, body)
			}
			if token == "tok-nhn" && code == http.StatusOK && !strings.HasSuffix(path, ".xlsx") && path != "/api/v1/openapi.json" {
				for _, f := range foreignToNHN {
					if strings.Contains(body, f) {
						t.Errorf("%s as nhn mentions %s: %.300s", path, f, body)
					}
				}
			}
		}
		if strings.HasPrefix(path, "/api/v1/reports") || strings.HasPrefix(path, "/api/v1/limits") || path == "/api/v1/idle" {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			for token, want := range map[string]int{"tok-nhn": http.StatusOK, "tok-kakao": http.StatusForbidden} {
				if code, body := c.ready(path+sep+"provider=nhn", token); code != want {
					t.Errorf("%s?provider=nhn as %s: %d, want %d (never a filtered 200): %.200s", path, token, code, want, body)
				}
			}
			if code, _ := c.ready(path+sep+"provider=evil", "tok-nipa"); code != http.StatusBadRequest {
				t.Errorf("%s?provider=evil as nipa: %d, want 400", path, code)
			}
		}
	}
	code, body := c.ready("/api/v1/reports/2026-10.json?provider=kakao", "tok-nipa")
	var rep reports.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || len(rep.Providers) != 1 || rep.Providers[0].Provider != "kakao" {
		t.Fatalf("nipa narrowed to kakao: %d %.300s", code, body)
	}
	for _, path := range []string{"/api/v1/reports/2026-13.json", "/api/v1/reports/26-10.json", "/api/v1/limits?month=oct", "/api/v1/reports/2999-01.json",
		"/api/v1/reports/2026-10.xlsx?lang=ja"} {
		code, body, _ := c.do("GET", path, "tok-nipa")
		if code != http.StatusBadRequest || strings.Contains(body, "DB::") || strings.Contains(body, "SELECT") {
			t.Errorf("%s: %d %q, want 400 with a short error", path, code, body)
		}
	}
	if code, _ := c.ready("/api/v1/reports/1970-01.json", "tok-nipa"); code != http.StatusOK {
		t.Errorf("1970-01: %d, want 200 (an empty month)", code)
	}
	if code, _, _ := c.do("GET", "/api/v1/reports/2026-10.csv", "tok-nipa"); code != http.StatusNotFound {
		t.Errorf("a report of no such format: %d, want 404", code)
	}
	if code, body, _ := c.do("GET", "/healthz", ""); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthz: %d %q", code, body)
	}
	if after := written(); after != before {
		t.Errorf("the API's GETs wrote %d rows", after-before)
	}
	// The one write: an acknowledgement, by nipa and the portal only.
	ack := "/api/v1/idle/" + flagID("GPU-K1") + "/ack"
	for token, want := range map[string]int{"tok-nipa": 200, "tok-portal": 200, "tok-nhn": 403, "tok-kakao": 403, "tok-push": 403,
		"": 401, "wrong-token": 401} {
		if code, body, _ := c.send("POST", ack, token, `{"action":"declined","note":"matrix"}`); code != want {
			t.Errorf("POST %s as %q: %d, want %d: %s", ack, token, code, want, body)
		}
	}
	if n := storetest.Count(t, st, "SELECT count() FROM idle_acks"); n != 1 {
		t.Errorf("the same acknowledgement by nipa and the portal: %d rows, want 1 (a repeat is a no-op)", n)
	}
}

// The portal acknowledges flags; their status follows, a closed flag stays
// closed, and the next report counts the reallocation.
func TestIdleAcknowledgement(t *testing.T) {
	s, st := smallService(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL, c: srv.Client()}
	flags := func(path, token string) []Flag {
		t.Helper()
		code, body := c.ready(path, token)
		var out []Flag
		if code != 200 || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("%s as %s: %d %s", path, token, code, body)
		}
		return out
	}
	statuses := func(fl []Flag) string {
		var out []string
		for _, f := range fl {
			out = append(out, f.GPUUUID+"="+string(f.Status))
		}
		return strings.Join(out, ",")
	}
	if got := statuses(flags("/api/v1/idle", "tok-portal")); got != "GPU-K1=open,GPU-G2=open" {
		t.Fatalf("before: %s", got)
	}
	nhnFlag := "/api/v1/idle/" + flagID("GPU-G2") + "/ack"
	for body, want := range map[string]int{
		`{"action":"reallocated"`: 400, `{"action":"maybe"}`: 400, `{"action":"declined","extra":1}`: 400,
		`{"action":"declined","note":"a\u0000b"}`:                                  400,
		`{"action":"declined","allocation_id":"` + strings.Repeat("x", 257) + `"}`: 400,
	} {
		if code, resp, _ := c.send("POST", nhnFlag, "tok-portal", body); code != want || !json.Valid([]byte(resp)) {
			t.Errorf("ack %.40s: %d %s, want %d", body, code, resp, want)
		}
	}
	for _, id := range []string{"0123456789abcdef", "nope", "%27%20OR%201"} {
		if code, _, _ := c.send("POST", "/api/v1/idle/"+id+"/ack", "tok-portal", `{"action":"declined"}`); code != 404 {
			t.Errorf("ack of unknown flag %s: %d, want 404", id, code)
		}
	}
	report := func() reports.Reallocation {
		code, body := c.ready("/api/v1/reports/2026-10.json?provider=nhn", "tok-nipa")
		var rep reports.Report
		if code != 200 || json.Unmarshal([]byte(body), &rep) != nil {
			t.Fatalf("report: %d %s", code, body)
		}
		return rep.Providers[0].IdleReallocation
	}
	if r := report(); r.Flags != 1 || r.FlaggedIdleGPUHours != 6 || r.Reallocated != 0 || r.MedianHoursToAck != nil {
		t.Fatalf("report before the acknowledgement: %+v", r)
	}
	good := `{"action":"reallocated","allocation_id":"portal-A-17","note":"스타트업 배정\n2주"}`
	for range 2 {
		code, body, _ := c.send("POST", nhnFlag, "tok-portal", good)
		var f Flag
		if code != 200 || json.Unmarshal([]byte(body), &f) != nil || f.Status != gpumeter.FlagReallocated || f.AllocationID != "portal-A-17" ||
			f.Note != "스타트업 배정\n2주" || f.AckedAt == "" {
			t.Fatalf("ack: %d %s", code, body)
		}
	}
	if n := storetest.Count(t, st, "SELECT count() FROM idle_acks"); n != 1 {
		t.Fatalf("the same acknowledgement twice: %d rows", n)
	}
	if got := statuses(flags("/api/v1/idle", "tok-nhn")); got != "GPU-G2=reallocated" {
		t.Fatalf("nhn sees: %s", got)
	}
	if got := statuses(flags("/api/v1/idle?status=open", "tok-portal")); got != "GPU-K1=open" {
		t.Fatalf("open: %s", got)
	}
	if code, _, _ := c.do("GET", "/api/v1/idle?status=gone", "tok-portal"); code != 400 {
		t.Fatalf("?status=gone: %d", code)
	}
	// The next report counts it (the month is rebuilt in the background).
	deadline := time.Now().Add(30 * time.Second)
	for r := report(); r.Reallocated != 1; r = report() {
		if time.Now().After(deadline) {
			t.Fatalf("the report never counted the reallocation: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := report(); r.Flags != 1 || r.MedianHoursToAck == nil || *r.MedianHoursToAck <= 0 {
		t.Fatalf("report after: %+v", r)
	}
	// An evaluation an hour later finds GPU-G2 no longer idle: closed wins.
	tracked, err := store.TrackedFlags(context.Background(), st, store.FlagFilter{ID: flagID("GPU-G2")})
	if err != nil || len(tracked) != 1 {
		t.Fatal(tracked, err)
	}
	tracked[0].ClosedAt = smallEnd.Add(time.Hour)
	if err := store.RecordIdleEvaluation(context.Background(), st, smallEnd.Add(time.Hour), tracked); err != nil {
		t.Fatal(err)
	}
	if got := statuses(flags("/api/v1/idle", "tok-portal")); got != "GPU-K1=open" {
		t.Fatalf("after closing: %s", got)
	}
	closed := flags("/api/v1/idle?status=closed", "tok-nhn")
	if statuses(closed) != "GPU-G2=closed" || closed[0].ClosedAt == "" || closed[0].AllocationID != "portal-A-17" {
		t.Fatalf("closed: %+v", closed)
	}
	if got := flags("/api/v1/idle?status=closed", "tok-kakao"); len(got) != 0 {
		t.Fatalf("kakao's closed flags: %+v", got)
	}
}

// POST /login with a token gives a session cookie that works until logout or
// until it expires.
func TestSessions(t *testing.T) {
	s, _ := smallService(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL, c: srv.Client()}
	login := func(token string) (*http.Response, []*http.Cookie) {
		resp, err := http.PostForm(srv.URL+"/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, resp.Cookies()
	}
	if resp, _ := login("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with a wrong token: %d", resp.StatusCode)
	}
	resp, cookies := login("tok-kakao")
	if resp.StatusCode != 200 || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Secure {
		t.Fatalf("login: %d %+v", resp.StatusCode, cookies)
	}
	if code, _ := c.ready("/api/v1/idle", "", cookies...); code != 200 {
		t.Fatalf("with the session: %d", code)
	}
	if code, _, _ := c.do("GET", "/api/v1/reports/2026-10.json?provider=nhn", "", cookies...); code != http.StatusForbidden {
		t.Fatalf("kakao's session asking for nhn: %d", code)
	}
	if code, _, _ := c.do("POST", "/logout", "", cookies...); code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := c.do("GET", "/api/v1/idle", "", cookies...); code != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", code)
	}
	_, cookies = login("tok-kakao")
	s.gate.principals.now = func() time.Time { return time.Now().Add(sessionLife + time.Minute) }
	if code, _, _ := c.do("GET", "/api/v1/idle", "", cookies...); code != http.StatusUnauthorized {
		t.Fatalf("an expired session: %d", code)
	}
}

// A listen address beyond loopback is refused without TLS, and served with it.
func TestListenSafely(t *testing.T) {
	s, _ := smallService(t)
	s.Config.Server.Listen = "0.0.0.0:0"
	if _, err := s.listen(); err == nil || !strings.Contains(err.Error(), "needs TLS") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("0.0.0.0 without TLS: %v", err)
	}
	s.Config.Server.Listen = ":0"
	if _, err := s.listen(); err == nil {
		t.Fatal(":0 (every interface) without TLS was served")
	}
	s.Config.Server.TLSCert, s.Config.Server.TLSKey = selfSigned(t)
	s.Config.Server.Listen = "127.0.0.1:0"
	srv, err := s.listen()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts: header %v, read %v, write %v, idle %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	ln := s.addr
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.PostForm("https://"+ln+"/login", url.Values{"token": {"tok-nipa"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("login over TLS: %d %+v", resp.StatusCode, resp.Cookies())
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// The monthly job writes last month's workbook and JSON for NIPA and for
// each provider.
func TestMonthlyReportJob(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	cfg := config.Default()
	cfg.Schedule.ReportDir = t.TempDir()
	svc := New(st, cfg, zap.NewNop(), "test", prometheus.NewRegistry())
	if err := svc.Jobs.MonthlyReport(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(cfg.Location())
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, -1, 0).Format("2006-01")
	for _, name := range []string{"nipa", "kakao", "naver", "nhn"} {
		for _, ext := range []string{".xlsx", ".json"} {
			if _, err := os.Stat(filepath.Join(cfg.Schedule.ReportDir, name+"-"+month+ext)); err != nil {
				t.Error(err)
			}
		}
	}
}

// Every request is logged with its principal's name, never its token.
func TestRequestLog(t *testing.T) {
	s, _ := smallService(t)
	core, logs := observer.New(zap.InfoLevel)
	s.gate.Log = zap.New(core)
	ops := newPrincipals([]config.Principal{{Name: "ops", Role: config.RoleNIPA, TokenSHA256: sum("s3cret-token-value")}})
	s.gate.principals, s.dash.principals = ops, ops
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL, c: srv.Client()}
	c.do("GET", "/api/v1/openapi.json", "s3cret-token-value")
	c.do("GET", "/api/v1/openapi.json", "wrong-s3cret")
	if resp, err := http.PostForm(srv.URL+"/login", url.Values{"token": {"s3cret-token-value"}}); err == nil {
		resp.Body.Close()
	}
	var names []string
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		if strings.Contains(line, "s3cret") {
			t.Errorf("a log line holds a token: %s", line)
		}
		if e.Message == "request" {
			names = append(names, fmt.Sprint(e.ContextMap()["principal"]))
		}
	}
	if strings.Join(names, ",") != "ops,-,ops" {
		t.Errorf("principals logged: %v, want ops, - (the wrong token), ops (the login)", names)
	}
}

// The idle scan sends the portal the recorded open flags it has not
// acknowledged, each once, signed.
func TestIdleScanSendsOpenFlags(t *testing.T) {
	s, st := smallService(t)
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify("hook-secret", r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var d struct{ Flags []gpumeter.IdleFlag }
		json.Unmarshal(body, &d)
		mu.Lock()
		for _, f := range d.Flags {
			got = append(got, f.GPUUUID+" "+f.FlagID)
		}
		mu.Unlock()
	}))
	defer hook.Close()
	s.Jobs.Config.Webhook.URL, s.Jobs.Config.Webhook.Secret = hook.URL, "hook-secret"
	ack := gpumeter.Ack{FlagID: flagID("GPU-K1"), Action: gpumeter.FlagDeclined, Principal: "portal", At: time.Now()}
	if err := store.RecordAck(context.Background(), st, ack); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Jobs.sendOpenFlags(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if want := "GPU-G2 " + flagID("GPU-G2"); strings.Join(got, ",") != want {
		t.Fatalf("sent %v, want only %s (K1 is acknowledged), once", got, want)
	}
}

// The OpenAPI document describes every API path the service serves.
func TestOpenAPIDescribesEveryPath(t *testing.T) {
	var doc struct{ Paths map[string]map[string]any }
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for path, method := range map[string]string{"/healthz": "get", "/login": "post", "/logout": "post", "/metrics": "get",
		"/api/v1/reports/{month}.json": "get", "/api/v1/reports/{month}.xlsx": "get", "/api/v1/limits": "get",
		"/api/v1/idle": "get", "/api/v1/idle/{flag_id}/ack": "post", "/api/v1/openapi.json": "get", "/api/v1/write": "post"} {
		if doc.Paths[path][method] == nil {
			t.Errorf("openapi.json lacks %s %s", method, path)
		}
	}
}
