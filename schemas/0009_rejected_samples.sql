-- Samples refused by ownership (SPEC §9): a provider's push or a target
-- listed for a provider held a GPU of another provider's inventory, or of
-- none. They are never stored; their counts are, per hour of the samples,
-- provider, source (scrape, remote_write) and reason, for the report's data
-- quality.
CREATE TABLE IF NOT EXISTS {{table "rejected_samples"}}{{onCluster}} (
    hour     DateTime,
    provider {{lc "String"}},
    source   {{lc "String"}},
    reason   {{lc "String"}},
    samples  UInt64
) ENGINE = {{engine "rejected_samples" "MergeTree"}}
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, provider, source, reason);
{{distributed "rejected_samples" "rand()"}}
