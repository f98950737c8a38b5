-- Hourly accounting per GPU, share and project (SPEC §5), written by
-- `gpumeter aggregate` and read by the reports. capacity = active + idle +
-- no_data in every row. A recomputation writes its rows with a higher
-- version, and zeros for keys it no longer has; readers use FINAL, which
-- keeps the highest version of each key.
CREATE TABLE IF NOT EXISTS {{table "gpu_hours"}}{{onCluster}} (
    hour         DateTime,
    gpu_uuid     {{lc "String"}},
    provider     {{lc "String"}},
    node         String,
    model        {{lc "String"}},
    share        {{lc "String"}},
    project_id   String,
    project_kind {{lc "String"}},
    capacity     UInt32,
    active       UInt32,
    idle         UInt32,
    no_data      UInt32,
    active_from  UInt32,
    active_until UInt32,
    version      UInt64
) ENGINE = {{engine "gpu_hours" "ReplacingMergeTree" "version"}}
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, gpu_uuid, share, project_id);
{{distributed "gpu_hours" "cityHash64(gpu_uuid)"}}

-- Time ranges whose rollups are out of date: samples arrived (late ones
-- too), or inventory, projects or allocations changed. Noted after the data
-- is written, so a range noted before an aggregation starts is visible to it.
CREATE TABLE IF NOT EXISTS {{table "dirty_ranges"}}{{onCluster}} (
    from_ts  DateTime,
    to_ts    DateTime,
    noted_at UInt64,
    reason   {{lc "String"}}
) ENGINE = {{engine "dirty_ranges" "MergeTree"}}
ORDER BY noted_at;
{{distributed "dirty_ranges" "rand()"}}

-- One row per aggregation run: how far rollups are complete, the dirty
-- ranges taken, and the accounting parameters used (a change recomputes all).
CREATE TABLE IF NOT EXISTS {{table "aggregate_runs"}}{{onCluster}} (
    run_id           UInt64,
    aggregated_from  DateTime,
    aggregated_until DateTime,
    dirty_until      UInt64,
    params           String,
    finished_at      DateTime
) ENGINE = {{engine "aggregate_runs" "MergeTree"}}
ORDER BY run_id;
{{distributed "aggregate_runs" "rand()"}}
