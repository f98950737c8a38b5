-- Per-GPU samples (SPEC §3.4), one row per GPU per second at most.
--
-- ORDER BY (gpu_uuid, ts): accounting walks each GPU's samples in time order
-- (coverage runs from one sample to the next), so one GPU's rows are contiguous
-- and sorted on disk, and a month's scan of one GPU reads a narrow key range.
-- It is also the dedup key: ReplacingMergeTree keeps one row per (gpu_uuid, ts),
-- the one of the highest version, so a re-imported or re-sent batch never
-- counts twice (readers use FINAL or group by the key until merges finish).
-- Monthly partitions match the reporting period and let TTL drop whole parts.
CREATE TABLE IF NOT EXISTS {{table "samples"}}{{onCluster}} (
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
    version          UInt64{{codec "ZSTD(1)"}}
) ENGINE = {{engine "samples" "ReplacingMergeTree" "version"}}
PARTITION BY toYYYYMM(ts)
ORDER BY (gpu_uuid, ts){{ttl "ts"}};
{{distributed "samples" "cityHash64(gpu_uuid)"}}
