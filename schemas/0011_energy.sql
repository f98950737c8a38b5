-- Energy in the hourly rollups (SPEC §5 "Energy"): the counter's deltas
-- between consecutive samples within max_sample_gap, in millijoules, by the
-- state of the second they belong to (the earlier sample's: active, idle,
-- no_data; the key gives share and holder); and the deltas across longer
-- gaps, unattributed, in the row of the later sample's second. Rollups made
-- before this migration are marked for recomputation.
ALTER TABLE {{table "gpu_hours"}}{{onCluster}}
    ADD COLUMN energy_active_mj UInt64,
    ADD COLUMN energy_idle_mj UInt64,
    ADD COLUMN energy_no_data_mj UInt64,
    ADD COLUMN energy_unattributed_mj UInt64;
{{if cluster}}
DROP TABLE {{ref "gpu_hours"}}{{onCluster}};
{{end}}
{{distributed "gpu_hours" "cityHash64(gpu_uuid)"}}

INSERT INTO {{ref "dirty_ranges"}} (from_ts, to_ts, noted_at, reason)
SELECT min(hour), max(hour) + 3600, toUInt64(toUnixTimestamp(now())) * 1000000000, 'migration 0011: energy'
FROM {{ref "gpu_hours"}} HAVING count() > 0;
