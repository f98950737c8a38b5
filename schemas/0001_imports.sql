-- One row per committed import. Rows of inventory, projects and allocations
-- carry the batch_id of the import that wrote them and count only once that
-- import's row is here: an import that fails halfway leaves nothing visible.
CREATE TABLE IF NOT EXISTS {{table "imports"}}{{onCluster}} (
    batch_id    UInt64,
    kind        {{lc "String"}},
    file        String,
    sha256      String,
    rows        UInt64,
    imported_at DateTime
) ENGINE = {{engine "imports" "MergeTree"}}
ORDER BY (kind, batch_id);
{{distributed "imports" "rand()"}}
