-- Imports are all or nothing (SPEC §10), samples included.
--
-- An imported sample carries its import's batch_id and is read only once
-- that import's row is in `imports` (the commit); collected samples carry
-- batch 0 and are read at once. Readers filter in PREWHERE, which the engine
-- applies before FINAL picks the highest version of a (gpu_uuid, ts), so a
-- batch not yet committed never shadows a committed value. batch_id is in the
-- partition key so that background merges, which keep only the highest
-- version of a key within a partition, never let an uncommitted row replace
-- a committed one: an import killed at any moment leaves rows that no reader
-- sees and no merge lets through. Changing the partition key means a new
-- table: the rows so far are copied into it as visible (batch 0).
CREATE TABLE IF NOT EXISTS {{table "samples_v7"}}{{onCluster}} (
    gpu_uuid         {{lc "String"}},
    ts               DateTime{{codec "DoubleDelta, ZSTD(1)"}},
    hostname         {{lc "String"}},
    gpu_util         Nullable(Float32){{codec "ZSTD(1)"}},
    gr_engine_active Nullable(Float32){{codec "ZSTD(1)"}},
    sm_active        Nullable(Float32){{codec "ZSTD(1)"}},
    fb_used_mib      Nullable(UInt32){{codec "ZSTD(1)"}},
    fb_free_mib      Nullable(UInt32){{codec "ZSTD(1)"}},
    power_w          Nullable(Float32){{codec "ZSTD(1)"}},
    energy_mj        Nullable(UInt64){{codec "ZSTD(1)"}},
    namespace        {{lc "String"}},
    pod              {{lc "String"}},
    version          UInt64{{codec "ZSTD(1)"}},
    batch_id         UInt64
) ENGINE = {{engine "samples_v7" "ReplacingMergeTree" "version"}}
PARTITION BY (toYYYYMM(ts), batch_id)
ORDER BY (gpu_uuid, ts){{ttl "ts"}};
{{distributed "samples_v7" "cityHash64(gpu_uuid)"}}

INSERT INTO {{ref "samples_v7"}} (gpu_uuid, ts, hostname, gpu_util, gr_engine_active, sm_active, fb_used_mib, fb_free_mib,
    power_w, energy_mj, namespace, pod, version, batch_id)
SELECT gpu_uuid, ts, hostname, gpu_util, gr_engine_active, sm_active, fb_used_mib, fb_free_mib,
    power_w, energy_mj, namespace, pod, version, 0 FROM {{ref "samples"}};

RENAME TABLE {{table "samples"}} TO {{table "samples_v6"}}, {{table "samples_v7"}} TO {{table "samples"}}{{onCluster}};
DROP TABLE {{table "samples_v6"}}{{onCluster}};
{{if cluster}}
-- A Distributed table takes its columns when it is made (and an old server
-- refuses ALTER ON CLUSTER for it): the front tables are made anew.
DROP TABLE {{ref "samples_v7"}}{{onCluster}};
DROP TABLE {{ref "samples"}}{{onCluster}};
{{end}}
{{distributed "samples" "cityHash64(gpu_uuid)"}}

-- A committed import says which hours it changed in the same row that
-- commits it, so that no moment exists when an import is in but its hours
-- are not marked for recomputation.
ALTER TABLE {{table "imports"}}{{onCluster}} ADD COLUMN dirty_from DateTime, ADD COLUMN dirty_to DateTime, ADD COLUMN noted_at UInt64;
{{if cluster}}
DROP TABLE {{ref "imports"}}{{onCluster}};
{{end}}
{{distributed "imports" "rand()"}}
