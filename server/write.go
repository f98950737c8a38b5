package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/store"
)

// pushes takes the providers' remote-write pushes (SPEC §9) into ingest.
type pushes struct {
	maxWriteBytes int // server.max_write_bytes
	Log           *zap.Logger
	ingest        *ingest.Ingester
	ingestMetrics *ingest.Metrics
}

func newPushes(st store.Store, cfg config.Config, log *zap.Logger, metrics *ingest.Metrics) *pushes {
	in := ingest.New(st, metrics, log)
	in.MaxPushAge = cfg.Server.MaxPushAge.Duration
	return &pushes{maxWriteBytes: cfg.Server.MaxWriteBytes, Log: log, ingest: in, ingestMetrics: metrics}
}

// WriteRefused is the answer to a push some of whose samples were refused:
// the valid ones are stored, the others counted by reason.
type WriteRefused struct {
	Error    string         `json:"error"`
	Accepted int            `json:"accepted"`
	Refused  map[string]int `json:"refused"`
}

// write is POST /api/v1/write (SPEC §9): Prometheus remote-write 1.0 from an
// ingest principal, whose provider's inventory decides which samples are
// stored. A store that fails is a 5xx, which senders retry.
func (s *pushes) write(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	limit := s.maxWriteBytes
	compressed, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over server.max_write_bytes (%d): too large", limit)}
	}
	if err != nil {
		return apiError{http.StatusBadRequest, "read body: " + err.Error()}
	}
	n, err := snappy.DecodedLen(compressed)
	if err != nil {
		return apiError{http.StatusBadRequest, "body is not snappy-compressed (remote-write 1.0)"}
	}
	if n > limit {
		return apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request decompresses to %d bytes, over server.max_write_bytes (%d): too large", n, limit)}
	}
	data, err := snappy.Decode(nil, compressed)
	if err != nil {
		return apiError{http.StatusBadRequest, "body is not snappy-compressed (remote-write 1.0)"}
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(data); err != nil {
		return apiError{http.StatusBadRequest, "body is not a remote-write 1.0 WriteRequest"}
	}
	samples, stats := collector.PushedSamples(&req, collector.DefaultLimits)
	s.ingestMetrics.CountParse(ingest.RemoteWrite, p.Provider, stats.Invalid, stats.Copies)
	res, err := s.ingest.Write(r.Context(), ingest.Origin{Source: ingest.RemoteWrite, Provider: p.Provider, Name: p.Name}, samples)
	if err != nil {
		s.Log.Error("pushed samples not stored", zap.String("principal", p.Name), zap.Error(err))
		return apiError{http.StatusServiceUnavailable, "store unavailable: retry"}
	}
	if len(res.Refused) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	return json.NewEncoder(w).Encode(WriteRefused{Error: fmt.Sprintf("%d samples refused: of GPUs not in %s's inventory, at times a push may not have, or other values for seconds already stored", res.RefusedTotal(), p.Provider),
		Accepted: res.Stored + res.Repeated, Refused: res.Refused})
}
