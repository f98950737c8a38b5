-- The GPUs that sent samples, per hour and import batch, kept by the engine
-- as samples are inserted. The report counts unregistered GPUs (samples but
-- no inventory row) from here: counting them from the samples read a whole
-- month of them, 2.3 billion rows on the full fleet.
-- The view is bound to the samples table: a migration that rebuilds samples
-- must rebuild the view.
CREATE TABLE IF NOT EXISTS {{table "sample_gpus"}}{{onCluster}} (
    hour     DateTime,
    gpu_uuid {{lc "String"}},
    batch_id UInt64
) ENGINE = {{engine "sample_gpus" "ReplacingMergeTree"}}
PARTITION BY (toYYYYMM(hour), batch_id)
ORDER BY (hour, gpu_uuid){{ttl "hour"}};
{{distributed "sample_gpus" "cityHash64(gpu_uuid)"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table "sample_gpus_mv"}}{{onCluster}} TO {{table "sample_gpus"}}
AS SELECT DISTINCT toStartOfHour(ts) AS hour, gpu_uuid, batch_id FROM {{table "samples"}};

-- The samples stored before: a row twice (inserted meanwhile) is one row
-- once merged, and counts once anyway.
INSERT INTO {{ref "sample_gpus"}} (hour, gpu_uuid, batch_id)
SELECT DISTINCT toStartOfHour(ts), gpu_uuid, batch_id FROM {{ref "samples"}};
