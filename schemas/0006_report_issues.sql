-- Every report issued, as JSON, so that a re-issue can say which figures
-- changed since the previous issue of the same month and provider.
CREATE TABLE IF NOT EXISTS {{table "report_issues"}}{{onCluster}} (
    month         String,
    provider      String,
    issued_at     DateTime,
    inputs_sha256 String,
    body          String{{codec "ZSTD(3)"}}
) ENGINE = {{engine "report_issues" "MergeTree"}}
ORDER BY (month, provider, issued_at);
{{distributed "report_issues" "cityHash64(month)"}}
