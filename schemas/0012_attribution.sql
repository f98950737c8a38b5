-- The attribution audit in the hourly rollups (SPEC §5): the covered
-- seconds of each row by what the namespace on the covering sample says
-- (matched, foreign, unknown, unlabeled), and the row's stretches of foreign
-- or unknown seconds, each with its namespace, from which the ledger joins
-- runs across hours. Rollups made before are marked for recomputation.
ALTER TABLE {{table "gpu_hours"}}{{onCluster}}
    ADD COLUMN attr_matched UInt32,
    ADD COLUMN attr_foreign UInt32,
    ADD COLUMN attr_unknown UInt32,
    ADD COLUMN attr_unlabeled UInt32,
    ADD COLUMN mismatch_from Array(UInt32),
    ADD COLUMN mismatch_to Array(UInt32),
    ADD COLUMN mismatch_namespace Array(String),
    ADD COLUMN mismatch_kind Array(String);
{{if cluster}}
DROP TABLE {{ref "gpu_hours"}}{{onCluster}};
{{end}}
{{distributed "gpu_hours" "cityHash64(gpu_uuid)"}}

INSERT INTO {{ref "dirty_ranges"}} (from_ts, to_ts, noted_at, reason)
SELECT min(hour), max(hour) + 3600, toUInt64(toUnixTimestamp(now())) * 1000000000, 'migration 0012: attribution'
FROM {{ref "gpu_hours"}} HAVING count() > 0;
