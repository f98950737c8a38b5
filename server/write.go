package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/store"
)

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
func (s *Service) write(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	limit := s.Config.Server.MaxWriteBytes
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
	samples, _ := collector.PushedSamples(&req, collector.DefaultLimits)
	if len(samples) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	kept, refused, err := s.owners.Filter(r.Context(), p.Provider, samples)
	if err != nil {
		return fmt.Errorf("check ownership: %w", err)
	}
	if err := collector.WriteSamples(r.Context(), s.Store, kept); err != nil {
		return apiError{http.StatusServiceUnavailable, "store unavailable: retry"}
	}
	var rejections []store.Rejection
	for reason, n := range refused {
		rejections = append(rejections, store.Rejection{Hour: samples[0].TS, Provider: p.Provider, Source: "remote_write", Reason: reason, Samples: uint64(n)})
	}
	if err := store.RecordRejections(r.Context(), s.Store, rejections); err != nil {
		return apiError{http.StatusServiceUnavailable, "store unavailable: retry"}
	}
	s.pushed.WithLabelValues(p.Provider, "accepted").Add(float64(len(kept)))
	if len(refused) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	for reason, n := range refused {
		s.pushed.WithLabelValues(p.Provider, reason).Add(float64(n))
	}
	s.Log.Warn("pushed samples refused", zap.String("principal", p.Name), zap.String("provider", p.Provider),
		zap.Int("accepted", len(kept)), zap.Any("refused", refused), zap.Time("first", samples[0].TS.Truncate(time.Second)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	return json.NewEncoder(w).Encode(WriteRefused{Error: fmt.Sprintf("%d samples of GPUs not in %s's inventory refused", len(samples)-len(kept), p.Provider),
		Accepted: len(kept), Refused: refused})
}
