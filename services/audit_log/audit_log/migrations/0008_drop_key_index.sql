-- No query looks entries up by their data key: a payload is opened from the key ids of the rows
-- already read (shredding.Keys.open_payloads reads subject_keys by id), and erasure and retention
-- delete keys, never entries. The index only cost one B-tree insertion per appended leaf.
DROP INDEX log_entries_key;
