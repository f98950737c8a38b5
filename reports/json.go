// Package reports formats a ledger: the JSON machine contract of SPEC §6 and
// the workbook for people. It takes no store and computes no rule: every
// figure is the ledger's, in seconds or millijoules, rounded here by the
// root's Hours, KWh and Round3 (the ledger rounds the few figures it gives
// ready to show: limit checks and idle flags, with the same functions).
package reports

import (
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ledger"
)

// Report is the JSON of SPEC §6, field for field.
type Report struct {
	Month        string              `json:"month"`
	Timezone     string              `json:"timezone"`
	GeneratedAt  string              `json:"generated_at"`
	InputsSHA256 string              `json:"inputs_sha256"`
	Providers    []Provider          `json:"providers"`
	Projects     []Project           `json:"projects"`
	IdleFlags    []gpumeter.IdleFlag `json:"idle_flags"`
	DataQuality  DataQuality         `json:"data_quality"`
}

type Provider struct {
	Provider            string       `json:"provider"`
	GPUs                ShareCounts  `json:"gpus"`
	CapacityGPUHours    ShareHours   `json:"capacity_gpu_hours"`
	Hours               ShareClasses `json:"hours"`
	BorrowedGPUHours    float64      `json:"borrowed_gpu_hours"`
	LentGPUHours        float64      `json:"lent_gpu_hours"`
	PrivateUsedGPUHours float64      `json:"private_used_gpu_hours"`
	PeakProviderGPUs    float64      `json:"peak_provider_gpus"`
	ChargesKRW          []Charge     `json:"charges_krw"`
	Violations          []Violation  `json:"violations"`
	IdleReallocation    Reallocation `json:"idle_reallocation"`
	// Energy by share and class, and across gaps (SPEC §5, §6).
	EnergyKWh             ShareClasses   `json:"energy_kwh"`
	EnergyUnattributedKWh float64        `json:"energy_unattributed_kwh"`
	EnergyChargesKRW      []EnergyCharge `json:"energy_charges_krw"`
	// The attribution audit (SPEC §5, §6).
	AttributionGPUHours   Attribution `json:"attribution_gpu_hours"`
	AttributionMismatches []Mismatch  `json:"attribution_mismatches"`
}

// Attribution is covered GPU-hours by the namespace seen.
type Attribution struct {
	Matched   float64 `json:"matched"`
	Foreign   float64 `json:"foreign"`
	Unknown   float64 `json:"unknown"`
	Unlabeled float64 `json:"unlabeled"`
}

// Mismatch is a listed run of a namespace not the holder's.
type Mismatch struct {
	GPUUUID       string  `json:"gpu_uuid"`
	Node          string  `json:"node"`
	HolderProject string  `json:"holder_project"`
	Namespace     string  `json:"namespace"`
	SeenProject   string  `json:"seen_project"`
	From          string  `json:"from"`
	To            string  `json:"to"`
	GPUHours      float64 `json:"gpu_hours"`
}

// EnergyCharge is the price of one model's energy (energy_tariffs).
type EnergyCharge struct {
	Model    string            `json:"model"`
	KWh      float64           `json:"kwh"`
	KRW      int64             `json:"krw"`
	BilledTo gpumeter.BilledTo `json:"billed_to"`
}

// Reallocation is what became of the month's idle flags (SPEC §8.1): those
// whose idle stretch, from since to the latest evaluation that found it,
// overlaps the month. The median is from first flagged to first
// acknowledged, null while none is acknowledged.
type Reallocation struct {
	Flags               int      `json:"flags"`
	FlaggedIdleGPUHours float64  `json:"flagged_idle_gpu_hours"`
	Reallocated         int      `json:"reallocated"`
	Declined            int      `json:"declined"`
	MedianHoursToAck    *float64 `json:"median_hours_to_ack"`
}

type ShareCounts struct {
	Government int `json:"government"`
	Private    int `json:"private"`
}

type ShareHours struct {
	Government float64 `json:"government"`
	Private    float64 `json:"private"`
}

type ShareClasses struct {
	Government Classes `json:"government"`
	Private    Classes `json:"private"`
}

