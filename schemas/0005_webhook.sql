-- Idle flags delivered to the portal's webhook: a flag (its id names the GPU,
-- kind and start of the idle stretch) is sent once.
CREATE TABLE IF NOT EXISTS {{table "webhook_sent"}}{{onCluster}} (
    flag_id String,
    sent_at DateTime
) ENGINE = {{engine "webhook_sent" "MergeTree"}}
ORDER BY flag_id;
{{distributed "webhook_sent" "cityHash64(flag_id)"}}
