"""How samples are kept: series identity and labels, the chunk encoding, the write and read paths.

Samples live in chunks (one row per series per slice of a time block) so that a sample costs a
few bytes instead of a ~94-byte row; compaction merges the small chunks that ingestion writes.
"""
