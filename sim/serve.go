package sim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// Handler serves /nodes/NAME/metrics for every node, as its dcgm-exporter
// would at the moment of the request: HTTP 500 now and then, nothing during
// an outage.
func (f *Fleet) Handler(now func() time.Time) http.Handler {
	byName := make(map[string]*Node, len(f.Nodes))
	for _, n := range f.Nodes {
		byName[n.Name] = n
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/nodes/")
		name, ok2 := strings.CutSuffix(name, "/metrics")
		n := byName[name]
		if !ok || !ok2 || n == nil {
			http.NotFound(w, r)
			return
		}
		t := now()
		switch {
		case f.Down(n, t):
			// The node is out: the connection hangs up without an answer.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "node down", http.StatusServiceUnavailable)
		case f.Fails(n, t):
			http.Error(w, "dcgm-exporter: error collecting metrics", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			f.WriteExposition(w, n, t)
		}
	})
}

// Serve serves the fleet's exporters on ln until ctx ends, as they are at
// now() (time.Now when nil).
func (f *Fleet) Serve(ctx context.Context, ln net.Listener, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	srv := &http.Server{Handler: f.Handler(now), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