// Classes are the seven classes of SPEC §5 in GPU-hours.
type Classes struct {
	PublicActive      float64 `json:"public_active"`
	PublicIdle        float64 `json:"public_idle"`
	ProviderActive    float64 `json:"provider_active"`
	ProviderIdle      float64 `json:"provider_idle"`
	UnallocatedActive float64 `json:"unallocated_active"`
	UnallocatedIdle   float64 `json:"unallocated_idle"`
	NoData            float64 `json:"no_data"`
}

type Charge struct {
	Class    gpumeter.Class    `json:"class"`
	Model    string            `json:"model"`
	GPUHours float64           `json:"gpu_hours"`
	KRW      int64             `json:"krw"`
	BilledTo gpumeter.BilledTo `json:"billed_to"`
}

type Violation struct {
	Kind     gpumeter.ViolationKind `json:"kind"`
	GPUUUID  string                 `json:"gpu_uuid"`
	Node     string                 `json:"node"`
	From     string                 `json:"from"`
	To       string                 `json:"to"`
	GPUHours float64                `json:"gpu_hours"`
}

type Project struct {
	ProjectID         string               `json:"project_id"`
	Provider          string               `json:"provider"`
	Kind              gpumeter.ProjectKind `json:"kind"`
	AllocatedGPUHours float64              `json:"allocated_gpu_hours"`
	ActiveGPUHours    float64              `json:"active_gpu_hours"`
	NoDataGPUHours    float64              `json:"no_data_gpu_hours"`
	EnergyKWh         float64              `json:"energy_kwh"`
}

type DataQuality struct {
	CoveragePct      float64  `json:"coverage_pct"`
	UnregisteredGPUs int      `json:"unregistered_gpus"`
	NodesWithoutData []string `json:"nodes_without_data"`
	RefusedSamples   Refused  `json:"refused_samples"`
}

// Refused counts the month's samples refused on their way in, by reason.
type Refused struct {
	ForeignGPU   uint64 `json:"foreign_gpu"`   // of a GPU in another provider's inventory (SPEC §9)
	UnknownGPU   uint64 `json:"unknown_gpu"`   // of a GPU in no inventory (SPEC §9)
	BadTimestamp uint64 `json:"bad_timestamp"` // at a time the store cannot hold
	TooOld       uint64 `json:"too_old"`       // pushed older than server.max_push_age
	TooNew       uint64 `json:"too_new"`       // pushed more than five minutes ahead
	Conflict     uint64 `json:"conflict"`      // another value for a GPU and second already stored
}

