-- Samples are evidence: a stored sample is never replaced by another's, and
-- each says who sent it (SPEC §9).
--
-- origin: "scrape:<target>", "remote_write:<ingest principal>",
-- "import:<batch_id>", "demo"; "unrecorded" for samples stored before this
-- migration.
--
-- version now ranks the first write highest: a write's version is
-- 2^63 - 1 - (its time in ns, or its import's batch id, which is one), so
-- FINAL and merges keep the earliest of a (gpu_uuid, ts). Ingest refuses a
-- different value for a stored second before it writes; this order is what
-- holds when two writers race. The rows stored before rank above every later
-- write (2^63 + their version), in their old order among themselves, so
-- every figure stays as it was.
--
-- The samples table is made anew, as in 0007, and the view of 0013, bound
-- to it, with it: dropped before the copy, made again after.
DROP TABLE IF EXISTS {{table "sample_gpus_mv"}}{{onCluster}};

CREATE TABLE IF NOT EXISTS {{table "samples_v14"}}{{onCluster}} (
    gpu_uuid         {{lc "String"}},
    ts               DateTime{{codec "DoubleDelta, ZSTD(1)"}},
    hostname         {{lc "String"}},
    gpu_util         Nullable(Float32){{codec "Gorilla, ZSTD(1)"}},
    gr_engine_active Nullable(Float32){{codec "Delta, ZSTD(1)"}},
    sm_active        Nullable(Float32){{codec "Delta, ZSTD(1)"}},
    fb_used_mib      Nullable(UInt32){{codec "ZSTD(1)"}},
    fb_free_mib      Nullable(UInt32){{codec "ZSTD(1)"}},
    power_w          Nullable(Float32){{codec "Delta, ZSTD(1)"}},
    energy_mj        Nullable(UInt64){{codec "DoubleDelta, ZSTD(1)"}},
    namespace        {{lc "String"}},
    pod              {{lc "String"}},
    version          UInt64{{codec "ZSTD(1)"}},
    batch_id         UInt64,
    origin           {{lc "String"}}
) ENGINE = {{engine "samples_v14" "ReplacingMergeTree" "version"}}
PARTITION BY (toYYYYMM(ts), batch_id)
ORDER BY (gpu_uuid, ts){{ttl "ts"}};
{{distributed "samples_v14" "cityHash64(gpu_uuid)"}}

INSERT INTO {{ref "samples_v14"}} (gpu_uuid, ts, hostname, gpu_util, gr_engine_active, sm_active, fb_used_mib, fb_free_mib,
    power_w, energy_mj, namespace, pod, version, batch_id, origin)
SELECT gpu_uuid, ts, hostname, gpu_util, gr_engine_active, sm_active, fb_used_mib, fb_free_mib,
    power_w, energy_mj, namespace, pod, 9223372036854775808 + version, batch_id,
    if(batch_id = 0, 'unrecorded', concat('import:', toString(batch_id))) FROM {{ref "samples"}};

RENAME TABLE {{table "samples"}} TO {{table "samples_v13"}}, {{table "samples_v14"}} TO {{table "samples"}}{{onCluster}};
DROP TABLE {{table "samples_v13"}}{{onCluster}};
{{if cluster}}
DROP TABLE {{ref "samples_v14"}}{{onCluster}};
DROP TABLE {{ref "samples"}}{{onCluster}};
{{end}}
{{distributed "samples" "cityHash64(gpu_uuid)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "sample_gpus_mv"}}{{onCluster}} TO {{table "sample_gpus"}}
AS SELECT DISTINCT toStartOfHour(ts) AS hour, gpu_uuid, batch_id FROM {{table "samples"}};
