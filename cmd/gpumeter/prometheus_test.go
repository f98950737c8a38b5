package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/sim"
	"github.com/nipa-gpu/gpumeter/store"
)

func sha(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// child runs the test binary as gpumeter with args, its output in the test's
// log folder; stop sends SIGTERM and waits.
func child(t *testing.T, name string, args ...string) (stop func()) {
	t.Helper()
	return process(t, name, exec.Command(os.Args[0], args...), "GPUMETER_TEST_AS_MAIN=1")
}

func process(t *testing.T, name string, cmd *exec.Cmd, env ...string) (stop func()) {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			logFile.Seek(0, io.SeekStart)
			out, _ := io.ReadAll(io.LimitReader(logFile, 8000))
			t.Logf("%s's output:\n%s", name, out)
		}
		logFile.Close()
	}
	t.Cleanup(stop)
	return stop
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("%s never answered", url)
}

// Debian's Prometheus scrapes `gpumeter simulate` (frozen at one moment) and
// remote-writes to `gpumeter run` with each provider's ingest token. What
// gpumeter stores from Prometheus equals what its own collector stores from
// the same exporters, GPU by GPU; and a naver node that kakao's Prometheus
// pushes stores nothing, by push or by a scrape listed for kakao.
func TestPrometheusRemoteWrite(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		storetest.MissingTool(t, "no prometheus on this machine (make test installs Debian's prometheus where it may): the remote-write test is skipped")
	}
	cfg := config.Default()
	const seed, scale = 7, 0.01
	from, err := monthStart("", cfg.Location())
	if err != nil {
		t.Fatal(err)
	}
	fleet := sim.New(seed, scale, from, from.AddDate(0, 1, 0))
	at := time.Now().UTC().Truncate(time.Minute)
	var naver, kakao []*sim.Node
	for _, n := range fleet.Nodes {
		if fleet.Down(n, at) || fleet.Fails(n, at) {
			continue // frozen down: neither path stores it
		}
		switch n.Provider.ID {
		case "naver":
			naver = append(naver, n)
		case "kakao":
			kakao = append(kakao, n)
		}
	}
	if len(naver) < 2 || len(kakao) < 1 {
		t.Fatalf("fleet: %d naver and %d kakao nodes up", len(naver), len(kakao))
	}
	rogue, naver := naver[0], naver[1:] // a naver node that only kakao's Prometheus scrapes

	dir := t.TempDir()
	simAddr, apiAddr, promAddr := freePort(t), freePort(t), freePort(t)
	inputs := filepath.Join(dir, "inputs")
	child(t, "simulate", "simulate", "--seed", fmt.Sprint(seed), "--scale", fmt.Sprint(scale), "--listen", simAddr,
		"--at", at.Format(time.RFC3339), "--write-inputs", inputs)
	waitHTTP(t, "http://"+simAddr+"/nodes/"+rogue.Name+"/metrics")

	central, direct := storetest.Backends()[1].DSN(t), storetest.Backends()[1].DSN(t)
	for _, dsn := range []string{central, direct} {
		for _, kind := range []string{"inventory", "projects", "allocations"} {
			if code := run(context.Background(), []string{"import", kind, filepath.Join(inputs, kind+".csv"), "--store", dsn, "--log-level", "error"}); code != exitOK {
				t.Fatalf("import %s: exit %d", kind, code)
			}
		}
	}
	tokens := map[string]string{"naver": "naver-push-token", "kakao": "kakao-push-token"}
	conf := fmt.Sprintf("server: {listen: %q}\ncollector: {spool_dir: %q}\nschedule: {aggregate: \"\", idle_scan: \"\", monthly_report: \"\"}\nprincipals:\n",
		apiAddr, filepath.Join(dir, "spool"))
	for p, tok := range tokens {
		conf += fmt.Sprintf("  - {name: %s-push, role: ingest, provider: %s, token_sha256: %q}\n", p, p, sha(tok))
	}
	confFile := filepath.Join(dir, "gpumeter.yaml")
	os.WriteFile(confFile, []byte(conf), 0o644)
	stopRun := child(t, "run", "run", "--config", confFile, "--store", central)
	waitHTTP(t, "http://"+apiAddr+"/healthz")

	// Prometheus: one job per provider, and the rogue job, pushed by kakao.
	var prom strings.Builder
	fmt.Fprintf(&prom, "global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n")
	job := func(name string, nodes []*sim.Node) {
		fmt.Fprintf(&prom, "- job_name: %s\n  static_configs:\n", name)
		for _, n := range nodes {
			fmt.Fprintf(&prom, "  - {targets: [%q], labels: {__metrics_path__: /nodes/%s/metrics}}\n", simAddr, n.Name)
		}
	}
	job("naver", naver)
	job("kakao", kakao)
	job("rogue", []*sim.Node{rogue})
	fmt.Fprintf(&prom, "remote_write:\n")
	for p, jobs := range map[string]string{"naver": "naver", "kakao": "kakao|rogue"} {
		fmt.Fprintf(&prom, "- url: http://%s/api/v1/write\n  authorization: {credentials: %s}\n"+
			"  write_relabel_configs: [{source_labels: [job], regex: %q, action: keep}]\n"+
			"  queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}\n", apiAddr, tokens[p], jobs)
	}
	promFile := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(promFile, []byte(prom.String()), 0o644)
	stopProm := process(t, "prometheus", exec.Command(promBin, "--config.file="+promFile, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn"))
	want := 0
	for _, n := range append(naver, kakao...) {
		want += len(n.GPUs)
	}
	// Until every GPU has come through five scrapes or so.
	watch := storetest.Open(t, central)
	for deadline := time.Now().Add(60 * time.Second); storetest.Count(t, watch, "SELECT count() FROM samples") < 5*want; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus pushed %d samples in a minute", storetest.Count(t, watch, "SELECT count() FROM samples"))
		}
	}
	stopProm() // flushes its remote-write queues
	stopRun()

	// gpumeter's own collector, the same exporters, listed for the same providers.
	var targets strings.Builder
	for _, n := range naver {
		fmt.Fprintf(&targets, "http://%s/nodes/%s/metrics naver\n", simAddr, n.Name)
	}
	for _, n := range append(kakao, rogue) {
		fmt.Fprintf(&targets, "http://%s/nodes/%s/metrics kakao\n", simAddr, n.Name)
	}
	tf := filepath.Join(dir, "targets.txt")
	os.WriteFile(tf, []byte(targets.String()), 0o644)
	directConf := filepath.Join(dir, "direct.yaml")
	os.WriteFile(directConf, []byte(fmt.Sprintf("collector: {targets_file: %q, spool_dir: %q, listen: \"\"}\n", tf, filepath.Join(dir, "spool-direct"))), 0o644)
	if code := run(context.Background(), []string{"collect", "--once", "--config", directConf, "--store", direct, "--log-level", "error"}); code != exitOK {
		t.Fatalf("collect --once: exit %d", code)
	}

	stored := func(dsn string) (map[string][]gpumeter.Sample, store.Store) {
		st := storetest.Open(t, dsn)
		out := map[string][]gpumeter.Sample{}
		for _, n := range fleet.Nodes {
			for _, g := range n.GPUs {
				got, err := store.Samples(context.Background(), st, g.UUID, at.Add(-time.Hour), time.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if len(got) > 0 {
					out[g.UUID] = got
				}
			}
		}
		return out, st
	}
	pushed, centralStore := stored(central)
	scraped, _ := stored(direct)
	if len(scraped) != want || len(pushed) != want {
		t.Fatalf("GPUs stored: %d pushed, %d scraped, want %d (the naver and kakao nodes, not the rogue one)", len(pushed), len(scraped), want)
	}
	values := func(s gpumeter.Sample) string {
		s.TS, s.Origin = time.Time{}, "" // who said it differs, not what
		b, _ := json.Marshal(s)
		return string(b)
	}
	compared := 0
	for gpu, direct := range scraped {
		if len(direct) != 1 {
			t.Fatalf("%s: %d direct samples, want 1", gpu, len(direct))
		}
		if len(pushed[gpu]) < 3 {
			t.Errorf("%s: %d pushed samples", gpu, len(pushed[gpu]))
		}
		for _, p := range pushed[gpu] {
			if values(p) != values(direct[0]) {
				t.Fatalf("%s at %s:\npushed  %s\nscraped %s", gpu, p.TS.Format(time.RFC3339), values(p), values(direct[0]))
			}
			compared++
		}
	}
	for _, g := range rogue.GPUs {
		if pushed[g.UUID] != nil || scraped[g.UUID] != nil {
			t.Fatalf("the rogue naver node's %s stored", g.UUID)
		}
	}
	refused, err := store.Rejections(context.Background(), centralStore, 0, time.Now().Add(time.Hour).Unix(), "kakao")
	if err != nil || refused[gpumeter.RefusedForeignGPU] == 0 {
		t.Fatalf("kakao's refused pushes: %v %v", refused, err)
	}
	t.Logf("%d pushed samples of %d GPUs equal the directly scraped ones; kakao's pushes of the naver node refused: %d samples",
		compared, len(pushed), refused[gpumeter.RefusedForeignGPU])
}