// JSON is the ledger as SPEC §6's report.
func JSON(l *ledger.Ledger) *Report {
	h := gpumeter.Hours
	rep := &Report{Month: l.Month, Timezone: l.Timezone, GeneratedAt: l.GeneratedAt.UTC().Format(time.RFC3339),
		InputsSHA256: l.InputsSHA256, Providers: []Provider{}, Projects: []Project{}, IdleFlags: []gpumeter.IdleFlag{},
		DataQuality: DataQuality{CoveragePct: gpumeter.Pct(l.DataQuality.Covered, l.DataQuality.Capacity),
			UnregisteredGPUs: l.DataQuality.UnregisteredGPUs, NodesWithoutData: append([]string{}, l.DataQuality.NodesWithoutData...),
			RefusedSamples: refused(l.DataQuality.RefusedSamples)}}
	for _, p := range l.Providers {
		out := Provider{
			Provider:              p.ID,
			GPUs:                  ShareCounts{p.GPUs.Government, p.GPUs.Private},
			CapacityGPUHours:      ShareHours{h(p.Government.Total()), h(p.Private.Total())},
			Hours:                 ShareClasses{ClassHours(p.Government), ClassHours(p.Private)},
			BorrowedGPUHours:      h(p.Borrowed),
			LentGPUHours:          h(p.Lent),
			PrivateUsedGPUHours:   h(p.PrivateUsed),
			PeakProviderGPUs:      h(p.PeakProviderSeconds), // seconds in one hour / 3600, to 3 decimals
			ChargesKRW:            []Charge{},
			Violations:            []Violation{},
			EnergyKWh:             ShareClasses{ClassKWh(p.EnergyGovernment), ClassKWh(p.EnergyPrivate)},
			EnergyUnattributedKWh: gpumeter.KWh(p.EnergyUnattributed),
			EnergyChargesKRW:      []EnergyCharge{},
		}
		a := p.Attribution
		out.AttributionGPUHours = Attribution{h(a.Matched), h(a.Foreign), h(a.Unknown), h(a.Unlabeled)}
		out.AttributionMismatches = []Mismatch{}
		for _, m := range p.Mismatches {
			out.AttributionMismatches = append(out.AttributionMismatches, Mismatch{GPUUUID: m.GPU, Node: m.Node, HolderProject: m.Holder,
				Namespace: m.Namespace, SeenProject: m.SeenProject, From: timestamp(m.From), To: timestamp(m.To), GPUHours: h(m.To - m.From)})
		}
		for _, c := range p.EnergyCharges {
			out.EnergyChargesKRW = append(out.EnergyChargesKRW, EnergyCharge{Model: c.Model, KWh: gpumeter.KWh(c.MJ), KRW: c.KRW, BilledTo: c.BilledTo})
		}
		r := p.Reallocation
		out.IdleReallocation = Reallocation{Flags: r.Flags, FlaggedIdleGPUHours: h(r.FlaggedIdle), Reallocated: r.Reallocated, Declined: r.Declined}
		if r.Acknowledged > 0 {
			m := gpumeter.Round3(r.MedianSecondsToAck / 3600)
			out.IdleReallocation.MedianHoursToAck = &m
		}
		for _, c := range p.Charges {
			out.ChargesKRW = append(out.ChargesKRW, Charge{Class: c.Class, Model: c.Model, GPUHours: h(c.Seconds), KRW: c.KRW, BilledTo: c.BilledTo})
		}
		for _, v := range p.Violations {
			out.Violations = append(out.Violations, Violation{Kind: v.Kind, GPUUUID: v.GPU, Node: v.Node, From: timestamp(v.From),
				To: timestamp(v.To), GPUHours: h(v.Seconds)})
		}
		rep.Providers = append(rep.Providers, out)
	}
	for _, p := range l.Projects {
		rep.Projects = append(rep.Projects, Project{ProjectID: p.ID, Provider: p.Provider, Kind: p.Kind,
			AllocatedGPUHours: h(p.Allocated), ActiveGPUHours: h(p.Active), NoDataGPUHours: h(p.NoData), EnergyKWh: gpumeter.KWh(p.Energy)})
	}
	rep.IdleFlags = append(rep.IdleFlags, l.IdleFlags...)
	return rep
}

// ClassHours are the seven classes in GPU-hours.
func ClassHours(s gpumeter.Seconds) Classes {
	h := gpumeter.Hours
	return Classes{h(s.PublicActive), h(s.PublicIdle), h(s.ProviderActive), h(s.ProviderIdle),
		h(s.UnallocatedActive), h(s.UnallocatedIdle), h(s.NoData)}
}

// ClassKWh are the seven classes' energy in kWh.
func ClassKWh(e gpumeter.EnergyMJ) Classes {
	k := gpumeter.KWh
	return Classes{k(e.PublicActive), k(e.PublicIdle), k(e.ProviderActive), k(e.ProviderIdle),
		k(e.UnallocatedActive), k(e.UnallocatedIdle), k(e.NoData)}
}

// timestamp is a time as the JSON writes it; an open end is "".
func timestamp(t int64) string {
	if t == gpumeter.Forever {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// Of is one class's GPU-hours.
func (c Classes) Of(class gpumeter.Class) float64 {
	switch class {
	case gpumeter.PublicActive:
		return c.PublicActive
	case gpumeter.PublicIdle:
		return c.PublicIdle
	case gpumeter.ProviderActive:
		return c.ProviderActive
	case gpumeter.ProviderIdle:
		return c.ProviderIdle
	case gpumeter.UnallocatedActive:
		return c.UnallocatedActive
	case gpumeter.UnallocatedIdle:
		return c.UnallocatedIdle
	case gpumeter.NoData:
		return c.NoData
	}
	return 0
}

func refused(by map[string]uint64) Refused {
	return Refused{ForeignGPU: by[gpumeter.RefusedForeignGPU], UnknownGPU: by[gpumeter.RefusedUnknownGPU],
		BadTimestamp: by[gpumeter.RefusedBadTimestamp], TooOld: by[gpumeter.RefusedTooOld], TooNew: by[gpumeter.RefusedTooNew],
		Conflict: by[gpumeter.RefusedConflict]}
}
