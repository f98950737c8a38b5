-- Codecs that fit each metric's series, measured on the simulated fleet
-- (make bench): a counter that grows steadily (energy) compresses best as the
-- change of its change; readings that drift (power, activity ratios) as the
-- change from the last; utilisation, a few levels held for minutes, with
-- Gorilla; memory, constant while a job runs, plain. Each is lossless; merges
-- rewrite the older parts with them.
{{if codecs}}
ALTER TABLE {{table "samples"}}{{onCluster}}
    MODIFY COLUMN energy_mj Nullable(UInt64) CODEC(DoubleDelta, ZSTD(1)),
    MODIFY COLUMN power_w Nullable(Float32) CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN gr_engine_active Nullable(Float32) CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN sm_active Nullable(Float32) CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN gpu_util Nullable(Float32) CODEC(Gorilla, ZSTD(1));
{{end}}
