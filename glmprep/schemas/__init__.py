"""glmprep.schemas: the shard format (Arrow schema + metadata), its writer and reader."""
from glmprep.schemas.shard import (  # noqa: F401
    FORMAT_VERSION, OBJECTIVES, ShardFormatError, ShardMetadata, ShardReader,
    shard_schema, write_shard,
)
