package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/redact"
)

// fieldMetric names each field as dcgm-exporter does, for pushing.
var fieldMetric = [nFields]string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE",
	"DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"}

// PushedSamples turns a Prometheus remote-write request into one sample per
// GPU per second, by the same rules as a scrape (gpuSet): series of other
// metrics are ignored, and so are staleness markers, which say a series
// ended, not that a GPU was seen.
func PushedSamples(req *prompb.WriteRequest, limits Limits) ([]gpumeter.Sample, ParseStats) {
	set := newGPUSet(limits)
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		var name string
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				name = l.Value
				break
			}
		}
		f, ok := dcgmFields[name]
		if !ok {
			continue
		}
		label := func(n string) string {
			for _, l := range ts.Labels {
				if l.Name == n {
					return l.Value
				}
			}
			return ""
		}
		for _, s := range ts.Samples {
			if value.IsStaleNaN(s.Value) {
				continue
			}
			set.add(f, label, s.Value, floorDiv(s.Timestamp, 1000))
		}
	}
	samples, stats, _ := set.samples() // a push without DCGM series stores nothing
	return samples, stats
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// WriteRequest is samples as dcgm-exporter series in a remote-write request:
// one series per field a sample has, and for a sample with none a NaN
// utilisation, so that the GPU is still seen (its second is no_data).
func WriteRequest(samples []gpumeter.Sample) *prompb.WriteRequest {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, len(samples)*int(nFields))}
	for _, s := range samples {
		ms := s.TS.UnixMilli()
		values := [nFields]*float64{s.GPUUtil, s.GrEngineActive, s.SMActive, u2f(s.FBUsedMiB), u2f(s.FBFreeMiB), s.PowerW, u2f(s.EnergyMJ)}
		seen := false
		for f, v := range values {
			if v != nil {
				seen = true
				req.Timeseries = append(req.Timeseries, series(fieldMetric[f], s, *v, ms))
			}
		}
		if !seen {
			req.Timeseries = append(req.Timeseries, series(fieldMetric[fGPUUtil], s, math.NaN(), ms))
		}
	}
	return req
}

func u2f(p *uint64) *float64 {
	if p == nil {
		return nil
	}
	v := float64(*p)
	return &v
}

// series is one value with dcgm-exporter's labels, sorted by name as the
// protocol asks; empty labels are left out, as Prometheus does.
func series(metric string, s gpumeter.Sample, v float64, ms int64) prompb.TimeSeries {
	labels := []prompb.Label{{Name: "__name__", Value: metric}}
	for _, l := range [][2]string{{"Hostname", s.Hostname}, {"UUID", s.GPUUUID}, {"namespace", s.Namespace}, {"pod", s.Pod}} {
		if l[1] != "" {
			labels = append(labels, prompb.Label{Name: l[0], Value: l[1]})
		}
	}
	return prompb.TimeSeries{Labels: labels, Samples: []prompb.Sample{{Value: v, Timestamp: ms}}}
}

// RemoteWrite pushes batches to a gpumeter's POST /api/v1/write (or any
// remote-write 1.0 receiver) with a bearer token: a network error or a 5xx
// is an error the writer retries from its spool; a 4xx is Refused.
type RemoteWrite struct {
	URL    string
	Token  string
	Client *http.Client
}

func (r *RemoteWrite) Write(ctx context.Context, batch []Owned) (int, error) {
	samples := make([]gpumeter.Sample, len(batch))
	for i, o := range batch {
		samples[i] = o.Sample
	}
	data, err := WriteRequest(samples).Marshal()
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(snappy.Encode(nil, data)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "gpumeter")
	req.Header.Set("Authorization", "Bearer "+r.Token)
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("remote write %s: %s", redact.Secrets(r.URL), strings.ReplaceAll(err.Error(), r.URL, redact.Secrets(r.URL)))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch {
	case resp.StatusCode/100 == 2:
		return len(samples), nil
	case resp.StatusCode/100 == 4:
		return 0, &Refused{fmt.Errorf("remote write %s: %s: %s", redact.Secrets(r.URL), resp.Status, bytes.TrimSpace(msg))}
	}
	return 0, fmt.Errorf("remote write %s: %s: %s", redact.Secrets(r.URL), resp.Status, bytes.TrimSpace(msg))
}
