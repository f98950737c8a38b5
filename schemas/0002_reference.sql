-- Inventory, projects and allocations as imported (SPEC §3.1–3.3). Every import
-- appends; the *_current views pick, for each key, the rows of the latest
-- committed import that carried that key, so a later import replaces earlier
-- rows of the same keys without a mutation.
CREATE TABLE IF NOT EXISTS {{table "inventory"}}{{onCluster}} (
    batch_id   UInt64,
    gpu_uuid   String,
    provider   {{lc "String"}},
    site       {{lc "String"}},
    node       String,
    gpu_index  UInt16,
    model      {{lc "String"}},
    share      {{lc "String"}},
    valid_from DateTime,
    valid_to   Nullable(DateTime)
) ENGINE = {{engine "inventory" "MergeTree"}}
ORDER BY (gpu_uuid, valid_from, batch_id);
{{distributed "inventory" "cityHash64(gpu_uuid)"}}

CREATE TABLE IF NOT EXISTS {{table "projects"}}{{onCluster}} (
    batch_id   UInt64,
    project_id String,
    name       String,
    kind       {{lc "String"}},
    provider   {{lc "String"}},
    namespace  String
) ENGINE = {{engine "projects" "MergeTree"}}
ORDER BY (project_id, batch_id);
{{distributed "projects" "cityHash64(project_id)"}}

CREATE TABLE IF NOT EXISTS {{table "allocations"}}{{onCluster}} (
    batch_id      UInt64,
    allocation_id String,
    project_id    String,
    gpu_uuid      String,
    node          String,
    start_ts      DateTime,
    end_ts        Nullable(DateTime)
) ENGINE = {{engine "allocations" "MergeTree"}}
ORDER BY (allocation_id, batch_id);
{{distributed "allocations" "cityHash64(allocation_id)"}}

CREATE VIEW IF NOT EXISTS {{ref "inventory_current"}}{{onCluster}} AS
SELECT gpu_uuid, provider, site, node, gpu_index, model, share, valid_from, valid_to, batch_id
FROM {{ref "inventory"}}
WHERE (gpu_uuid, batch_id) {{in}} (
    SELECT gpu_uuid, max(batch_id) FROM {{ref "inventory"}}
    WHERE batch_id {{in}} (SELECT batch_id FROM {{ref "imports"}} WHERE kind = 'inventory')
    GROUP BY gpu_uuid);

CREATE VIEW IF NOT EXISTS {{ref "projects_current"}}{{onCluster}} AS
SELECT project_id, name, kind, provider, namespace, batch_id
FROM {{ref "projects"}}
WHERE (project_id, batch_id) {{in}} (
    SELECT project_id, max(batch_id) FROM {{ref "projects"}}
    WHERE batch_id {{in}} (SELECT batch_id FROM {{ref "imports"}} WHERE kind = 'projects')
    GROUP BY project_id);

CREATE VIEW IF NOT EXISTS {{ref "allocations_current"}}{{onCluster}} AS
SELECT allocation_id, project_id, gpu_uuid, node, start_ts, end_ts, batch_id
FROM {{ref "allocations"}}
WHERE (allocation_id, batch_id) {{in}} (
    SELECT allocation_id, max(batch_id) FROM {{ref "allocations"}}
    WHERE batch_id {{in}} (SELECT batch_id FROM {{ref "imports"}} WHERE kind = 'allocations')
    GROUP BY allocation_id);
