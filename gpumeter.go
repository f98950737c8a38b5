// Package gpumeter holds the domain types shared by the collector, the store,
// the accounting and the reports: what a GPU, a project, an allocation and a
// sample are, exactly as SPEC §3 defines them.
package gpumeter

import "time"

// Share says whose capacity a GPU is: the government's (assigned by the portal)
// or the provider's own.
type Share string

const (
	ShareGovernment Share = "government"
	SharePrivate    Share = "private"
)

// Valid reports whether s is one of the two shares.
func (s Share) Valid() bool { return s == ShareGovernment || s == SharePrivate }

// ProjectKind says who a project serves: a public portal user or the provider itself.
type ProjectKind string

const (
	ProjectPublic   ProjectKind = "public"
	ProjectProvider ProjectKind = "provider"
)

// Valid reports whether k is one of the two project kinds.
func (k ProjectKind) Valid() bool { return k == ProjectPublic || k == ProjectProvider }

// InventoryRow is one validity interval of one GPU. A GPU is capacity only while
// one of its rows is valid; rows of one GPU never overlap.
type InventoryRow struct {
	GPUUUID   string
	Provider  string
	Site      string
	Node      string
	GPUIndex  uint16
	Model     string
	Share     Share
	ValidFrom time.Time
	ValidTo   *time.Time // nil: open
}

// Project is a portal user's project or a provider's own work.
type Project struct {
	ID        string
	Name      string
	Kind      ProjectKind
	Provider  string
	Namespace string // Kubernetes namespace seen in DCGM labels; may be empty
}

// Allocation gives a project one GPU, or every GPU of a node, for [Start, End).
type Allocation struct {
	ID        string
	ProjectID string
	GPUUUID   string // exactly one of GPUUUID and Node is set
	Node      string
	Start     time.Time
	End       *time.Time // nil: open
}

// Sample is one GPU's metrics at one second. Nil fields are missing values,
// which are not zero: a second whose activity metric is missing is no_data.
// The JSON names are those of the samples file (SPEC §3.4); missing values are null.
type Sample struct {
	TS             time.Time `json:"ts"`
	GPUUUID        string    `json:"gpu_uuid"`
	Hostname       string    `json:"hostname"`
	GPUUtil        *float64  `json:"gpu_util"`         // 0–100
	GrEngineActive *float64  `json:"gr_engine_active"` // 0–1
	SMActive       *float64  `json:"sm_active"`        // 0–1
	FBUsedMiB      *uint64   `json:"fb_used_mib"`
	FBFreeMiB      *uint64   `json:"fb_free_mib"`
	PowerW         *float64  `json:"power_w"`
	EnergyMJ       *uint64   `json:"energy_mj"` // counter; resets when the driver reloads
	Namespace      string    `json:"namespace"`
	Pod            string    `json:"pod"`
	// Origin is who said it: "scrape:" and the target, "remote_write:" and
	// the ingest principal, "import:" and the import batch, "demo". The
	// collector sets the target; ingest sets the rest as it stores a sample.
	Origin string `json:"origin,omitempty"`
}

// Overlaps reports whether the half-open intervals [aFrom, aTo) and [bFrom, bTo)
// share a second; a nil end is open.
func Overlaps(aFrom time.Time, aTo *time.Time, bFrom time.Time, bTo *time.Time) bool {
	return (aTo == nil || bFrom.Before(*aTo)) && (bTo == nil || aFrom.Before(*bTo))
}
