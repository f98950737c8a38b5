-- The life of an idle flag (SPEC §8.1): every evaluation the service keeps
-- writes each flag it finds, with a higher version, and closes the flags it
-- no longer finds. A flag keeps its id and its since while it stays open,
-- even where the 35-day look-back has moved on. closed_at is 0 while open.
-- Readers use FINAL: the latest version of a flag is its state.
CREATE TABLE IF NOT EXISTS {{table "idle_flags"}}{{onCluster}} (
    flag_id      String,
    kind         {{lc "String"}},
    provider     {{lc "String"}},
    node         String,
    gpu_uuid     String,
    project_id   String,
    since        DateTime,
    flagged_at   DateTime,
    seen_at      DateTime,
    closed_at    DateTime,
    active_pct   Float64,
    coverage_pct Float64,
    version      UInt64
) ENGINE = {{engine "idle_flags" "ReplacingMergeTree" "version"}}
ORDER BY flag_id;
{{distributed "idle_flags" "cityHash64(flag_id)"}}

-- The portal's acknowledgements of idle flags, each kept: a flag's status is
-- its latest (seq: unix nanoseconds, as DateTime64 is newer than the oldest
-- server), its time to acknowledgement is from its first.
CREATE TABLE IF NOT EXISTS {{table "idle_acks"}}{{onCluster}} (
    flag_id       String,
    action        {{lc "String"}},
    allocation_id String,
    note          String,
    principal     String,
    acked_at      DateTime,
    seq           UInt64
) ENGINE = {{engine "idle_acks" "MergeTree"}}
ORDER BY (flag_id, seq);
{{distributed "idle_acks" "cityHash64(flag_id)"}}

-- Each evaluation recorded, so that "evaluated, nothing idle" differs from
-- "not evaluated yet".
CREATE TABLE IF NOT EXISTS {{table "idle_evaluations"}}{{onCluster}} (
    evaluated_at DateTime,
    flags        UInt32,
    closed       UInt32
) ENGINE = {{engine "idle_evaluations" "MergeTree"}}
ORDER BY evaluated_at;
{{distributed "idle_evaluations" "rand()"}}
